import * as wf from '@temporalio/workflow';
import type { ReleaseGates } from '../src/gates/types';
import type { ReleaseReconcileSettings } from '../src/reconcile/config';
import type { ReleaseState } from '../src/release/types';
import type { ReleaseInput } from './definitions';
import { failureMessage, Notices, rollBackAutomatically, scheduleAutoPromotions } from './release-aftermath';
import { FluxWatch } from './release-flux';
import { GateKeeper } from './release-gates';
import { LaneSeat } from './release-lane';
import { localSteps, writerOn } from './release-proxies';
import { decidedBy, type Ending, ReleaseRun } from './release-run';

const NO_RECONCILE: ReleaseReconcileSettings = { clusters: [], autoRollback: false, notifications: [], pollInterval: '15s' };
const UNGATED: ReleaseGates = { freezes: [], hotfixAllowed: [], ordering: 'queue' };
/** The ApplicationFailure type a release's run fails with, per final status that means "not released". */
const FAILURE_TYPES: Partial<Record<ReleaseState['status'], string>> = {
  failed: 'ReleaseFailed', 'timed-out': 'ReleaseTimedOut', rejected: 'ReleaseRejected', expired: 'ReleaseExpired',
};

/**
 * One release of one artifact's app to one environment. Its policy (who may release what, from which branch) was
 * validated when it started (activities/release-starter.ts); the workflow then takes its turn in the app's ordering
 * lane, renders the manifests, passes the environment's gates, writes one commit, waits for Flux, and tells people.
 * Its state is mirrored to PostgreSQL at every step and stays readable through the `releaseState` query.
 */
export async function releaseWorkflow(input: ReleaseInput): Promise<ReleaseState> {
  const gates = input.gates ?? UNGATED;
  const rc = input.reconcile ?? NO_RECONCILE;
  const run = new ReleaseRun(input);
  const lane = new LaneSeat(run, gates.ordering);
  const gate = new GateKeeper(run, lane, gates);
  const flux = new FluxWatch(run, rc);
  const notices = new Notices(run, rc);

  async function release(): Promise<Ending> {
    // Ordering: one release of this app to this env at a time. Joining records `pending`.
    await lane.join();
    const superseded = lane.superseded();
    if (superseded) return superseded;

    // Render: the rendering step records `rendering` itself; a bad template ends the release here.
    run.become('rendering');
    // The freeze gate's answer comes back with the render, so a release that is not frozen costs no extra step.
    const render = await localSteps.renderRelease({ releaseId: input.releaseId, artifactId: input.artifactId, app: input.app, env: input.env, record: run.state, freezes: gates.freezes });

    // Gates: approvals first; freezes last, right before the commit, since approvals may take days.
    const stopped = lane.superseded() ?? (await gate.approvals()) ?? (await gate.freezes(render.freeze)) ?? lane.superseded();
    if (stopped) return stopped;

    // Commit: one commit through the single GitOps writer, which mirrors `committing` before it writes.
    lane.commit();
    run.become('committing', `${render.files.length} files, digest ${render.digest.slice(0, 12)}`);
    const commit = await writerOn(input.writerTaskQueue).commitRelease({
      releaseId: input.releaseId,
      app: input.app,
      env: input.env,
      artifactId: input.artifactId,
      sha: input.sha,
      releasedBy: input.releasedBy,
      trigger: input.trigger,
      notBefore: run.state.createdAt,
      ...(input.rollbackOf ? { rollbackOf: input.rollbackOf } : {}),
      ...(input.promotedFrom ? { promotedFrom: input.promotedFrom } : {}),
      ...(run.approvals().length ? { approvedBy: run.approvals().map(decidedBy) } : {}),
      ...(gate.hotfixBy ? { hotfixBy: gate.hotfixBy } : {}),
      record: run.state,
    });
    run.state.gitopsCommit = commit.commit;
    if (commit.status === 'unchanged') {
      return { status: 'succeeded', message: `the GitOps repository already had these manifests at ${commit.commit.slice(0, 12)}; nothing to commit` };
    }
    const pushed = `${commit.status === 'already-committed' ? 'found existing commit' : 'pushed'} ${commit.commit}`;
    // Deployments that do not await Flux end here: committed is their successful final state.
    if (!input.awaitFlux) return { status: 'committed', message: pushed };
    await run.enter('committed', pushed);

    // Reconcile: wait for Flux to apply the commit (or fail, or time out).
    return await flux.settle(commit.commit);
  }

  /** Records the final state first (leaving the lane in the same step), then what follows it, then notifies. */
  async function conclude(end: Ending): Promise<ReleaseState> {
    const ok = end.status === 'succeeded' || end.status === 'committed';
    if (end.error) run.state.error = end.error;
    run.state.waiting = null;
    if (lane.held) {
      run.become(end.status, end.message, { final: true });
      await lane.leave(true);
    } else {
      await run.enter(end.status, end.message, { final: true });
    }
    if (ok) await scheduleAutoPromotions(run);
    if (end.rollBack) await rollBackAutomatically(run, rc);
    // The final state is recorded before this runs: a slow or broken target cannot hold the outcome back.
    await notices.finished();
    // An approval or rejection still writing its decision must finish before the run does, or its caller hears that
    // the workflow completed first (the run can end within the workflow task that took the decision).
    await wf.condition(wf.allHandlersFinished);
    return run.state;
  }

  /**
   * A release that did not do what was asked fails its run, so Temporal shows it failed (`ExecutionStatus="Failed"`)
   * and a failed release id may run again (ALLOW_DUPLICATE_FAILED_ONLY). Its final state was recorded before: the
   * mirror in PostgreSQL and the `releaseState` query still answer. A superseded release completes: it was replaced.
   */
  function outcome(state: ReleaseState): ReleaseState {
    const failure = FAILURE_TYPES[state.status];
    if (!failure) return state;
    throw wf.ApplicationFailure.create({
      type: failure,
      message: `release ${state.id} ${state.status}: ${state.error ?? state.timeline.at(-1)?.message ?? ''}`.slice(0, 1000),
      nonRetryable: true,
      details: [{ id: state.id, status: state.status, error: state.error, gitopsCommit: state.gitopsCommit }],
    });
  }

  run.become('pending', `requested by ${input.releasedBy} (${input.trigger})`);
  notices.tell('started');
  try {
    const end = await release().catch((err) => {
      if (wf.isCancellation(err)) throw err;
      return { status: 'failed', message: 'release failed', error: failureMessage(err) } satisfies Ending;
    });
    return outcome(await conclude(end));
  } catch (err) {
    // A cancelled release must not keep the lane closed for the releases behind it.
    if (wf.isCancellation(err)) await wf.CancellationScope.nonCancellable(() => lane.leave());
    throw err;
  }
}
