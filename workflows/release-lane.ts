// A release's seat in the ordering lane of its app and env (docs/gates.md, "Ordering lanes"): one release at a time
// passes between joining and leaving, and under `supersede` a newer release asks an older one to step aside.
import * as wf from '@temporalio/workflow';
import type { Ordering } from '../src/gates/types';
import { laneWorkflowId } from '../src/release/types';
import { laneGrantSignal, laneSupersedeSignal } from './definitions';
import { bookkeeping, laneSteps, localBookkeeping, localSteps } from './release-proxies';
import type { Ending, ReleaseRun } from './release-run';

export class LaneSeat {
  readonly lane: string;
  private inLane = false;
  private granted = false;
  /** Once the commit has started, a newer release can no longer supersede this one. */
  private committing = false;
  supersededBy: string | undefined;

  constructor(private readonly run: ReleaseRun, private readonly ordering: Ordering) {
    this.lane = laneWorkflowId(run.input.app, run.input.env);
    wf.setHandler(laneGrantSignal, () => {
      this.granted = true;
    });
    wf.setHandler(laneSupersedeSignal, ({ by }) => {
      if (!this.committing) this.supersededBy ??= by;
    });
  }

  get held(): boolean {
    return this.inLane;
  }

  /** The ending when a newer release superseded this one; checked between steps. */
  superseded(): Ending | undefined {
    if (this.supersededBy === undefined) return undefined;
    return { status: 'superseded', message: `superseded by ${this.supersededBy} before it committed` };
  }

  /** From here on the release cannot be superseded. */
  commit(): void {
    this.committing = true;
  }

  /**
   * Joins the lane, recording the release's `pending` state in the same step, and waits for its turn. An idle lane is
   * claimed by a local activity; a busy one (null) is joined through an activity task that may start its workflow.
   */
  async join(): Promise<void> {
    const { run } = this;
    const ticket = { app: run.input.app, env: run.input.env, releaseId: run.input.releaseId, runId: run.state.runId ?? '', ordering: this.ordering, record: run.state };
    const answer = (await localSteps.enterIdleLane(ticket)) ?? (await laneSteps.enterLane(ticket));
    this.inLane = true;
    if (answer.granted) this.granted = true;
    if (this.granted || this.supersededBy !== undefined) return;
    run.state.waiting = { kind: 'lane', lane: this.lane, ahead: answer.ahead };
    const waiting = `waiting for ${answer.ahead} earlier release(s) of ${run.input.app} to ${run.input.env} (${this.ordering})`;
    run.show(`**Queued** in the ordering lane \`${this.lane}\`: ${waiting}.`);
    await run.enter('queued', waiting);
    await wf.condition(() => this.granted || this.supersededBy !== undefined);
    run.state.waiting = null;
    run.show('');
  }

  /** Leaves the lane, mirroring the release's state in the same step when `record` is set. */
  async leave(record = false): Promise<void> {
    if (!this.inLane) return;
    this.inLane = false;
    const { run } = this;
    const exit = { app: run.input.app, env: run.input.env, releaseId: run.input.releaseId, runId: run.state.runId ?? '', ...(record ? { record: run.state } : {}) };
    // An idle lane is left locally; an escalated one talks to its workflow, which is no work for a local activity.
    if (await localBookkeeping.exitIdleLane(exit)) return;
    // Retried until it succeeds: a lane left behind would hold the releases queued after this one.
    await bookkeeping.exitLane(exit);
  }
}
