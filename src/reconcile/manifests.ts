import YAML from 'yaml';
import type { ClusterConfig } from './config';

/**
 * The Provider, Alert and Secret a cluster needs to report to Ferry. The Secret never carries the real webhook
 * secret: the API cannot yet tell an admin from any other token holder (roles are another issue), so it prints a
 * placeholder naming where the value lives (the environment variable of the config's `{ env: … }` reference).
 */
export function fluxSetupManifests(opts: {
  cluster: string;
  config: ClusterConfig;
  publicUrl: string;
  namespace?: string;
  /** Environments on this cluster that write a Flux Kustomization per app (FERRY_CONFIG `fluxKustomization`). */
  perAppEnvs?: string[];
}): string {
  const ns = opts.namespace ?? 'flux-system';
  const ref = opts.config.webhookSecret;
  const placeholder = typeof ref === 'string'
    ? `<the webhookSecret of cluster ${opts.cluster} in Ferry's reconcile config>`
    : `<value of ${ref.env} on the Ferry server>`;
  const secretName = 'ferry-webhook';
  const docs = [
    {
      apiVersion: 'v1', kind: 'Secret',
      metadata: { name: secretName, namespace: ns },
      type: 'Opaque',
      stringData: { token: placeholder },
    },
    {
      apiVersion: 'notification.toolkit.fluxcd.io/v1beta3', kind: 'Provider',
      metadata: { name: 'ferry', namespace: ns },
      spec: { type: 'generic-hmac', address: `${opts.publicUrl.replace(/\/$/, '')}/api/flux/events/${opts.cluster}`, secretRef: { name: secretName } },
    },
    {
      apiVersion: 'notification.toolkit.fluxcd.io/v1beta3', kind: 'Alert',
      metadata: { name: 'ferry', namespace: ns },
      spec: {
        providerRef: { name: 'ferry' },
        // info delivers info and error events; Ferry needs both.
        eventSeverity: 'info',
        eventSources: [{ kind: 'Kustomization', name: '*' }, { kind: 'GitRepository', name: '*' }],
        // Flux's payload has no cluster identity; this puts it into every event's metadata.
        eventMetadata: { cluster: opts.cluster },
      },
    },
  ];
  return perAppLayoutNote(opts.perAppEnvs ?? []) + docs.map((d) => YAML.stringify(d)).join('---\n');
}

/**
 * Comments, not objects: the root Kustomization usually belongs to `flux bootstrap`, and applying a replacement
 * from here would fight it. Pointing it at `./<env>` as well would apply every app twice (once directly, once
 * through its own Kustomization).
 */
function perAppLayoutNote(envs: string[]): string {
  if (envs.length === 0) return '';
  const lines = [
    `Ferry writes one Flux Kustomization per app to <env>/flux/<app>.yaml for: ${envs.join(', ')}.`,
    'The Kustomization applying such an environment on this cluster must point at ./<env>/flux, not ./<env>:',
    ...envs.map((e) => `  ${e}: spec.path: ./${e}/flux`),
  ];
  return lines.map((l) => `# ${l}`.trimEnd()).join('\n') + '\n';
}
