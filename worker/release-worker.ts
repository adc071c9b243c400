import { type NativeConnection, Worker } from '@temporalio/worker';
import { createLaneActivities, type LaneActivityDeps } from '../activities/lane-activities';
import { createPromotionActivities, type Promoter } from '../activities/promotion-activities';
import { createReleaseActivities, type ReleaseActivityDeps } from '../activities/release-activities';
import { workflowBundle } from './runtime';

/** Runs release, lane, auto-promotion and Flux-event workflows and every activity except the GitOps write. */
export async function createReleaseWorker(opts: {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  deps: ReleaseActivityDeps;
  lanes: LaneActivityDeps;
  promote?: Promoter;
}): Promise<Worker> {
  return Worker.create({
    connection: opts.connection,
    namespace: opts.namespace,
    taskQueue: opts.taskQueue,
    workflowBundle: await workflowBundle(),
    activities: {
      ...createReleaseActivities(opts.deps),
      ...createLaneActivities(opts.lanes),
      ...createPromotionActivities({ promote: opts.promote }),
    },
    shutdownGraceTime: '20s',
  });
}
