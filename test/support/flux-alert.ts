// A model of how an event travels from a Flux controller to a `generic-hmac` Provider, written from reading
// fluxcd/pkg runtime/events (the recorder) and fluxcd/notification-controller v1.9.3 internal/server
// (event_server.go: cleanupMetadata; event_handlers.go: filterAlertsForEvent, eventMatchesAlertSource,
// combineEventMetadata, excludeInternalMetadata), so tests drive Ferry with what Flux would really deliver for the Alerts Ferry serves.
// Regexes use JavaScript's engine where Go uses RE2: the tests' patterns mean the same in both.

/** A Flux object as the API server holds it: what the recorder and the label selector read. */
export interface FluxObjectModel {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string; labels?: Record<string, string>; annotations?: Record<string, string> };
}

/** eventv1.Event as it leaves a controller and as a Provider posts it. */
export interface FluxEventModel {
  involvedObject: { kind: string; namespace: string; name: string; uid: string; apiVersion: string; resourceVersion: string };
  severity: 'info' | 'error';
  timestamp: string;
  message: string;
  reason: string;
  metadata?: Record<string, string>;
  reportingController: string;
  reportingInstance: string;
}

export interface AlertModel {
  metadata: { name: string; namespace: string };
  spec: {
    providerRef: { name: string };
    eventSeverity?: 'info' | 'error';
    eventSources: Array<{ kind: string; name: string; namespace?: string; matchLabels?: Record<string, string> }>;
    inclusionList?: string[];
    exclusionList?: string[];
    eventMetadata?: Record<string, string>;
    summary?: string;
    suspend?: boolean;
  };
}

const EVENT_GROUP = 'event.toolkit.fluxcd.io';
const groupOf = (apiVersion: string) => (apiVersion.includes('/') ? apiVersion.slice(0, apiVersion.indexOf('/')) : '');

const CONTROLLERS: Record<string, string> = {
  'kustomize.toolkit.fluxcd.io': 'kustomize-controller',
  'source.toolkit.fluxcd.io': 'source-controller',
  'helm.toolkit.fluxcd.io': 'helm-controller',
};

let resourceVersion = 1000;

/**
 * What a controller's recorder posts for `obj`: controller metadata under `<object group>/` (revision,
 * commit_status on "Reconciliation finished"), plus the object's `event.toolkit.fluxcd.io/` annotations, prefix kept.
 */
export function controllerEvent(
  obj: FluxObjectModel,
  e: { severity: 'info' | 'error'; reason: string; message: string; revision?: string; commitStatus?: boolean; at?: Date },
): FluxEventModel {
  const group = groupOf(obj.apiVersion);
  const metadata: Record<string, string> = {};
  if (e.revision !== undefined) metadata[`${group}/revision`] = e.revision;
  if (e.commitStatus) metadata[`${group}/commit_status`] = 'update';
  for (const [k, v] of Object.entries(obj.metadata.annotations ?? {})) if (k.startsWith(`${EVENT_GROUP}/`)) metadata[k] = v;
  resourceVersion += 1;
  return {
    involvedObject: {
      kind: obj.kind, namespace: obj.metadata.namespace, name: obj.metadata.name,
      uid: `uid-${obj.metadata.namespace}-${obj.metadata.name}`, apiVersion: obj.apiVersion, resourceVersion: String(resourceVersion),
    },
    severity: e.severity,
    timestamp: (e.at ?? new Date()).toISOString().replace(/\.\d+Z$/, 'Z'),
    message: e.message,
    reason: e.reason,
    ...(Object.keys(metadata).length ? { metadata } : {}),
    reportingController: CONTROLLERS[group] ?? 'unknown-controller',
    reportingInstance: `${CONTROLLERS[group] ?? 'controller'}-6d9f8b7c5d-q2x7m`,
  };
}

export interface Cluster {
  alerts: AlertModel[];
  /** Objects the label selector reads, by `<namespace>/<name>`. */
  objects: FluxObjectModel[];
  /** notification-controller's --no-cross-namespace-refs. */
  noCrossNamespaceRefs?: boolean;
}

