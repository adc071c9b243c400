import { createHash } from 'node:crypto';
import { parse as parseYaml } from 'yaml';
import { nestingProblem } from '../nesting';
import type { Artifact, EnvironmentFile } from '../artifact/schema';
import type { ChartStore } from './charts';
import { helmTemplate } from './helm';
import { applyPatches, type Json6902 } from './kustomize';
import { type ManifestDoc, manifestFiles, parseManifests } from './manifests';
import { renderTemplate, renderTemplateDeep } from './template';
import { RenderError } from './tools';

export { RenderError } from './tools';

export interface RenderedRelease {
  /** Path inside `<env>/<app>/` → content. */
  files: Record<string, string>;
  /** sha256 over paths and contents: equal digests mean byte-identical output. */
  digest: string;
}

/** What rendering needs besides the artifact: the tools, and what Ferry itself keeps per environment. */
export interface RenderOptions {
  /** The app name of the release when it is not the file's (previews: `<app>-<branch>`). */
  app?: string;
  /** Per-environment variables kept by Ferry; they override CI variables, never the built-in ones. */
  envVars?: Record<string, string>;
  helm?: string;
  kustomize?: string;
  charts?: ChartStore;
  /** false refuses cluster-scoped kinds such as Namespace or ClusterRole (FERRY_ALLOW_CLUSTER_SCOPED). */
  allowClusterScoped?: boolean;
}

/**
 * Variables every environment file can use, plus each CI variable of the artifact and each variable Ferry keeps
 * for the environment (neither can shadow these).
 */
