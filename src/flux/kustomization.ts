/**
 * The optional per-app Flux layout (issue 5): next to `<env>/<app>/`, each release commit also writes
 * `<env>/flux/<app>.yaml`, a `kustomize.toolkit.fluxcd.io/v1` Kustomization that applies `./<env>/<app>`. The
 * cluster's root Kustomization then applies `./<env>/flux` (the Kustomization objects) instead of `./<env>`, and
 * each app gets its own reconciliation, health, events and failure scope.
 *
 * Switched on per environment in FERRY_CONFIG (`environments.<env>.fluxKustomization`). The file's bytes depend only
 * on env, app and that config, never on the release, so releasing the same manifests again commits nothing.
 */
import { createHash } from 'node:crypto';
import YAML from 'yaml';
import { z } from 'zod';
import { NAME_RE, NAME_RULE } from '../names';
import { FERRY_ENV_ANNOTATION } from './attribution';

/** The directory of `<env>/` holding the Kustomizations; an app of this name cannot exist in such an environment. */
export const FLUX_DIR = 'flux';

const GoDuration = z.string().regex(/^(\d+(\.\d+)?(ms|s|m|h))+$/, 'must be a Go duration such as 30s, 10m or 1h30m');
const ObjectName = z
  .string()
  .max(253)
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/, 'must be a Kubernetes object name (lower-case DNS-1123 subdomain)');
const Namespace = z.string().regex(NAME_RE, `namespace ${NAME_RULE}`);

const DEFAULT_SOURCE = { kind: 'GitRepository' as const, name: 'flux-system', namespace: 'flux-system' };

const Settings = z.strictObject({
  /** Writing the key opts in; `enabled: false` switches the layout off while keeping the settings. */
  enabled: z.boolean().default(true),
  /** Where the Kustomization objects live (the root Kustomization applies them there). */
  namespace: Namespace.default('flux-system'),
  sourceRef: z
    .strictObject({
      kind: z.enum(['GitRepository', 'OCIRepository', 'Bucket']).default('GitRepository'),
      name: ObjectName.default('flux-system'),
      namespace: Namespace.default('flux-system'),
    })
    .default(DEFAULT_SOURCE),
  interval: GoDuration.default('10m'),
  retryInterval: GoDuration.optional(),
  timeout: GoDuration.optional(),
  /** Without prune, removing an app (preview cleanup) would leave its resources running. */
  prune: z.boolean().default(true),
  /** Health-check what was applied: failures then arrive as HealthCheckFailed (`unhealthy`). */
  wait: z.boolean().default(false),
  serviceAccountName: ObjectName.optional(),
  dependsOn: z.array(z.strictObject({ name: ObjectName, namespace: Namespace.optional() })).max(50).default([]),
});

/** `true` is short for `{}` (all defaults), `false` for `{enabled: false}`. */
export const FluxKustomizationSchema = z.preprocess((v) => (v === true ? {} : v === false ? { enabled: false } : v), Settings);
export type FluxKustomizationConfig = z.infer<typeof Settings>;

/** `<env>/flux/<app>.yaml` */
export function fluxKustomizationPath(env: string, app: string): string {
  return `${env}/${FLUX_DIR}/${app}.yaml`;
}

/**
 * `<env>-<app>`: environments sharing a cluster (and namespace) get distinct objects. Env and app are DNS labels
 * themselves, so the joined name is one too; beyond 63 characters it is cut and ends in a hash of env and app, so
 * it stays valid, stable and distinct.
 */
export function fluxKustomizationName(env: string, app: string): string {
  const full = `${env}-${app}`;
  if (full.length <= 63) return full;
  const hash = createHash('sha256').update(`${env}/${app}`).digest('hex').slice(0, 8);
  return `${full.slice(0, 54).replace(/-+$/, '')}-${hash}`;
}

/** Why `app` cannot be released to an environment using this layout, or null. */
export function fluxLayoutRefusal(env: string, app: string): string | null {
  if (app === FLUX_DIR) return `app "${app}" cannot be released to ${env}: ${env}/${FLUX_DIR}/ holds the per-app Flux Kustomizations there (fluxKustomization)`;
  const name = fluxKustomizationName(env, app);
  return NAME_RE.test(name) ? null : `Kustomization name "${name}" ${NAME_RULE}`;
}

/** The Kustomization's YAML: fixed key order, no release data, so equal inputs give equal bytes. */
export function renderFluxKustomization(env: string, app: string, cfg: FluxKustomizationConfig): string {
  const spec: Record<string, unknown> = {
    interval: cfg.interval,
    ...(cfg.retryInterval ? { retryInterval: cfg.retryInterval } : {}),
    ...(cfg.timeout ? { timeout: cfg.timeout } : {}),
    ...(cfg.dependsOn.length ? { dependsOn: cfg.dependsOn.map((d) => ({ name: d.name, ...(d.namespace ? { namespace: d.namespace } : {}) })) } : {}),
    path: `./${env}/${app}`,
    prune: cfg.prune,
    wait: cfg.wait,
    ...(cfg.serviceAccountName ? { serviceAccountName: cfg.serviceAccountName } : {}),
    sourceRef: { kind: cfg.sourceRef.kind, name: cfg.sourceRef.name, namespace: cfg.sourceRef.namespace },
  };
  const doc = {
    apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
    kind: 'Kustomization',
    metadata: {
      name: fluxKustomizationName(env, app),
      namespace: cfg.namespace,
      labels: { 'app.kubernetes.io/managed-by': 'ferry' },
      // Every event of this Kustomization then names its environment (src/flux/attribution.ts).
      annotations: { [FERRY_ENV_ANNOTATION]: env },
    },
    spec,
  };
  return `# Written by Ferry for ${env}/${app}; edits are overwritten by the next release.\n${YAML.stringify(doc)}`;
}

/** The environment's layout settings when it is switched on, else undefined. */
export function enabledFluxKustomization(cfg: FluxKustomizationConfig | undefined): FluxKustomizationConfig | undefined {
  return cfg?.enabled ? cfg : undefined;
}

/** The Kustomization that applies `app` in `env`, when the environment uses the per-app layout. */
export function appKustomizationRef(cfg: FluxKustomizationConfig | undefined, env: string, app: string): { namespace: string; name: string } | undefined {
  const on = enabledFluxKustomization(cfg);
  return on ? { namespace: on.namespace, name: fluxKustomizationName(env, app) } : undefined;
}
