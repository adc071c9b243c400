import { createHash } from 'node:crypto';
import type { Artifact, EnvironmentFile } from '../artifact/schema';
import { manifestFiles, parseManifests } from './manifests';
import { renderTemplate } from './template';

export interface RenderedRelease {
  /** Path inside `<env>/<app>/` → content. */
  files: Record<string, string>;
  /** sha256 over paths and contents: equal digests mean byte-identical output. */
  digest: string;
}

export class RenderError extends Error {}

/** Variables every environment file can use, plus each CI variable of the artifact (which cannot shadow these). */
export function releaseVariables(artifact: Artifact, envFile: EnvironmentFile): Record<string, string> {
  const v = artifact.version;
  return {
    ...artifact.vars,
    SHA: v.sha,
    BRANCH: v.branch ?? '',
    TAG: v.tag ?? '',
    EVENT: v.event,
    APP: envFile.app,
    ENV: envFile.env,
    NAMESPACE: envFile.namespace,
    REPO: v.repositoryName,
    ARTIFACT_ID: artifact.id,
  };
}

// Kinds that live outside namespaces; every other resource is put into the environment file's namespace.
const CLUSTER_SCOPED = new Set([
  'Namespace', 'ClusterRole', 'ClusterRoleBinding', 'CustomResourceDefinition', 'PersistentVolume', 'StorageClass',
  'PriorityClass', 'MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration', 'APIService', 'IngressClass',
  'RuntimeClass', 'CSIDriver', 'Node',
]);

/**
 * Renders one app's environment file into the files of `<env>/<app>/`. Deterministic: the same artifact and
 * environment file always give byte-identical files, so re-releasing an unchanged artifact commits nothing.
 */
export function renderEnvironment(artifact: Artifact, envFile: EnvironmentFile, opts: { allowClusterScoped?: boolean } = {}): RenderedRelease {
  const vars = releaseVariables(artifact, envFile);
  const source = `environment file ${envFile.env}/${envFile.app}`;
  const text = renderTemplate(envFile.manifests ?? '', vars, { file: `${source} (manifests)` });
  const docs = parseManifests(text, { source });
  if (docs.length === 0) throw new RenderError(`${source}: manifests: no Kubernetes resources to release`);
  for (const doc of docs) {
    const meta = (doc as { kind: string; metadata: Record<string, unknown> }).metadata;
    const kind = (doc as { kind: string }).kind;
    if (opts.allowClusterScoped === false && CLUSTER_SCOPED.has(kind)) {
      throw new RenderError(`${source}: manifests: ${kind} "${String(meta.name)}" is cluster-scoped, which this Ferry does not release (FERRY_ALLOW_CLUSTER_SCOPED=false)`);
    }
    if (!CLUSTER_SCOPED.has((doc as { kind: string }).kind) && meta.namespace === undefined) meta.namespace = envFile.namespace;
  }
  const files = manifestFiles(docs);
  files['release.json'] = releaseMetadata(artifact, envFile);
  return { files, digest: digestFiles(files) };
}

/** What runs here, by artifact: nothing release-specific (ids, times) so an identical re-release is a no-op. */
function releaseMetadata(artifact: Artifact, envFile: EnvironmentFile): string {
  const v = artifact.version;
  const meta = {
    app: envFile.app,
    env: envFile.env,
    namespace: envFile.namespace,
    artifactId: artifact.id,
    version: {
      repositoryName: v.repositoryName, sha: v.sha, branch: v.branch, event: v.event, tag: v.tag, url: v.url,
      message: v.message, authorName: v.authorName, authorEmail: v.authorEmail, committerName: v.committerName,
      committerEmail: v.committerEmail, created: v.created,
    },
    items: artifact.items,
  };
  return `${JSON.stringify(meta, null, 2)}\n`;
}

export function digestFiles(files: Record<string, string>): string {
  const h = createHash('sha256');
  for (const name of Object.keys(files).sort()) h.update(name).update('\0').update(files[name]).update('\0');
  return h.digest('hex');
}
