import * as wf from '@temporalio/workflow';
import type { NotifyActivities } from '../activities/notify-activities';
import { freezeEndSignal, type FreezeNoticeInput } from './definitions';

// One activity per target, each with its own retries: a target that is down delays nobody else.
const targets = wf.proxyActivities<NotifyActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 6, nonRetryableErrorTypes: ['NotifyRejected'] },
});

/**
 * Lives as long as one manual freeze: tells the environment's notification targets that the line stopped, then that
 * it moved again, when someone lifts the freeze (signal from DELETE /api/freezes/:id) or its `until` passes. The
 * freeze itself is enforced from PostgreSQL by the release workflows; this one only speaks.
 */
export async function freezeNoticeWorkflow(input: FreezeNoticeInput): Promise<string> {
  let ended: { by: string; at: string } | undefined;
  wf.setHandler(freezeEndSignal, (e) => {
    ended ??= e;
  });
  const tell = async (event: 'freeze-started' | 'freeze-ended') => {
    const freeze = {
      id: input.freezeId, env: input.env, reason: input.reason, by: input.by, createdAt: input.createdAt, until: input.until,
      ...(event === 'freeze-ended' ? { endedBy: ended?.by ?? null, endedAt: ended?.at ?? input.until } : {}),
    };
    await Promise.all(input.targets.map((targetId) => targets.notifyFreeze({ targetId, event, freeze }).catch((err) => {
      wf.log.warn('notification target failed', { freezeId: input.freezeId, targetId, error: String(err) });
    })));
  };
  wf.setCurrentDetails(`Freeze ${input.freezeId} of ${input.env ?? 'every environment'} by ${input.by}: ${input.reason}`);
  await tell('freeze-started');
  if (input.until) await wf.condition(() => ended !== undefined, Math.max(1000, Date.parse(input.until) - Date.now()));
  else await wf.condition(() => ended !== undefined);
  await tell('freeze-ended');
  return ended ? `lifted by ${ended.by}` : `ended at ${input.until}`;
}
