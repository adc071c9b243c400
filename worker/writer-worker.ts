import { type NativeConnection, Worker } from '@temporalio/worker';
import { createWriterActivities, type WriterActivityDeps } from '../activities/writer-activities';

/**
 * Serves the GitOps writer's task queue. Git operations are serialised inside the GitopsWriter (one batch, one
 * push at a time); the activity slots only let releases queue up so that one push can carry many of them.
 */
export async function createWriterWorker(opts: {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  deps: WriterActivityDeps;
  maxQueued?: number;
}): Promise<Worker> {
  return Worker.create({
    connection: opts.connection,
    namespace: opts.namespace,
    taskQueue: opts.taskQueue,
    activities: createWriterActivities(opts.deps),
    maxConcurrentActivityTaskExecutions: opts.maxQueued ?? 200,
    // A push in flight is allowed to finish before the process exits.
    shutdownGraceTime: '30s',
  });
}
