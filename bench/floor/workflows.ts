// The smallest workflow that does what any release must: one activity on a worker, then complete.
import * as wf from '@temporalio/workflow';
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

const { noop } = wf.proxyActivities<{ noop(): Promise<void> }>({ startToCloseTimeout: '30 seconds' });
const STATUS = defineSearchAttributeKey('FerryStatus', SearchAttributeType.KEYWORD);

/** `upserts`: search-attribute upserts before and after the activity, to measure what one costs the server. */
export async function floorWorkflow(upserts = 0): Promise<void> {
  for (let i = 0; i < Math.ceil(upserts / 2); i++) wf.upsertSearchAttributes([{ key: STATUS, value: `before-${i}` }]);
  await noop();
  for (let i = 0; i < Math.floor(upserts / 2); i++) wf.upsertSearchAttributes([{ key: STATUS, value: `after-${i}` }]);
}
