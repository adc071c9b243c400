import { type NativeConnection, Worker } from '@temporalio/worker';
import type { FluxApi } from '../activities/kube';
import { createNotifyActivities } from '../activities/notify-activities';
import { createPolicyActivities, type PolicyActivityDeps } from '../activities/policy-activities';
import { createReconcileActivities } from '../activities/reconcile-activities';
import { createReleaseActivities, type ReleaseActivityDeps } from '../activities/release-activities';
import { loadReconcileConfig, type ReconcileConfig } from '../src/reconcile/config';
import { workflowBundle } from './runtime';

/** Runs release, Flux-event, artifact and branch-cleanup workflows and every activity except the GitOps write. */
export async function createReleaseWorker(opts: {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  deps: ReleaseActivityDeps & { reconcile?: ReconcileConfig; fluxApiFor?: (kubeconfig: string, context?: string) => FluxApi };
  /** Auto-release and branch cleanup; they start workflows, so they need a Temporal client. */
  policyDeps: PolicyActivityDeps;
}): Promise<Worker> {
  const reconcile = opts.deps.reconcile ?? loadReconcileConfig(undefined);
  return Worker.create({
    connection: opts.connection,
    namespace: opts.namespace,
    taskQueue: opts.taskQueue,
    workflowBundle: await workflowBundle(),
    activities: {
      ...createReleaseActivities(opts.deps),
      ...createReconcileActivities({ reconcile, git: opts.deps.git, log: opts.deps.log, fluxApiFor: opts.deps.fluxApiFor }),
      ...createNotifyActivities({ db: opts.deps.db, reconcile, log: opts.deps.log }),
      ...createPolicyActivities(opts.policyDeps),
    },
    shutdownGraceTime: '20s',
  });
}
