import * as wf from '@temporalio/workflow';
import type { PromotionActivities } from '../activities/promotion-activities';
import type { AutoPromoteInput, AutoPromoteResult } from './definitions';

const promotion = wf.proxyActivities<PromotionActivities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 30 },
});

/**
 * Started (and abandoned) by a release that succeeded in an environment another one promotes from automatically.
 * Waits out the soak time on a timer, then promotes with the same checks as POST /api/promote: if a newer artifact
 * or a rollback replaced this one in the source environment meanwhile, it is not promoted.
 */
export async function autoPromoteWorkflow(input: AutoPromoteInput): Promise<AutoPromoteResult> {
  if (input.soak) await wf.sleep(input.soak as Parameters<typeof wf.sleep>[0]);
  const outcome = await promotion.promoteArtifact({ app: input.app, env: input.env, expectArtifactId: input.artifactId, by: 'ferry:auto-promote' });
  if (!outcome.ok) {
    wf.log.info('auto-promotion skipped', { app: input.app, env: input.env, reason: outcome.reason });
    return { promoted: false, reason: outcome.reason };
  }
  return { promoted: true, releaseId: outcome.releaseId };
}
