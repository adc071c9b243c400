import { isFinalFailureReason } from '../flux/event';
import { commitShaOfRevision } from '../flux/revision';

/**
 * Reading a Flux Kustomization's status (kustomize.toolkit.fluxcd.io/v1) as the source of truth for "is commit X
 * live on this cluster". Pure: the ancestry question is passed in, so the rules are unit-testable without git.
 */

export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown' | string;
  reason?: string;
  message?: string;
}

export interface FluxObject {
  metadata?: { name?: string; namespace?: string; generation?: number };
  status?: {
    observedGeneration?: number;
    conditions?: Condition[];
    lastAppliedRevision?: string;
    lastAttemptedRevision?: string;
    lastHandledReconcileAt?: string;
    artifact?: { revision?: string };
  };
}

export type PollOutcome = 'succeeded' | 'failed' | 'unhealthy' | 'pending';

export interface PollVerdict {
  outcome: PollOutcome;
  reason: string;
  message: string;
  /** The commit the verdict is about (applied or attempted), when known. */
  revision: string | null;
}

export function condition(obj: FluxObject, type: string): Condition | undefined {
  return obj.status?.conditions?.find((c) => c.type === type);
}

/** "Is `rev` the release commit or a descendant of it?" Answered by the caller from the GitOps repository. */
export type CoversCommit = (revisionSha: string) => Promise<boolean>;

/**
 * The rules of the reference (§7): success needs the controller to have caught up with the spec
 * (observedGeneration == generation), Ready=True/ReconciliationSucceeded, and lastAppliedRevision at the commit or
 * after it; failure needs lastAttemptedRevision at the commit or after it and Ready=False for a reason that is
 * Flux's final word on the revision (isFinalFailureReason), or Stalled=True. Anything else is pending: the caller's
 * deadline ends it.
 */
export async function evaluateKustomization(obj: FluxObject, covers: CoversCommit): Promise<PollVerdict> {
  const name = `${obj.metadata?.namespace ?? '?'}/${obj.metadata?.name ?? '?'}`;
  const ready = condition(obj, 'Ready');
  const stalled = condition(obj, 'Stalled');
  const generation = obj.metadata?.generation;
  const caughtUp = generation === undefined || obj.status?.observedGeneration === generation;
  const applied = commitShaOfRevision(obj.status?.lastAppliedRevision ?? '');
  const attempted = commitShaOfRevision(obj.status?.lastAttemptedRevision ?? '');

  if (caughtUp && ready?.status === 'True' && ready.reason === 'ReconciliationSucceeded' && applied && (await covers(applied))) {
    return { outcome: 'succeeded', reason: 'ReconciliationSucceeded', message: `${name}: ${ready.message ?? 'applied'}`, revision: applied };
  }
  if (attempted && (await covers(attempted))) {
    if (stalled?.status === 'True') {
      return { outcome: 'failed', reason: stalled.reason ?? 'Stalled', message: `${name} stalled: ${stalled.message ?? ''}`, revision: attempted };
    }
    // Only a failure about the revision itself is final; source, access and other retried errors stay pending.
    if (caughtUp && ready?.status === 'False' && isFinalFailureReason(ready.reason ?? 'ReconciliationFailed')) {
      const reason = ready.reason ?? 'ReconciliationFailed';
      // The manifests are live but unhealthy: the distinction matters for rollback versus retry.
      return { outcome: reason === 'HealthCheckFailed' ? 'unhealthy' : 'failed', reason, message: `${name}: ${ready.message ?? ''}`, revision: attempted };
    }
  }
  const why = !caughtUp
    ? `generation ${generation} not yet observed (observed ${obj.status?.observedGeneration ?? 'none'})`
    : `Ready=${ready?.status ?? 'absent'}${ready?.reason ? `/${ready.reason}` : ''}, applied ${applied?.slice(0, 12) ?? 'nothing'}, attempted ${attempted?.slice(0, 12) ?? 'nothing'}`;
  return { outcome: 'pending', reason: ready?.reason ?? 'Progressing', message: `${name}: ${why}`, revision: attempted };
}

/**
 * One verdict for a cluster from its Kustomizations: failed as soon as one failed, succeeded only when all did
 * (a commit may touch paths of several; Kustomizations that never touch it still advance lastAppliedRevision).
 */
export function combineKustomizations(verdicts: PollVerdict[]): PollVerdict {
  const bad = verdicts.find((v) => v.outcome === 'failed') ?? verdicts.find((v) => v.outcome === 'unhealthy');
  if (bad) return bad;
  const pending = verdicts.find((v) => v.outcome === 'pending');
  if (pending || verdicts.length === 0) return pending ?? { outcome: 'pending', reason: 'Progressing', message: 'no Kustomization read', revision: null };
  return { ...verdicts[0], message: verdicts.map((v) => v.message).join('; ').slice(0, 1000) };
}

/** A GitRepository that cannot fetch keeps Kustomizations Ready at the old revision forever: say why. */
export function sourceProblem(repo: FluxObject): string | null {
  const ready = condition(repo, 'Ready');
  if (ready?.status === 'False') return `GitRepository ${repo.metadata?.namespace}/${repo.metadata?.name} not ready: ${ready.reason ?? ''} ${ready.message ?? ''}`.trim();
  return null;
}
