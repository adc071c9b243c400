import type { Duration } from '@temporalio/common';
import * as wf from '@temporalio/workflow';
import type { NotifyActivities } from '../activities/notify-activities';
import type { ReconcileActivities } from '../activities/reconcile-activities';
import type { ReleaseActivities } from '../activities/release-activities';
import type { WriterActivities } from '../activities/writer-activities';
import type { NotifyEvent } from '../src/notify/format';
import type { ReleaseReconcileSettings } from '../src/reconcile/config';
import { VerdictBook } from '../src/reconcile/verdicts';
import type { ReleaseState, ReleaseStatus } from '../src/release/types';
import { FERRY_STATUS, type FluxVerdict, fluxVerdictSignal, type ReleaseInput, releaseStateQuery } from './definitions';

// Infrastructure faults (database or git remote down) are retried patiently; content errors are non-retryable
// ApplicationFailures thrown by the activities themselves and end the release at once.
// The timeouts also bound how long a release waits after its worker crashed (SIGKILL, OOM) mid-activity before
// Temporal retries the activity elsewhere: see docs/reliability.md.
const steps = wf.proxyActivities<ReleaseActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 60 },
});
const bookkeeping = wf.proxyActivities<ReleaseActivities>({
  startToCloseTimeout: '30 seconds',
  // The mirror in PostgreSQL must eventually be written, even across a long database outage.
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
});
const notifier = wf.proxyActivities<ReleaseActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 5 },
});
// One activity call per target, each with its own retries: a target that is down delays nobody else.
const targets = wf.proxyActivities<NotifyActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 6, nonRetryableErrorTypes: ['NotifyRejected'] },
});
// "Reconcile now" is a hint: Flux reconciles on its own interval anyway, so a few tries are enough.
const nudge = wf.proxyActivities<ReconcileActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumAttempts: 3 },
});
const NO_RECONCILE: ReleaseReconcileSettings = { clusters: [], autoRollback: false, notifications: [], pollInterval: '15s' };

