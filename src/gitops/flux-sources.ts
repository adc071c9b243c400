/**
 * The Flux objects an environment with a repository or branch of its own needs on its clusters: a `GitRepository`
 * tracking that repository and branch, and a `Kustomization` applying `./<env>` from it (`./<env>/flux` with
 * per-app Kustomizations). Environments in the default repository and branch need nothing: `flux bootstrap`'s
 * `flux-system` source already tracks it. Printed by `GET /api/flux/manifests/:cluster` (`ferry flux setup`).
 *
 * Why one GitRepository per environment branch: a Flux source tracks exactly one ref, and an environment's events
 * must name its branch (`env/staging@sha1:…`) for Ferry to attribute them (src/flux/event-branch.ts).
 */
import YAML from 'yaml';
import { NAME_RE } from '../names';
import { envKustomizationName } from '../reconcile/manifests';
import { type RepoLayout, targetForEnv } from './repos';

/** Names of the Ferry-managed source and Kustomization of an environment: `ferry-<env>`. */
export function envSourceName(env: string): string {
  return envKustomizationName(env);
}

/**
 * The URL a cluster can clone `remote` from, without credentials (user names of ssh URLs stay: they are not
 * secret and ssh needs them), or null when it is a path on Ferry's machine the cluster cannot reach.
 */
export function clusterCloneUrl(remote: string): string | null {
  if (/^(https?|ssh):\/\//i.test(remote)) {
    let u: URL;
    try {
      u = new URL(remote);
    } catch {
      return null;
    }
    if (u.protocol !== 'ssh:') u.username = '';
    u.password = '';
    u.search = '';
    u.hash = '';
    return u.toString();
  }
  // scp-like `user@host:path`; Flux takes only the ssh:// form
  const scp = /^(?:([^@/:\s]+)@)?([^@/:\s]+):(?!\/\/)(.+)$/.exec(remote);
  if (scp && !/^[a-z][a-z0-9+.-]*:\/\//i.test(remote)) {
    const [, user, host, p] = scp;
    return `ssh://${user ? `${user}@` : ''}${host}/${p!.replace(/^\/+/, '')}`;
  }
  return null;
}

/**
 * Environments whose repository or branch differs from the default: those named in FERRY_CONFIG and those only
 * named by FERRY_GITOPS_REPO_<ENV> / FERRY_GITOPS_BRANCH_<ENV> (the key read back: lower-case, `_` → `-`).
 */
export function envsWithOwnSource(layout: RepoLayout, configured: string[]): string[] {
  const fromVars = [...Object.keys(layout.byEnv), ...Object.keys(layout.branchByEnv ?? {})].map((k) => k.toLowerCase().replace(/_/g, '-'));
  return [...new Set([...configured, ...fromVars])]
    .filter((env) => {
      if (!NAME_RE.test(env)) return false;
      const t = targetForEnv(layout, env);
      return t.remote !== layout.defaultRemote || t.branch !== layout.defaultBranch;
    })
    .sort();
}

export function envSourceManifests(opts: {
  layout: RepoLayout;
  envs: string[];
  /** Environments writing per-app Kustomizations (their root applies `./<env>/flux`). */
  perAppEnvs?: string[];
  namespace?: string;
  /** Only the GitRepositories: the setup's own annotated Kustomizations (src/reconcile/manifests.ts) apply them. */
  sourcesOnly?: boolean;
}): string {
  if (opts.envs.length === 0) return '';
  const ns = opts.namespace ?? 'flux-system';
  const perApp = new Set(opts.perAppEnvs ?? []);
  const notes = [
    'Environments with a repository or branch of their own: one GitRepository and one Kustomization each.',
    'The secretRef is the one `flux bootstrap` creates; point it at the credentials this repository needs.',
    "Keep these environments' directories out of the flux-system Kustomization's path, or they apply twice.",
  ];
  const docs: object[] = [];
  for (const env of opts.envs) {
    const t = targetForEnv(opts.layout, env);
    const url = clusterCloneUrl(t.remote);
    if (!url) notes.push(`${env}: its repository is a path on Ferry's machine; replace the url placeholder with one the cluster can clone.`);
    if (perApp.has(env)) notes.push(`${env}: per-app Kustomizations must name this source: fluxKustomization.sourceRef.name: ${envSourceName(env)}`);
    const name = envSourceName(env);
    docs.push({
      apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'GitRepository',
      metadata: { name, namespace: ns },
      spec: { interval: '1m', url: url ?? `<URL the cluster clones the ${env} repository from>`, ref: { branch: t.branch }, secretRef: { name: 'flux-system' } },
    });
    if (!opts.sourcesOnly) {
      docs.push({
        apiVersion: 'kustomize.toolkit.fluxcd.io/v1', kind: 'Kustomization',
        metadata: { name, namespace: ns },
        spec: { interval: '10m', sourceRef: { kind: 'GitRepository', name }, path: perApp.has(env) ? `./${env}/flux` : `./${env}`, prune: true },
      });
    }
  }
  return notes.map((l) => `# ${l}`).join('\n') + '\n' + docs.map((d) => YAML.stringify(d)).join('---\n');
}
