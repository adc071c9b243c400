// How the release workflow reaches its activities: which run as local activities, with which timeouts and retries.
import type { Duration } from '@temporalio/common';
import * as wf from '@temporalio/workflow';
import type { LaneActivities } from '../activities/lane-activities';
import type { NotifyActivities } from '../activities/notify-activities';
import type { ReconcileActivities } from '../activities/reconcile-activities';
import type { ReleaseActivities } from '../activities/release-activities';
import type { WriterActivities } from '../activities/writer-activities';

// Infrastructure faults (database or git remote down) are retried patiently; content errors are non-retryable
// ApplicationFailures thrown by the activities themselves and end the release at once.
// The timeouts also bound how long a release waits after its worker crashed (SIGKILL, OOM) mid-activity before
// Temporal retries the activity elsewhere: see docs/reliability.md. Rendering a Helm chart may fetch it first.
const STEP = {
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 60 },
} as const;
const BOOKKEEPING = {
  startToCloseTimeout: '30 seconds',
  // The mirror in PostgreSQL must eventually be written, even across a long database outage.
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
} as const;
const NOTIFY = {
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 5 },
} as const;

// A release's own steps run as local activities: in the release worker while its workflow task is open, recorded as
// markers, so a step costs the server no activity task and no extra workflow task. A local activity that keeps
// failing backs off on a server timer. Nothing that waits for another workflow runs locally: a local activity holds
// one of this worker's workflow task slots, which that workflow may need. So an idle lane is entered and left
// locally, a busy one through activity tasks, and the GitOps write stays on the writer's own task queue.
export const localSteps = wf.proxyLocalActivities<ReleaseActivities & LaneActivities>(STEP);
export const localBookkeeping = wf.proxyLocalActivities<ReleaseActivities & LaneActivities>(BOOKKEEPING);
export const localNotifier = wf.proxyLocalActivities<ReleaseActivities>(NOTIFY);
export const laneSteps = wf.proxyActivities<LaneActivities>(STEP);
// Update handlers write their decision through an activity task: SDK 1.24 cannot replay a local activity that ran
// inside an Update handler. So do the records made after the final state (auto-promotion, rollback).
export const bookkeeping = wf.proxyActivities<ReleaseActivities & LaneActivities>(BOOKKEEPING);

// One activity call per target, each with its own retries: a target that is down delays nobody else.
export const targets = wf.proxyActivities<NotifyActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 6, nonRetryableErrorTypes: ['NotifyRejected'] },
});
// "Reconcile now" is a hint: Flux reconciles on its own interval anyway, so a few tries are enough.
export const nudge = wf.proxyActivities<ReconcileActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumAttempts: 3 },
});

/**
 * The single GitOps writer, on its own task queue. Removals (cleanup, Gimlet's delete) heartbeat less often than a
 * release's commit, so they pass a longer heartbeat timeout.
 */
export function writerOn(taskQueue: string, heartbeatTimeout: '30 seconds' | '2 minutes' = '30 seconds') {
  return wf.proxyActivities<WriterActivities>({
    taskQueue,
    // Queued behind other releases in a group commit plus one push; the writer itself retries rejected pushes.
    startToCloseTimeout: '10 minutes',
    heartbeatTimeout,
    retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 30 },
  });
}

/** Polls a cluster through retries (BENIGN failures while Flux has not decided) until the Flux deadline. */
export function pollerUntil(fluxTimeout: string, pollInterval: string) {
  return wf.proxyActivities<ReconcileActivities>({
    startToCloseTimeout: '30 seconds',
    scheduleToCloseTimeout: fluxTimeout as Duration,
    retry: { initialInterval: pollInterval as Duration, backoffCoefficient: 1, maximumInterval: pollInterval as Duration, nonRetryableErrorTypes: ['ClusterNotConfigured'] },
  });
}
