import type { Duration } from '@temporalio/common';
import * as wf from '@temporalio/workflow';
import type { ReleaseActivities } from '../activities/release-activities';
import type { WriterActivities } from '../activities/writer-activities';
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
  let verdict: FluxVerdict | undefined;

  wf.setHandler(releaseStateQuery, () => state);
  wf.setHandler(fluxVerdictSignal, (v) => {
    if (isTerminal(v)) verdict ??= v;
    else if (!verdict && (state.status === 'committed' || state.status === 'reconciling')) state.fluxStatus = v.reason;
  });

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
    try {
      await notifier.notifyRelease(state);
    } catch (err) {
      // A notification target being down must never change how the release ended.
      wf.log.warn('notification failed', { releaseId: state.id, error: String(err) });
    }
    return state;
  }

  await enter('pending', `requested by ${input.releasedBy} (${input.trigger})`);
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

    await enter('reconciling', `waiting up to ${input.fluxTimeout} for Flux`);
    // Events that arrived before this release started waiting are stored; look at them first.
    verdict ??= (await bookkeeping.checkFluxHistory({ releaseId: input.releaseId, commit: commit.commit, since: state.createdAt })) ?? undefined;
    const settled = await wf.condition(() => verdict !== undefined, input.fluxTimeout as Duration);
    if (!settled || !verdict) {
      state.fluxStatus = state.fluxStatus ?? 'no event';
      return await finish('timed-out', `Flux did not report on ${commit.commit.slice(0, 12)} within ${input.fluxTimeout}`, 'timed out waiting for Flux reconciliation');
    }
    const v: FluxVerdict = verdict;
    state.fluxStatus = v.reason;
    if (v.outcome === 'succeeded') return await finish('succeeded', `Flux applied ${v.revision}: ${v.message}`.slice(0, 500));
    return await finish('failed', `Flux reported ${v.reason} for ${v.revision}`, `Flux ${v.reason}: ${v.message}`.slice(0, 2000));
  } catch (err) {
    if (wf.isCancellation(err)) throw err;
    return await finish('failed', 'release failed', failureMessage(err));
  }
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