/** The payload each matching Alert's Provider posts, with the Alert's name; none when no Alert matches. */
export function deliver(cluster: Cluster, emitted: FluxEventModel): Array<{ alert: string; payload: FluxEventModel }> {
  const event: FluxEventModel = structuredClone(emitted);
  const objectGroup = `${groupOf(event.involvedObject.apiVersion)}/`;
  // eventMiddleware's cleanupMetadata: only keys under the event group or the object's group stay, minus the
  // object group's checksum and digest; then excludeInternalMetadata drops its token.
  const kept: Record<string, string> = {};
  for (const [k, v] of Object.entries(event.metadata ?? {})) {
    if (k === `${objectGroup}checksum` || k === `${objectGroup}digest` || k === `${objectGroup}token`) continue;
    if (k.startsWith(`${EVENT_GROUP}/`) || k.startsWith(objectGroup)) kept[k] = v;
  }
  event.metadata = kept;
  const out: Array<{ alert: string; payload: FluxEventModel }> = [];
  for (const alert of cluster.alerts) {
    if (alert.spec.suspend) continue;
    if (!alert.spec.eventSources.some((source) => sourceMatches(cluster, event, alert, { ...source, namespace: source.namespace || alert.metadata.namespace }))) continue;
    const msg = event.message;
    if (alert.spec.inclusionList?.length && !alert.spec.inclusionList.some((re) => new RegExp(re).test(msg))) continue;
    if (alert.spec.exclusionList?.some((re) => new RegExp(re).test(msg))) continue;
    // getNotificationParams: with --no-cross-namespace-refs an event from another namespace is an error, not a post.
    if (cluster.noCrossNamespaceRefs && event.involvedObject.namespace !== alert.metadata.namespace) continue;
    out.push({ alert: `${alert.metadata.namespace}/${alert.metadata.name}`, payload: combineMetadata(event, alert) });
  }
  return out;
}

function sourceMatches(cluster: Cluster, event: FluxEventModel, alert: AlertModel, source: AlertModel['spec']['eventSources'][number]): boolean {
  const o = event.involvedObject;
  if (o.namespace !== source.namespace || o.kind !== source.kind) return false;
  const severity = alert.spec.eventSeverity ?? 'info';
  if (event.severity !== severity && severity !== 'info') return false;
  if (source.name !== '*' && source.name !== o.name) return false;
  if (!source.matchLabels) return true;
  const obj = cluster.objects.find((x) => x.metadata.namespace === o.namespace && x.metadata.name === o.name && x.kind === o.kind);
  if (!obj) return false;
  return Object.entries(source.matchLabels).every(([k, v]) => obj.metadata.labels?.[k] === v);
}

/**
 * Lowest to highest precedence: object annotations (`event.toolkit.fluxcd.io/`, stripped), the Alert's
 * eventMetadata, its summary, controller metadata (`<object group>/`, stripped). An empty map is left out of the
 * JSON (`omitempty`).
 */
function combineMetadata(event: FluxEventModel, alert: AlertModel): FluxEventModel {
  const metadata: Record<string, string> = {};
  const original = event.metadata ?? {};
  for (const [k, v] of Object.entries(original)) if (k.startsWith(`${EVENT_GROUP}/`)) metadata[k.slice(EVENT_GROUP.length + 1)] = v;
  for (const [k, v] of Object.entries(alert.spec.eventMetadata ?? {})) metadata[k] = v;
  if (alert.spec.summary) metadata.summary = alert.spec.summary;
  const objectGroup = `${groupOf(event.involvedObject.apiVersion)}/`;
  for (const [k, v] of Object.entries(original)) if (k.startsWith(objectGroup)) metadata[k.slice(objectGroup.length)] = v;
  const copy = structuredClone(event);
  if (Object.keys(metadata).length > 0) copy.metadata = metadata;
  if (copy.metadata && Object.keys(copy.metadata).length === 0) delete copy.metadata;
  return copy;
}
