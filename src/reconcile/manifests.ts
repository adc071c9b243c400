import { createHash } from 'node:crypto';
import YAML from 'yaml';
import { FERRY_ENV_ANNOTATION } from '../flux/attribution';
import { FLUX_DIR, type FluxKustomizationConfig } from '../flux/kustomization';
import type { SecretRef } from './config';

/** The cluster name of the single-secret setup (FERRY_FLUX_WEBHOOK_SECRET, no `clusters` entry). */
export const DEFAULT_CLUSTER = 'default';

/** One environment this cluster applies, and its per-app Kustomization settings when it uses that layout. */
export interface EnvSetup {
  env: string;
  perApp?: FluxKustomizationConfig;
  /** The environment's own GitRepository, when it has a repository or branch of its own (src/gitops/flux-sources.ts). */
  source?: { kind: 'GitRepository'; name: string; namespace: string };
}

/** `ferry-<env>`, cut to 63 characters with a hash of the env when longer, so it stays a valid, distinct name. */
export function envKustomizationName(env: string): string {
  const full = `ferry-${env}`;
  if (full.length <= 63) return full;
  return `${full.slice(0, 54).replace(/-+$/, '')}-${createHash('sha256').update(env).digest('hex').slice(0, 8)}`;
}

/**
 * What a cluster needs to report to Ferry: a Secret, a `generic-hmac` Provider, an Alert, and per environment a
 * Kustomization applying it and naming it in every event (`event.toolkit.fluxcd.io/ferry.env`, see
 * src/flux/attribution.ts): without that an event cannot say which environment it is about, and it settles nothing.
 *
 * The Secret never carries the real webhook secret: it prints a placeholder naming where the value lives.
 * `cluster: default` is the single-secret setup: events go to `/api/flux/events`, signed with
 * FERRY_FLUX_WEBHOOK_SECRET, and carry no cluster name.
 */
export function fluxSetupManifests(opts: {
  cluster: string;
  /** The webhook secret's reference; undefined for the single-secret setup. */
  webhookSecret?: SecretRef;
  publicUrl: string;
  namespace?: string;
  envs: EnvSetup[];
}): string {
  const ns = opts.namespace ?? 'flux-system';
  const single = opts.webhookSecret === undefined;
  const ref = opts.webhookSecret;
  const placeholder = ref === undefined
    ? '<value of FERRY_FLUX_WEBHOOK_SECRET on the Ferry server>'
    : typeof ref === 'string'
      ? `<the webhookSecret of cluster ${opts.cluster} in Ferry's FERRY_CONFIG>`
      : `<value of ${ref.env} on the Ferry server>`;
  const base = opts.publicUrl.replace(/\/$/, '');
  const secretName = 'ferry-webhook';
  // notification-controller reads an event source without `namespace` as the Alert's own namespace, so per-app
  // Kustomizations elsewhere need entries of their own.
  const namespaces = [...new Set([ns, ...opts.envs.flatMap((e) => (e.perApp ? [e.perApp.namespace] : []))])].sort();
  const docs: unknown[] = [
    {
      apiVersion: 'v1', kind: 'Secret',
      metadata: { name: secretName, namespace: ns },
      type: 'Opaque',
      stringData: { token: placeholder },
    },
    {
      apiVersion: 'notification.toolkit.fluxcd.io/v1beta3', kind: 'Provider',
      metadata: { name: 'ferry', namespace: ns },
      spec: { type: 'generic-hmac', address: single ? `${base}/api/flux/events` : `${base}/api/flux/events/${opts.cluster}`, secretRef: { name: secretName } },
    },
    {
      apiVersion: 'notification.toolkit.fluxcd.io/v1beta3', kind: 'Alert',
      metadata: { name: 'ferry', namespace: ns },
      spec: {
        providerRef: { name: 'ferry' },
        // info delivers info and error events; Ferry needs both.
        eventSeverity: 'info',
        eventSources: [
          ...namespaces.map((n) => ({ kind: 'Kustomization', name: '*', namespace: n })),
          { kind: 'GitRepository', name: '*', namespace: ns },
        ],
        // Flux's payload has no cluster identity; this puts it into every event's metadata.
        ...(single ? {} : { eventMetadata: { cluster: opts.cluster } }),
      },
    },
    ...opts.envs.map((e) => envKustomization(e, ns)),
  ];
  return header(opts.cluster, opts.envs) + docs.map((d) => YAML.stringify(d)).join('---\n');
}

/** The Kustomization applying `./<env>` (`./<env>/flux` with per-app Kustomizations), annotated with the env. */
function envKustomization(e: EnvSetup, ns: string): unknown {
  const source = e.source ?? e.perApp?.sourceRef ?? { kind: 'GitRepository', name: 'flux-system', namespace: 'flux-system' };
  return {
    apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
    kind: 'Kustomization',
    metadata: {
      name: envKustomizationName(e.env),
      namespace: ns,
      labels: { 'app.kubernetes.io/managed-by': 'ferry' },
      annotations: { [FERRY_ENV_ANNOTATION]: e.env },
    },
    spec: {
      interval: '10m',
      path: e.perApp ? `./${e.env}/${FLUX_DIR}` : `./${e.env}`,
      prune: true,
      sourceRef: { kind: source.kind, name: source.name, namespace: source.namespace },
    },
  };
}

/** Comments, not objects: what to adjust by hand when the cluster already has its own Kustomizations. */
function header(cluster: string, envs: EnvSetup[]): string {
  const lines = [`Ferry setup for cluster ${cluster}.`];
  if (envs.length === 0) {
    lines.push(
      'No environment is known for this cluster, so no Kustomization follows and no event can settle a release.',
      'Name them: GET /api/flux/manifests/<cluster>?env=staging,prod (ferry flux setup <cluster> --env staging,prod).',
    );
  } else {
    lines.push(
      `One Kustomization per environment (${envs.map((e) => e.env).join(', ')}) applies it and names it in its events.`,
      `Events without ${FERRY_ENV_ANNOTATION} settle no release. If a Kustomization of yours already`,
      'applies an environment, put that annotation on it instead of applying the one below.',
    );
    const perApp = envs.filter((e) => e.perApp);
    if (perApp.length) lines.push(`Per-app Kustomizations (<env>/${FLUX_DIR}/<app>.yaml) carry it themselves; their root applies ./<env>/${FLUX_DIR}:`, ...perApp.map((e) => `  ${e.env}: spec.path: ./${e.env}/${FLUX_DIR}`));
  }
  return lines.map((l) => `# ${l}`.trimEnd()).join('\n') + '\n';
}
