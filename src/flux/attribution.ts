/**
 * Which environment a Flux event speaks for. Flux's payload names the reporting object and the source revision,
 * never what the object applies, and one commit of a GitOps repository usually holds several environments: a
 * staging Kustomization reporting commit X says nothing about dev at X. So an event settles a release only when it
 * names the release's environment:
 *
 * - `metadata["ferry.env"]`: notification-controller copies a Flux object's `event.toolkit.fluxcd.io/<key>`
 *   annotations into the event as `<key>`, and merges an Alert's `spec.eventMetadata` over them. The Kustomizations
 *   Ferry serves and writes carry the annotation; an Alert whose sources all apply one environment may set it instead.
 * - in environments with per-app Kustomizations, the app's own Kustomization (`<namespace>/<env>-<app>`) is the only
 *   object whose events settle the app's releases; an event naming another environment does not.
 *
 * Events naming no environment are stored, logged and answered (`env: null`, `settling: false`) but settle nothing.
 */

/** The metadata key, as notification-controller forwards it. */
export const FERRY_ENV_KEY = 'ferry.env';
/** The annotation on a Flux object that puts FERRY_ENV_KEY into every event it emits. */
export const FERRY_ENV_ANNOTATION = `event.toolkit.fluxcd.io/${FERRY_ENV_KEY}`;

/** The environment an event names, if any. */
export function fluxEventEnv(metadata: Record<string, unknown> | undefined | null): string | undefined {
  const v = metadata?.[FERRY_ENV_KEY];
  return typeof v === 'string' && v !== '' ? v : undefined;
}

export interface AttributableEvent {
  kind: string;
  namespace: string;
  name: string;
  /** FERRY_ENV_KEY from the event's metadata. */
  env?: string;
}

/**
 * Whether the event speaks for `release.env`. `own` is the app's own Kustomization when the environment uses
 * per-app Kustomizations: then only that object counts (the root one merely applied the Kustomization objects).
 */
export function eventSpeaksFor(e: AttributableEvent, release: { env: string }, own?: { namespace: string; name: string }): boolean {
  if (e.env !== undefined && e.env !== release.env) return false;
  if (own) return e.kind === 'Kustomization' && e.namespace === own.namespace && e.name === own.name;
  return e.env === release.env;
}
