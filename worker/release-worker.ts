import { Context } from '@temporalio/activity';
import type { Duration } from '@temporalio/common';
import { type NativeConnection, Worker } from '@temporalio/worker';
import type { FluxApi } from '../activities/kube';
import { createNotifyActivities } from '../activities/notify-activities';
import { createPolicyActivities, type PolicyActivityDeps } from '../activities/policy-activities';
import { createReconcileActivities } from '../activities/reconcile-activities';
import { createLaneActivities, type LaneActivityDeps } from '../activities/lane-activities';
import { createPromotionActivities, type Promoter, type Rollbacker } from '../activities/promotion-activities';
import { createReleaseActivities, type ReleaseActivityDeps } from '../activities/release-activities';
import { EMPTY_RECONCILE_FILE, type ReconcileConfig, resolveReconcileConfig } from '../src/reconcile/config';
import type { FerryMetrics } from '../src/metrics';
import type { ReleaseState } from '../src/release/types';
import { workflowBundle } from './runtime';

/** Runs release, lane, auto-promotion, artifact, branch-cleanup and Flux-event workflows and every activity but the GitOps write. */
export async function createReleaseWorker(opts: {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  deps: ReleaseActivityDeps & { reconcile?: ReconcileConfig; fluxApiFor?: (kubeconfig: string, context?: string) => FluxApi };
  /** Auto-release and branch cleanup; they start workflows, so they need a Temporal client. */
  policyDeps: PolicyActivityDeps;
  metrics?: FerryMetrics;
  shutdownGraceTime?: Duration;
  lanes: LaneActivityDeps;
  promote?: Promoter;
  rollback?: Rollbacker;
}): Promise<Worker> {
  const reconcile = opts.deps.reconcile ?? resolveReconcileConfig(EMPTY_RECONCILE_FILE, {}, process.cwd());
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
    activities: {
      ...activities,
      ...createReconcileActivities({ reconcile, git: opts.deps.git, log: opts.deps.log, fluxApiFor: opts.deps.fluxApiFor, db: opts.deps.db, environments: opts.deps.environments }),
      ...createNotifyActivities({ db: opts.deps.db, reconcile, log: opts.deps.log }),
      ...createPolicyActivities(opts.policyDeps),
      ...createLaneActivities(opts.lanes),
      ...createPromotionActivities({ promote: opts.promote, rollback: opts.rollback }),
    },
    shutdownGraceTime: opts.shutdownGraceTime ?? '20s',
  });
}
