import { type Client, WithStartWorkflowOperation, WorkflowNotFoundError } from '@temporalio/client';
import { laneWorkflowId } from '../src/release/types';
import { FERRY_APP, FERRY_ENV, type LaneJoinResult, type LaneTicket, laneEnqueueUpdate } from '../workflows/definitions';
import type { laneWorkflow } from '../workflows/lane';

export interface LaneActivityDeps {
  temporal: Client;
  /** Queue the lane workflows run on (the release worker's). */
  taskQueue: string;
  eventsPerRun?: number;
  holderCheck?: string;
}

/** What release and lane workflows need from the Temporal client: a workflow cannot update-with-start another. */
export function createLaneActivities(deps: LaneActivityDeps) {
  return {
    /** Joins (starting it if needed) the lane of app/env; the answer says whether the lane was free. */
    async joinLane(input: LaneTicket & { app: string; env: string }): Promise<LaneJoinResult> {
      const { app, env, ...ticket } = input;
      const start = new WithStartWorkflowOperation<typeof laneWorkflow>('laneWorkflow', {
        workflowId: laneWorkflowId(app, env),
        taskQueue: deps.taskQueue,
        args: [{ app, env, eventsPerRun: deps.eventsPerRun, holderCheck: deps.holderCheck }],
        workflowIdConflictPolicy: 'USE_EXISTING',
        typedSearchAttributes: [{ key: FERRY_APP, value: app }, { key: FERRY_ENV, value: env }],
        staticSummary: `ordering lane of ${app} in ${env}`,
      });
      // The update id makes a retried join (activity timeout after the update landed) return the first answer.
      return deps.temporal.workflow.executeUpdateWithStart(laneEnqueueUpdate, {
        args: [ticket],
        startWorkflowOperation: start,
        updateId: `join:${ticket.releaseId}@${ticket.runId}`,
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