export function releaseVariables(artifact: Artifact, envFile: EnvironmentFile, opts: Pick<RenderOptions, 'app' | 'envVars'> = {}): Record<string, string> {
  const v = artifact.version;
  return {
    ...artifact.vars,
    ...opts.envVars,
    SHA: v.sha,
    BRANCH: v.branch ?? '',
    TAG: v.tag ?? '',
    EVENT: v.event,
    APP: opts.app ?? envFile.app,
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
 * Renders one app's environment file into the files of `<env>/<app>/`: the Helm chart (real `helm template`), then
 * its strategic-merge and JSON 6902 patches (real kustomize), then the raw manifests; one resource per file.
 * Deterministic: the same artifact, environment file and chart always give byte-identical files, so re-releasing
 * an unchanged artifact commits nothing. Patches apply to the chart's output, or to the raw manifests when the
 * file has no chart.
 */
export async function renderEnvironment(artifact: Artifact, envFile: EnvironmentFile, opts: RenderOptions = {}): Promise<RenderedRelease> {
  const vars = releaseVariables(artifact, envFile, opts);
  const app = opts.app ?? envFile.app;
  const source = `environment file ${envFile.env}/${envFile.app}`;

  let chartDocs: ManifestDoc[] = [];
  let chartRef: Record<string, string> | undefined;
  if (envFile.chart) {
    const { chart, values } = renderTemplateDeep({ chart: envFile.chart, values: envFile.values ?? {} }, vars, { file: source });
    if (!opts.charts) throw new RenderError(`${source}: chart: charts cannot be rendered on this server (no chart store)`);
    const resolved = await opts.charts.resolve(chart, source);
    chartRef = resolved.ref;
    if (!opts.helm) throw new RenderError(`${source}: chart: helm is not available on this server (set HELM_BIN or run npm run tools)`);
    const text = await helmTemplate({ helm: opts.helm, env: opts.charts.helmEnv(), chartDir: resolved.dir, releaseName: app, namespace: envFile.namespace, values, source });
    chartDocs = parseManifests(text, { source: `${source} (chart output)` });
  } else if (envFile.values !== undefined) {
    throw new RenderError(`${source}: values: values are for a chart, and this file has none`);
  }

  let rawDocs = parseManifests(renderTemplate(envFile.manifests ?? '', vars, { file: `${source} (manifests)` }), { source: `${source} (manifests)` });

  const strategicMerge = envFile.strategicMergePatches
    ? parseManifests(renderTemplate(envFile.strategicMergePatches, vars, { file: `${source} (strategicMergePatches)` }), { source: `${source} (strategicMergePatches)` })
    : [];
  const json6902 = json6902Patches(envFile, vars, source);
  if (strategicMerge.length > 0 || json6902.length > 0) {
    if (!opts.kustomize) throw new RenderError(`${source}: patches need kustomize, which is not available on this server (set KUSTOMIZE_BIN or run npm run tools)`);
    const target = envFile.chart ? chartDocs : rawDocs;
    if (target.length === 0) throw new RenderError(`${source}: strategicMergePatches/json6902Patches: there are no resources to patch`);
    const patched = await applyPatches({ kustomize: opts.kustomize, docs: target, strategicMerge, json6902, source });
    if (envFile.chart) chartDocs = patched;
    else rawDocs = patched;
  }

  const docs = [...chartDocs, ...rawDocs];
  if (docs.length === 0) throw new RenderError(`${source}: manifests: no Kubernetes resources to release`);
  for (const doc of docs) {
    const meta = (doc as { kind: string; metadata: Record<string, unknown> }).metadata;
    const kind = (doc as { kind: string }).kind;
    if (opts.allowClusterScoped === false && CLUSTER_SCOPED.has(kind)) {
      throw new RenderError(`${source}: manifests: ${kind} "${String(meta.name)}" is cluster-scoped, which this Ferry does not release (FERRY_ALLOW_CLUSTER_SCOPED=false)`);
    }
    if (!CLUSTER_SCOPED.has(kind) && (meta.namespace === undefined || meta.namespace === null)) meta.namespace = envFile.namespace;
  }
  const files = manifestFiles(docs);
  files['release.json'] = releaseMetadata(artifact, envFile, app, chartRef);
  return { files, digest: digestFiles(files) };
}

/** Each JSON 6902 patch with its variables substituted and its operations parsed, in the file's order. */
function json6902Patches(envFile: EnvironmentFile, vars: Record<string, string>, source: string): Json6902[] {
  if (!envFile.json6902Patches?.length) return [];
  const { json6902Patches: patches } = renderTemplateDeep({ json6902Patches: envFile.json6902Patches }, vars, { file: source });
  return patches.map((p, i) => {
    let operations: unknown = p.patch;
    if (typeof p.patch === 'string') {
      try {
        operations = parseYaml(p.patch, { maxAliasCount: 100 });
      } catch (err) {
        throw new RenderError(`${source}: json6902Patches[${i}].patch: invalid YAML: ${(err as Error).message.split('\n')[0]}`);
      }
      const nesting = nestingProblem(operations);
      if (nesting) throw new RenderError(`${source}: json6902Patches[${i}].patch: ${nesting}`);
    }
    const ops = operations as Array<Record<string, unknown>>;
    if (!Array.isArray(ops) || ops.length === 0 || !ops.every((o) => o && typeof o === 'object' && typeof o.op === 'string' && typeof o.path === 'string')) {
      throw new RenderError(`${source}: json6902Patches[${i}].patch: must be a list of operations, each with "op" and "path"`);
    }
    return { target: p.target, operations: ops };
  });
}

/** What runs here, by artifact: nothing release-specific (ids, times) so an identical re-release is a no-op. */
function releaseMetadata(artifact: Artifact, envFile: EnvironmentFile, app: string, chart: Record<string, string> | undefined): string {
  const v = artifact.version;
  const meta = {
    app,
    env: envFile.env,
    namespace: envFile.namespace,
    artifactId: artifact.id,
    version: {
      repositoryName: v.repositoryName, sha: v.sha, branch: v.branch, event: v.event, tag: v.tag, url: v.url,
      message: v.message, authorName: v.authorName, authorEmail: v.authorEmail, committerName: v.committerName,
      committerEmail: v.committerEmail, created: v.created,
    },
    items: artifact.items,
    ...(chart ? { chart } : {}),
  };
  return `${JSON.stringify(meta, null, 2)}\n`;
}

export function digestFiles(files: Record<string, string>): string {
  const h = createHash('sha256');
  for (const name of Object.keys(files).sort()) h.update(name).update('\0').update(files[name]).update('\0');
  return h.digest('hex');
}
