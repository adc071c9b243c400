import * as wf from '@temporalio/workflow';
import type { ReleaseActivities } from '../activities/release-activities';
import { type FluxEventInput, fluxVerdictSignal } from './definitions';

const settle = wf.proxyActivities<ReleaseActivities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 20 },
});

/**
 * One run per stored Flux event (its id is the workflow id, so a replayed webhook is a no-op): finds the releases
 * the event settles (their commit is the event's commit or an ancestor of it) and tells each of them.
 */
export async function fluxEventWorkflow(input: FluxEventInput): Promise<{ notified: string[] }> {
  const targets = await settle.settleFluxEvent(input);
  const notified: string[] = [];
  for (const t of targets) {
    try {
      await wf.getExternalWorkflowHandle(t.releaseId).signal(fluxVerdictSignal, t.verdict);
      notified.push(t.releaseId);
    } catch (err) {
      // The release already ended (or never started): nothing left to settle.
      wf.log.info('release not signalled', { releaseId: t.releaseId, error: String(err) });
    }
  }
  return { notified };
}
