import { Context } from '@temporalio/activity';
import type { Duration } from '@temporalio/common';
import { type NativeConnection, Worker } from '@temporalio/worker';
import { createReleaseActivities, type ReleaseActivityDeps } from '../activities/release-activities';
import type { FerryMetrics } from '../src/metrics';
import type { ReleaseState } from '../src/release/types';
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
    const notifyRelease = activities.notifyRelease;
    // Every release ends with exactly one notification (also when `committed` is its end, FERRY_AWAIT_FLUX=false);
    // observed before sending, so a failing webhook does not hide it, and only on the first attempt.
    activities.notifyRelease = async (state: ReleaseState) => {
      if (Context.current().info.attempt === 1) {
        const seconds = (Date.parse(state.updatedAt) - Date.parse(state.createdAt)) / 1000;
        if (Number.isFinite(seconds) && seconds >= 0) metrics.releaseDuration.observe({ status: state.status }, seconds);
      }
      return notifyRelease(state);
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
