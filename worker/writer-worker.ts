import type { Duration } from '@temporalio/common';
import { type NativeConnection, Worker } from '@temporalio/worker';
import { type CommitReleaseInput, createWriterActivities, type WriterActivityDeps } from '../activities/writer-activities';
import type { FerryMetrics } from '../src/metrics';

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
  metrics?: FerryMetrics;
  shutdownGraceTime?: Duration;
}): Promise<Worker> {
  const activities = createWriterActivities(opts.deps);
  const metrics = opts.metrics;
  if (metrics) {
    const commitRelease = activities.commitRelease;
    activities.commitRelease = async (input: CommitReleaseInput) => {
      const end = metrics.gitCommitLatency.startTimer();
      const result = await commitRelease(input);
      end({ status: result.status });
      return result;
    };
  }
  return Worker.create({
    connection: opts.connection,
    namespace: opts.namespace,
    taskQueue: opts.taskQueue,
    activities,
    maxConcurrentActivityTaskExecutions: opts.maxQueued ?? 200,
    // A push in flight is allowed to finish before the process exits.
    shutdownGraceTime: opts.shutdownGraceTime ?? '30s',
  });
}
