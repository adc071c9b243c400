// The smallest workflow that does what any release must: one activity on a worker, then complete.
import * as wf from '@temporalio/workflow';

const { noop } = wf.proxyActivities<{ noop(): Promise<void> }>({ startToCloseTimeout: '30 seconds' });

export async function floorWorkflow(): Promise<void> {
  await noop();
}
