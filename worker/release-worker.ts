import type { Duration } from '@temporalio/common';
import { type NativeConnection, Worker } from '@temporalio/worker';
import { createReleaseActivities, type ReleaseActivityDeps } from '../activities/release-activities';
import type { FerryMetrics } from '../src/metrics';
import { FINAL_STATUSES, type ReleaseState } from '../src/release/types';
import { workflowBundle } from './runtime';

/** Runs release and Flux-event workflows and every activity except the GitOps write. */
export async function createReleaseWorker(opts: {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  deps: ReleaseActivityDeps;
  metrics?: FerryMetrics;
  shutdownGraceTime?: Duration;
}): Promise<Worker> {
  const activities = createReleaseActivities(opts.deps);
  const metrics = opts.metrics;
  if (metrics) {
    const recordState = activities.recordState;
    // The final state is recorded once per release (a retry after a lost answer may count it twice: rare, harmless).
    activities.recordState = async (state: ReleaseState) => {
      await recordState(state);
      if (FINAL_STATUSES.has(state.status)) {
        const seconds = (Date.parse(state.updatedAt) - Date.parse(state.createdAt)) / 1000;
        if (Number.isFinite(seconds) && seconds >= 0) metrics.releaseDuration.observe({ status: state.status }, seconds);
      }
    };
  }
  return Worker.create({
    connection: opts.connection,
    namespace: opts.namespace,
    taskQueue: opts.taskQueue,
    workflowBundle: await workflowBundle(),
    activities,
    shutdownGraceTime: opts.shutdownGraceTime ?? '20s',
  });
}
