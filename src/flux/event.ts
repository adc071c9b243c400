import { z } from 'zod';
import { commitShaOfRevision } from './revision';

/**
 * The JSON body notification-controller posts to a `generic`/`generic-hmac`
 * provider (fluxcd/pkg apis/event). Loose objects: newer Flux versions add
 * fields, and a webhook that rejects them would silently lose every event.
 */
export const FluxInvolvedObjectSchema = z.looseObject({
  kind: z.string().min(1),
  name: z.string().min(1),
  namespace: z.string(),
  uid: z.string().optional(),
  apiVersion: z.string().optional(),
  resourceVersion: z.string().optional(),
});

export const FluxEventSchema = z.looseObject({
  involvedObject: FluxInvolvedObjectSchema,
  // `trace` never leaves the cluster today; accepting it costs nothing and keeps a
  // future Flux from turning into 400s.
  severity: z.enum(['info', 'error', 'trace']),
  timestamp: z.string().refine((s) => !Number.isNaN(Date.parse(s)), { error: 'timestamp must be an RFC 3339 date' }),
  message: z.string(),
  reason: z.string(),
  metadata: z.record(z.string(), z.string()).optional(),
  reportingController: z.string(),
  reportingInstance: z.string().optional(),
});

export type FluxEvent = z.infer<typeof FluxEventSchema>;

export type FluxEventOutcome =
  | 'succeeded'
  | 'failed'
  | 'unhealthy'
  | 'progressing'
  | 'waiting'
  | 'superseded'
  | 'ignored';

export interface FluxEventClassification {
  outcome: FluxEventOutcome;
  /** True when the event settles the release for its revision (pending confirmation by polling). */
  terminal: boolean;
  reason: string;
  message: string;
}

function metadataValue(e: FluxEvent, keys: readonly string[]): string | undefined {
  const md = e.metadata;
  if (!md) return undefined;
  for (const key of keys) {
    const v = md[key];
    if (typeof v === 'string' && v !== '') return v;
  }
  return undefined;
}

// notification-controller strips the `<group>/` prefix since 2022, but older
// controllers (and Flux's own provider docs) still use the prefixed keys.
const REVISION_KEYS = ['revision', 'kustomize.toolkit.fluxcd.io/revision', 'source.toolkit.fluxcd.io/revision'] as const;
const ORIGIN_REVISION_KEYS = [
  'originRevision',
  'kustomize.toolkit.fluxcd.io/originRevision',
  'source.toolkit.fluxcd.io/originRevision',
] as const;

/** The source revision the event is about, in either Flux revision format. */
export function fluxEventRevision(e: FluxEvent): string | undefined {
  return metadataValue(e, REVISION_KEYS);
}

/**
 * For OCI sources `revision` is an image digest; the git revision the artifact
 * was built from travels separately (org.opencontainers.image.revision).
 */
export function fluxEventOriginRevision(e: FluxEvent): string | undefined {
  return metadataValue(e, ORIGIN_REVISION_KEYS);
}

/**
 * Cluster identity is not part of Flux's payload; Ferry asks operators to put
 * it in the Alert's `eventMetadata`. The value is untrusted input: validate it
 * before using it as a name.
 */
export function fluxEventCluster(e: FluxEvent, fallback?: string): string | undefined {
  return metadataValue(e, ['cluster']) ?? fallback;
}

/** Kinds whose events say something about what is applied in a cluster. */
const SETTLING_KINDS = new Set(['Kustomization', 'HelmRelease']);

const TERMINAL: Record<FluxEventOutcome, boolean> = {
  succeeded: true,
  failed: true,
  unhealthy: true,
  progressing: false,
  waiting: false,
  superseded: false,
  ignored: false,
};

/**
 * Failures that concern the revision itself being applied or healthy: Flux's final word on it. Retrying the same
 * revision gives the same answer (its build or its manifests are wrong, or what it deployed does not become healthy).
 */
const FINAL_FAILURE_REASONS = new Set([
  'BuildFailed',
  'ReconciliationFailed',
  // Older kustomize-controllers' dry-run verdict on the revision's manifests.
  'ValidationFailed',
  // helm-controller: the release's install, upgrade or tests failed, or remediating them did.
  'InstallFailed',
  'UpgradeFailed',
  'TestFailed',
  'RollbackFailed',
  'UninstallFailed',
]);

