import { type Client, WithStartWorkflowOperation, WorkflowNotFoundError } from '@temporalio/client';
import { laneWorkflowId, type ReleaseState } from '../src/release/types';
import type { Db } from '../src/store/db';
import { LaneBusyError, type LaneClaims, withLaneClaims } from '../src/store/lane-claims';
import { recordReleaseState } from '../src/store/releases';
import {
  FERRY_APP, FERRY_ENV, type LaneJoinResult, type LaneTicket, laneEnqueueUpdate, laneLeaveSignal, laneStateQuery,
} from '../workflows/definitions';
import type { laneWorkflow } from '../workflows/lane';

export interface LaneActivityDeps {
  temporal: Client;
  db: Db;
  /** Queue the lane workflows run on (the release worker's). */
  taskQueue: string;
  eventsPerRun?: number;
  holderCheck?: string;
}

/**
 * What release and lane workflows need from the Temporal client and PostgreSQL: a workflow cannot
 * update-with-start another, and an uncontended lane lives in PostgreSQL only (docs/gates.md, "Ordering lanes").
 */
export function createLaneActivities(deps: LaneActivityDeps) {
  type Where = { app: string; env: string };
  /** How a lane workflow is started, by a join (update-with-start) or a leave (signal-with-start). */
  const laneStart = ({ app, env }: Where) => ({
    workflowId: laneWorkflowId(app, env),
    taskQueue: deps.taskQueue,
    args: [{ app, env, eventsPerRun: deps.eventsPerRun, holderCheck: deps.holderCheck }] as [Parameters<typeof laneWorkflow>[0]],
    typedSearchAttributes: [{ key: FERRY_APP, value: app }, { key: FERRY_ENV, value: env }],
    staticSummary: `ordering lane of ${app} in ${env}`,
  });

  /** Joins (starting it if needed) the lane workflow of app/env; the answer says whether the lane was free. */
  function enqueue(where: Where, ticket: LaneTicket): Promise<LaneJoinResult> {
    const start = new WithStartWorkflowOperation<typeof laneWorkflow>('laneWorkflow', { ...laneStart(where), workflowIdConflictPolicy: 'USE_EXISTING' });
    // The update id makes a retried join (activity timeout after the update landed) return the first answer.
    return deps.temporal.workflow.executeUpdateWithStart(laneEnqueueUpdate, {
      args: [ticket],
      startWorkflowOperation: start,
      updateId: `join:${ticket.releaseId}@${ticket.runId}`,
    });
  }

  /** Whether the lane workflow holds or queues anyone but `except`: asked before a drained lane goes back to PostgreSQL. */
  async function workflowBusy(where: Where, except?: { releaseId: string; runId: string }): Promise<boolean> {
    let st;
    try {
      st = await deps.temporal.workflow.getHandle(laneWorkflowId(where.app, where.env)).query(laneStateQuery);
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return false;
      throw err;
    }
    const other = (e: { releaseId: string; runId: string }) => !except || e.releaseId !== except.releaseId || e.runId !== except.runId;
    return (st.holder !== null && other(st.holder)) || st.queue.some(other);
  }

  /** Hands every member the lane workflow does not know yet to it, oldest first; returns the answer for `me`. */
  async function handOver(where: Where, claims: LaneClaims, me: LaneTicket): Promise<LaneJoinResult> {
    let answer: LaneJoinResult | undefined;
    for (const m of [...claims.members]) {
      const mine = m.releaseId === me.releaseId;
      if (m.enqueued && !mine) continue;
      const r = await enqueue(where, { releaseId: m.releaseId, runId: m.runId, ordering: m.ordering });
      if (!m.enqueued) await claims.markEnqueued(m.releaseId);
      if (mine) answer = r;
    }
    return answer!;
  }

  /** Runs `fn` on a lane nobody else has locked; null when someone has. A null from `fn` rolls back too. */
  async function idle<T>(lane: string, fn: (claims: LaneClaims) => Promise<T | null>): Promise<T | null> {
    const rollback = new Error('lane contended');
    try {
      return await withLaneClaims(deps.db, lane, async (claims) => {
        const r = await fn(claims);
        if (r === null) throw rollback;
        return r;
      }, { wait: false });
    } catch (err) {
      if (err === rollback || err instanceof LaneBusyError) return null;
      throw err;
    }
  }

  return {
    /**
     * Records the release's state, then joins its lane. While nobody else is in the lane, the claim in PostgreSQL is
     * the whole join: no lane workflow runs. A second release escalates the lane to its workflow (handOver).
     */
    async enterLane(input: LaneTicket & Where & { record?: ReleaseState }): Promise<LaneJoinResult> {
      const { app, env, record, ...ticket } = input;
      if (record) await recordReleaseState(deps.db, record);
      const where = { app, env };
      return withLaneClaims(deps.db, laneWorkflowId(app, env), async (claims) => {
        const mine = claims.members.find((m) => m.releaseId === ticket.releaseId);
        // Only one run of a release runs at a time: a claim of another run is stale.
        if (mine && mine.runId !== ticket.runId) await claims.remove(mine.releaseId);
        if (!claims.members.some((m) => m.releaseId === ticket.releaseId)) await claims.add(ticket);
        if (!claims.escalated) {
          if (claims.members.length === 1) return { granted: true, ahead: 0 };
          await claims.setEscalated(true);
        }
        return handOver(where, claims, ticket);
      });
    },

    /**
     * The uncontended half of enterLane, for running as a local activity: records the release's state and claims the
     * lane only if nobody else is in it, without waiting for its lock and without asking anything a worker must
     * answer. A local activity holds a workflow task slot of this worker while it runs, and the contended path waits
     * on the lane workflow, which needs such a slot too: so anything contended answers null, having written nothing,
     * and the workflow calls enterLane instead.
     */
    async enterIdleLane(input: LaneTicket & Where & { record?: ReleaseState }): Promise<LaneJoinResult | null> {
      const { app, env, record, ...ticket } = input;
      return idle(laneWorkflowId(app, env), async (claims) => {
        if (claims.escalated) return null;
        const others = claims.members.filter((m) => m.releaseId !== ticket.releaseId);
        if (others.length > 0) return null;
        // Through the lane's session, like everything here: waiting for another session of the lane pool could mean
        // waiting for joins that wait on a lane workflow.
        if (record) await recordReleaseState(claims.client, record);
        const mine = claims.members.find((m) => m.releaseId === ticket.releaseId);
        if (mine && mine.runId !== ticket.runId) await claims.remove(mine.releaseId);
        if (!mine || mine.runId !== ticket.runId) await claims.add(ticket);
        return { granted: true, ahead: 0 };
      });
    },

    /**
     * The uncontended half of exitLane, for running as a local activity (see enterIdleLane): records the final state
     * and leaves a lane that is not escalated, in one transaction. False (nothing written) means exitLane must do it.
     */
    async exitIdleLane(input: { app: string; env: string; releaseId: string; runId: string; record?: ReleaseState }): Promise<boolean> {
      const { app, env, record, releaseId, runId } = input;
      return (await idle(laneWorkflowId(app, env), async (claims) => {
        if (claims.escalated) return null;
        if (record) await recordReleaseState(claims.client, record);
        const mine = claims.members.find((m) => m.releaseId === releaseId);
        if (mine && mine.runId === runId) await claims.remove(releaseId);
        return true;
      })) ?? false;
    },

    /** Records the release's state, then leaves its lane; the lane goes back to the fast path when it is empty. */
    async exitLane(input: { app: string; env: string; releaseId: string; runId: string; record?: ReleaseState }): Promise<void> {
      const { app, env, record, releaseId, runId } = input;
      const where = { app, env };
      await withLaneClaims(deps.db, laneWorkflowId(app, env), async (claims) => {
        // In the lane's transaction: whoever sees the final status also sees the lane left.
        if (record) await recordReleaseState(claims.client, record);
        const mine = claims.members.find((m) => m.releaseId === releaseId);
        if (mine && mine.runId === runId) await claims.remove(releaseId);
        if (!claims.escalated) return;
        // Signal-with-start: a leave that reaches the lane before this member's hand-over is remembered, so the
        // late hand-over does not queue a release that has gone.
        await deps.temporal.workflow.signalWithStart<typeof laneWorkflow, [{ releaseId: string; runId: string }]>('laneWorkflow', {
          ...laneStart(where), signal: laneLeaveSignal, signalArgs: [{ releaseId, runId }],
        });
        // Every member of an escalated lane was handed to the workflow and answered, so a workflow that holds and
        // queues nobody has let all of them go: the rows left are of releases it found no longer running. The lane
        // goes back to the fast path.
        if (await workflowBusy(where, { releaseId, runId })) return;
        for (const m of [...claims.members]) await claims.remove(m.releaseId);
        await claims.setEscalated(false);
      });
    },

    async releaseRunning(input: { workflowId: string; runId: string }): Promise<boolean> {
      try {
        const d = await deps.temporal.workflow.getHandle(input.workflowId, input.runId || undefined).describe();
        return d.status.name === 'RUNNING';
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) return false;
        throw err;
      }
    },
  };
}

export type LaneActivities = ReturnType<typeof createLaneActivities>;
