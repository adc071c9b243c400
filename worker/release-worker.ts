import { type NativeConnection, Worker } from '@temporalio/worker';
import { createPolicyActivities, type PolicyActivityDeps } from '../activities/policy-activities';
import { createReleaseActivities, type ReleaseActivityDeps } from '../activities/release-activities';
import { workflowBundle } from './runtime';

/** Runs release, Flux-event, artifact and branch-cleanup workflows and every activity except the GitOps write. */
export async function createReleaseWorker(opts: {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  deps: ReleaseActivityDeps;
  /** Auto-release and branch cleanup; they start workflows, so they need a Temporal client. */
  policyDeps: PolicyActivityDeps;
}): Promise<Worker> {
  return Worker.create({
    connection: opts.connection,
    namespace: opts.namespace,
    taskQueue: opts.taskQueue,
    workflowBundle: await workflowBundle(),
    activities: { ...createReleaseActivities(opts.deps), ...createPolicyActivities(opts.policyDeps) },
    shutdownGraceTime: '20s',
  });
}