export async function releaseWorkflow(input: ReleaseInput): Promise<ReleaseState> {
  const writer = wf.proxyActivities<WriterActivities>({
    taskQueue: input.writerTaskQueue,
    // Queued behind other releases in a group commit plus one push; the writer itself retries rejected pushes.
    startToCloseTimeout: '10 minutes',
    heartbeatTimeout: '30 seconds',
    retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 30 },
  });
  const info = wf.workflowInfo();
  const now = () => new Date(Date.now()).toISOString();
  const state: ReleaseState = {
    id: input.releaseId,
    app: input.app,
    env: input.env,
    artifactId: input.artifactId,
    sha: input.sha,
    branch: input.branch,
    trigger: input.trigger,
    releasedBy: input.releasedBy,
    status: 'pending',
    gitopsCommit: null,
    fluxStatus: null,
    error: null,
    timeline: [],
    createdAt: new Date(info.runStartTime.getTime()).toISOString(),
    updatedAt: now(),
    runId: info.runId,
    seq: 0,
  };
  const rc = input.reconcile ?? NO_RECONCILE;
  // Per-cluster verdicts: each cluster's first final word stands; late, duplicate or reordered reports are ignored.
  const book = new VerdictBook(rc.clusters.map((c) => c.name));
  if (rc.clusters.length > 0) state.clusters = book.clusters;
  // Set when a report changed the state while waiting, so the mirror in PostgreSQL shows progress per cluster.
  let changed = false;
  const accept = (v: FluxVerdict) => {
    if (book.decided() || !book.accept(v)) return;
    changed = true;
    if (!isTerminal(v) && (state.status === 'committed' || state.status === 'reconciling')) state.fluxStatus = v.reason;
  };

  wf.setHandler(releaseStateQuery, () => state);
  wf.setHandler(fluxVerdictSignal, accept);

  // Notifications run beside the release and are awaited only after its final state is recorded.
  const sent = new Map<string, Promise<unknown>>();
  function notifyTargets(event: NotifyEvent): void {
    for (const t of rc.notifications) {
      if (event === 'started' && t.type !== 'github') continue;
      const release = notifyView(state);
      // A target's finished message waits for its started one, so GitHub never shows pending after success.
      const prev = sent.get(t.id) ?? Promise.resolve();
      sent.set(t.id, prev.then(() => targets.notifyTarget({ targetId: t.id, event, release })).catch((err) => {
        wf.log.warn('notification target failed', { releaseId: state.id, target: t.type, error: String(err) });
      }));
    }
  }

  async function enter(status: ReleaseStatus, message?: string): Promise<void> {
    state.status = status;
    state.updatedAt = now();
    state.seq += 1;
    state.timeline.push({ status, at: state.updatedAt, ...(message ? { message } : {}) });
    wf.upsertSearchAttributes([{ key: FERRY_STATUS, value: status }]);
    await bookkeeping.recordState(state);
  }

  async function finish(status: 'succeeded' | 'failed' | 'timed-out', message: string, error?: string): Promise<ReleaseState> {
    if (error) state.error = error;
    await enter(status, message);
    return await notify();
  }

  async function notify(): Promise<ReleaseState> {
    // The final state is recorded before this runs: a slow or broken target cannot hold the outcome back.
    notifyTargets('finished');
    try {
      await notifier.notifyRelease(state);
    } catch (err) {
      // A notification target being down must never change how the release ended.
      wf.log.warn('notification failed', { releaseId: state.id, error: String(err) });
    }
    await Promise.all(sent.values());
    return state;
  }

  await enter('pending', `requested by ${input.releasedBy} (${input.trigger})`);
  notifyTargets('started');
  try {
    await enter('rendering');
    const render = await steps.renderRelease({ releaseId: input.releaseId, artifactId: input.artifactId, app: input.app, env: input.env });

    await enter('committing', `${Object.keys(render.files).length} files, digest ${render.digest.slice(0, 12)}`);
    const commit = await writer.commitRelease({
      releaseId: input.releaseId,
      app: input.app,
      env: input.env,
      artifactId: input.artifactId,
      sha: input.sha,
      releasedBy: input.releasedBy,
      trigger: input.trigger,
      notBefore: state.createdAt,
    });
    state.gitopsCommit = commit.commit;
    if (commit.status === 'unchanged') {
      return await finish('succeeded', `the GitOps repository already had these manifests at ${commit.commit.slice(0, 12)}; nothing to commit`);
    }
    await enter('committed', `${commit.status === 'already-committed' ? 'found existing commit' : 'pushed'} ${commit.commit}`);
    // Deployments that do not await Flux end here: committed is their successful final state.
    if (!input.awaitFlux) return await notify();

    const clusterNames = rc.clusters.map((c) => c.name).join(', ');
    await enter('reconciling', `waiting up to ${input.fluxTimeout} for Flux${clusterNames ? ` on ${clusterNames}` : ''}`);
    for (const c of rc.clusters) {
      if (!c.requestReconcile) continue;
      // Fire and forget: awaited nowhere, so a cluster API that hangs cannot slow the release.
      nudge.requestReconcile({ cluster: c.name, at: now() }).catch((err) => wf.log.info('reconcile request failed', { cluster: c.name, error: String(err) }));
    }
    // Events that arrived before this release started waiting are stored; look at them first.
    const history: FluxVerdict[] | FluxVerdict | null = await bookkeeping.checkFluxHistory({ releaseId: input.releaseId, commit: commit.commit, since: state.createdAt, env: input.env });
    // Histories recorded before issue 6 hold a single verdict or null here.
    for (const v of Array.isArray(history) ? history : history ? [history] : []) accept(v);
    // Polling is the source of truth where Ferry can read the cluster: it races the webhook signals, so a lost
    // webhook never leaves a release waiting. Each poll retries (BENIGN failures) until Flux decides or time is up.
    const polls = new wf.CancellationScope();
    if (!book.decided()) {
      const poller = wf.proxyActivities<ReconcileActivities>({
        startToCloseTimeout: '30 seconds',
        scheduleToCloseTimeout: input.fluxTimeout as Duration,
        retry: { initialInterval: rc.pollInterval as Duration, backoffCoefficient: 1, maximumInterval: rc.pollInterval as Duration, nonRetryableErrorTypes: ['ClusterNotConfigured'] },
      });
      for (const c of rc.clusters) {
        if (!c.poll) continue;
        polls.run(() => poller.pollCluster({ cluster: c.name, commit: commit.commit })).then(accept, (err) => {
          if (!wf.isCancellation(err)) wf.log.info('polling gave up', { cluster: c.name, error: String(err) });
        });
      }
    }
    let timedOut = false;
    const deadline = new wf.CancellationScope();
    deadline.run(() => wf.sleep(input.fluxTimeout as Duration)).then(() => { timedOut = true; }, () => undefined);
    for (;;) {
      await wf.condition(() => book.decided() !== undefined || timedOut || changed);
      if (book.decided() || timedOut) break;
      // Runs that began before progress was mirrored must replay without this extra activity.
      if (!wf.patched('mirror-flux-progress')) {
        await wf.condition(() => book.decided() !== undefined || timedOut);
        break;
      }
      changed = false;
      state.updatedAt = now();
      state.seq += 1;
      await bookkeeping.recordState(state);
    }
    const settled = book.decided() !== undefined;
    deadline.cancel();
    polls.cancel();
    const verdict = book.decided();
    if (!settled || !verdict) {
      state.fluxStatus = state.fluxStatus ?? 'no event';
      const missing = book.pending();
      const on = missing.length ? ` on ${missing.join(', ')}` : '';
      return await finish('timed-out', `Flux did not report on ${commit.commit.slice(0, 12)}${on} within ${input.fluxTimeout}`, `timed out waiting for Flux reconciliation${on}`);
    }
    const v: FluxVerdict = verdict;
    state.fluxStatus = v.reason;
    state.fluxOutcome = v.outcome as 'succeeded' | 'failed' | 'unhealthy';
    const where = v.cluster && v.cluster !== '*' ? ` on ${v.cluster}` : '';
    if (v.outcome === 'succeeded') return await finish('succeeded', `Flux applied ${v.revision}${where}: ${v.message}`.slice(0, 500));
    if (v.outcome === 'unhealthy') {
      // Applied but unhealthy: the manifests are live. Automatic rollback (rc.autoRollback) hooks in here.
      return await finish('failed', `Flux applied ${v.revision}${where} but health checks failed`, `Flux ${v.reason}${where} (applied but unhealthy): ${v.message}`.slice(0, 2000));
    }
    return await finish('failed', `Flux reported ${v.reason} for ${v.revision}${where}`, `Flux ${v.reason}${where}: ${v.message}`.slice(0, 2000));
  } catch (err) {
    if (wf.isCancellation(err)) throw err;
    return await finish('failed', 'release failed', failureMessage(err));
  }
}

/** The release as notification targets see it: no run bookkeeping, nothing secret. */
function notifyView(s: ReleaseState) {
  return {
    id: s.id, app: s.app, env: s.env, status: s.status, artifactId: s.artifactId, gitopsCommit: s.gitopsCommit, fluxStatus: s.fluxStatus,
    fluxOutcome: s.fluxOutcome ?? null, error: s.error, releasedBy: s.releasedBy, trigger: s.trigger, createdAt: s.createdAt, updatedAt: s.updatedAt,
  };
}

function isTerminal(v: FluxVerdict): boolean {
  return v.outcome === 'succeeded' || v.outcome === 'failed' || v.outcome === 'unhealthy';
}

/** The innermost cause is the one a person can act on ("variable FOO is not defined", not "activity failed"). */
function failureMessage(err: unknown): string {
  let e: unknown = err;
  while (e instanceof wf.ActivityFailure || (e instanceof wf.TemporalFailure && e.cause)) e = (e as wf.TemporalFailure).cause;
  return e instanceof Error ? e.message : String(e);
}
