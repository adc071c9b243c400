import * as k8s from '@kubernetes/client-node';
import type { FluxObject } from '../src/reconcile/kustomization-status';

/** The few Flux objects Ferry reads or annotates, through @kubernetes/client-node's CustomObjectsApi. */
const KUSTOMIZATION = { group: 'kustomize.toolkit.fluxcd.io', version: 'v1', plural: 'kustomizations' };
const GIT_REPOSITORY = { group: 'source.toolkit.fluxcd.io', version: 'v1', plural: 'gitrepositories' };

export type FluxKind = 'Kustomization' | 'GitRepository';
const API: Record<FluxKind, typeof KUSTOMIZATION> = { Kustomization: KUSTOMIZATION, GitRepository: GIT_REPOSITORY };

export interface FluxApi {
  get(kind: FluxKind, namespace: string, name: string): Promise<FluxObject>;
  /** Sets `reconcile.fluxcd.io/requestedAt`, as `flux reconcile` does. */
  requestReconcile(kind: FluxKind, namespace: string, name: string, at: string): Promise<void>;
}

export function fluxApi(kubeconfigPath: string, context?: string): FluxApi {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  if (context) kc.setCurrentContext(context);
  const api = kc.makeApiClient(k8s.CustomObjectsApi);
  return {
    async get(kind, namespace, name) {
      return (await api.getNamespacedCustomObject({ ...API[kind], namespace, name })) as FluxObject;
    },
    async requestReconcile(kind, namespace, name, at) {
      await api.patchNamespacedCustomObject(
        { ...API[kind], namespace, name, body: { metadata: { annotations: { 'reconcile.fluxcd.io/requestedAt': at } } } },
        k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
      );
    },
  };
}

/** Status code of a client error, if it carries one (ApiException has `code`). */
export function kubeErrorCode(err: unknown): number | undefined {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'number' ? code : undefined;
}
