import * as wf from '@temporalio/workflow';
import type { PromotionActivities } from '../activities/promotion-activities';
import { AUTO_ROLLBACK_BY, type AutoRollbackInput, type AutoRollbackResult } from './definitions';

const promotion = wf.proxyActivities<PromotionActivities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 30 },
});

/**
 * Started by a release that failed in reconciliation, under a workflow id derived from that release, so it runs at
 * most once per failed release. Picks the target and starts the rollback exactly as POST /api/rollback does; it
 * refuses when the failed release is no longer the newest commit of app/env or nothing succeeded there before.
 */
export async function autoRollbackWorkflow(input: AutoRollbackInput): Promise<AutoRollbackResult> {
  const outcome = await promotion.rollbackRelease({ app: input.app, env: input.env, failedReleaseId: input.failedReleaseId, by: AUTO_ROLLBACK_BY });
  if (!outcome.ok) {
    wf.log.info('automatic rollback skipped', { app: input.app, env: input.env, reason: outcome.reason });
    return { rolledBack: false, reason: outcome.reason };
  }
  return { rolledBack: true, releaseId: outcome.releaseId, artifactId: outcome.artifactId };
}