/**
 * Error reasons Flux retries on its own (`retryInterval`) and that say nothing about the revision: the source could
 * not be fetched, a permission or configuration is missing, garbage collection or a status patch failed (an
 * error-severity `Progressing`). A release waits them out: they become its Flux state until a final verdict or the
 * timeout. Listed for the record and the docs; any error reason not known to be final is treated the same way.
 */
export const TRANSIENT_ERROR_REASONS = [
  'ArtifactFailed',
  'AccessDenied',
  'Progressing',
  'PruneFailed',
  'InvalidCELExpression',
  'FeatureGateDisabled',
  'GetLastReleaseFailed',
  'InitFailed',
] as const;

/** True when Flux's failure `reason` is its final word on the revision (HealthCheckFailed included). */
export function isFinalFailureReason(reason: string): boolean {
  return reason === 'HealthCheckFailed' || FINAL_FAILURE_REASONS.has(reason);
}

// A failure reason on an info event is a leftover Ready reason rather than news.
const FAILURE_REASONS = new Set([...FINAL_FAILURE_REASONS, ...TRANSIENT_ERROR_REASONS.filter((r) => r !== 'Progressing'), 'HealthCheckFailed']);

function outcomeOf(e: FluxEvent): FluxEventOutcome {
  if (!SETTLING_KINDS.has(e.involvedObject.kind)) {
    // Sources (GitRepository NewArtifact/Succeeded, OCIRepository, …) only say a
    // commit was fetched; nothing has been applied yet.
    return 'ignored';
  }
  if (e.severity === 'trace') return 'ignored';

  const { reason } = e;
  // These two never mean failure, whatever the severity: a dependency that is not
  // ready is retried every 30s, and cancelled health checks are resolved by the
  // newer revision that cancelled them (the ancestry logic settles this one).
  if (reason === 'DependencyNotReady') return 'waiting';
  if (reason === 'HealthCheckCanceled') return 'superseded';

  if (e.severity === 'error') {
    // The manifests are live but not healthy: retrying the same commit is
    // pointless, so this is terminal and distinct from 'failed'.
    if (reason === 'HealthCheckFailed') return 'unhealthy';
    if (FINAL_FAILURE_REASONS.has(reason)) return 'failed';
    // Source, access, garbage-collection and status-patch errors, and reasons this
    // table does not know: Flux retries, so the release waits (showing the reason)
    // until a final verdict or its timeout. Polling applies the same rule.
    return 'waiting';
  }

  // severity === 'info'
  switch (reason) {
    case 'ReconciliationSucceeded':
    case 'TestSucceeded':
      return 'succeeded';
    case 'Progressing':
    case 'ProgressingWithRetry':
    // helm-controller may still run tests or remediate after these; the final
    // verdict is Ready, which polling reads.
    case 'InstallSucceeded':
    case 'UpgradeSucceeded':
      return 'progressing';
    // helm-controller remediates only after a failed install/upgrade, and the
    // error event announcing that may have been rate-limited away; either way
    // the revision is not what runs now.
    case 'RollbackSucceeded':
    case 'UninstallSucceeded':
      return 'failed';
  }
  // A failure reason on an info event is a stale Ready reason attached to some
  // other notice (Flux's docs show a deletion notice with ArtifactFailed); the
  // real failure arrives as an error event, so this one carries no signal.
  if (FAILURE_REASONS.has(reason)) return 'ignored';
  // Remaining info events (change sets under newer reasons, drift corrections)
  // mean the controller is acting on the revision. Calling that progress is
  // harmless: it is non-terminal and polling has the final word.
  return 'progressing';
}

/** Maps an event to what it means for a release of the event's revision. */
export function classifyFluxEvent(e: FluxEvent): FluxEventClassification {
  const outcome = outcomeOf(e);
  return { outcome, terminal: TERMINAL[outcome], reason: e.reason, message: e.message };
}

/**
 * The full git commit an event refers to, or null. OCI sources carry an image
 * digest in `revision`, so their `originRevision` is tried as well.
 */
export function fluxEventCommitSha(e: FluxEvent): string | null {
  const rev = fluxEventRevision(e);
  const fromRevision = rev === undefined ? null : commitShaOfRevision(rev);
  if (fromRevision) return fromRevision;
  const origin = fluxEventOriginRevision(e);
  return origin === undefined ? null : commitShaOfRevision(origin);
}
