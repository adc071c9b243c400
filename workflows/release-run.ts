// A release's state as the workflow keeps it, and how it reaches the mirror in PostgreSQL and Temporal's search
// attributes. Every status change goes through `become`.
import * as wf from '@temporalio/workflow';
import type { Decision, DecisionKind, ReleaseState, ReleaseStatus } from '../src/release/types';
import { type DecisionRequest, FERRY_STATUS, type ReleaseInput, releaseStateQuery } from './definitions';
import { bookkeeping, localBookkeeping } from './release-proxies';

/** How a release ends; `rollBack` when Flux failed or found it unhealthy (other failures changed no cluster). */
export interface Ending {
  status: 'succeeded' | 'committed' | 'failed' | 'timed-out' | 'rejected' | 'expired' | 'superseded';
  message: string;
  error?: string;
  rollBack?: boolean;
}

export class ReleaseRun {
  readonly state: ReleaseState;

  constructor(readonly input: ReleaseInput) {
    const info = wf.workflowInfo();
    this.state = {
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
      updatedAt: this.now(),
      runId: info.runId,
      seq: 0,
      decisions: [],
      waiting: null,
      rollbackOf: input.rollbackOf ?? null,
      promotedFrom: input.promotedFrom ?? null,
      finishedAt: null,
    };
    wf.setHandler(releaseStateQuery, () => this.state);
  }

  now(): string {
    return new Date(Date.now()).toISOString();
  }

  get decisions(): Decision[] {
    return this.state.decisions as Decision[];
  }

  approvals(): Decision[] {
    return this.decisions.filter((d) => d.kind === 'approve');
  }

  /** Moves to `status` in the workflow; the mirror in PostgreSQL is written by whoever calls this. */
  become(status: ReleaseStatus, message?: string, opts: { final?: boolean } = {}): void {
    const s = this.state;
    s.status = status;
    s.updatedAt = this.now();
    if (opts.final) s.finishedAt = s.updatedAt;
    s.timeline.push({ status, at: s.updatedAt, ...(message ? { message } : {}) });
    // `pending` is set when the run starts and `rendering` never outlives the first workflow task: upserts of them
    // would be visibility writes nobody can observe.
    if (status !== 'pending' && status !== 'rendering') wf.upsertSearchAttributes([{ key: FERRY_STATUS, value: status }]);
    s.seq += 1;
  }

  /** `become`, then mirror the state. */
  async enter(status: ReleaseStatus, message?: string, opts: { final?: boolean } = {}): Promise<void> {
    this.become(status, message, opts);
    await localBookkeeping.recordState(this.state);
  }

  /** Mirrors a change that is no status change (Flux progress per cluster). */
  async mirror(): Promise<void> {
    this.state.updatedAt = this.now();
    this.state.seq += 1;
    await localBookkeeping.recordState(this.state);
  }

  /** Mirrors through an activity task: what Update handlers and the steps after the final state use. */
  async record(): Promise<void> {
    this.state.updatedAt = this.now();
    this.state.seq += 1;
    await bookkeeping.recordState(this.state);
  }

  /** What the release waits for, on its page in the Temporal UI; empty when it waits for nothing. */
  show(details: string): void {
    wf.setCurrentDetails(details);
  }

  note(message: string): void {
    this.state.timeline.push({ status: this.state.status, at: this.now(), message: message.slice(0, 500) });
  }

  /**
   * Records a person's decision in the decisions and the timeline, and mirrors it. A decision that did not come
   * through Ferry's API came through Temporal (its CLI or UI), and says so.
   */
  async decide(kind: DecisionKind, req: DecisionRequest, message: string): Promise<Decision> {
    const d = this.decision(kind, req, message);
    await this.record();
    return d;
  }

  /** The recording half of `decide`, synchronous: the workflow sees the decision before its mirror write ends. */
  decision(kind: DecisionKind, req: DecisionRequest, message: string): Decision {
    const channel = req.channel === 'api' ? 'api' : 'temporal';
    const d: Decision = { kind, by: req.by, at: this.now(), ...(req.comment?.trim() ? { comment: req.comment.trim() } : {}), channel };
    this.decisions.push(d);
    const via = channel === 'temporal' ? ' (via Temporal)' : '';
    this.state.timeline.push({ status: this.state.status, at: d.at, decision: kind, by: d.by, message: `${message}${via}${d.comment ? `: ${d.comment}` : ''}` });
    return d;
  }

  /** A decision sent as a signal cannot be refused to its sender: it is recorded as refused, with the reason. */
  async refuse(kind: DecisionKind, req: unknown, reason: string): Promise<void> {
    const by = typeof (req as DecisionRequest)?.by === 'string' ? (req as DecisionRequest).by.slice(0, 100) : 'unknown';
    this.state.timeline.push({ status: this.state.status, at: this.now(), decision: kind, by, refused: true, message: `${kind} signal from ${by} (via Temporal) refused: ${reason}`.slice(0, 500) });
    await this.record();
  }
}

/** A decision's author as commit trailers and notifications show it. */
export function decidedBy(d: Decision): string {
  return d.channel === 'temporal' ? `${d.by} (via Temporal)` : d.by;
}
