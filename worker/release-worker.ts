import { type NativeConnection, Worker } from '@temporalio/worker';
import { createReleaseActivities, type ReleaseActivityDeps } from '../activities/release-activities';
import { workflowBundle } from './runtime';

/** Runs release and Flux-event workflows and every activity except the GitOps write. */
export async function createReleaseWorker(opts: {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  deps: ReleaseActivityDeps;
}): Promise<Worker> {
  return Worker.create({
    connection: opts.connection,
    namespace: opts.namespace,
    taskQueue: opts.taskQueue,
    workflowBundle: await workflowBundle(),
    activities: createReleaseActivities(opts.deps),
    shutdownGraceTime: '20s',
  });
}
