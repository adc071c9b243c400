// The ordering lanes' fast path against real Temporal, PostgreSQL and git: a release alone in its lane starts no lane
// workflow; a second one escalates the lane to its workflow, which orders them; a drained lane goes back to the fast
// path.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { laneStateQuery } from '../workflows/definitions';
import { configEnv, release, replayWorkflows } from './support/gates';
import { startStack, stopSharedTemporal, type Stack } from './support/stack';

const QUEUE = 'releases-lane-fast-path';
let stack: Stack;
let db: pg.Pool;
before(async () => {
  const env = await configEnv({ solo: { ordering: 'queue' }, busy: { ordering: 'queue' } }, { FERRY_AWAIT_FLUX: 'false', FERRY_TASK_QUEUE: QUEUE });
  stack = await startStack({ env });
  db = new pg.Pool({ connectionString: stack.databaseUrl, max: 2 });
});
after(async () => {
  await db?.end();
  await stack?.stop();
  await stopSharedTemporal();
});

const FINAL = ['committed', 'succeeded', 'failed', 'superseded'];
const laneRows = async (lane: string) => ({
  lane: (await db.query('SELECT escalated FROM lanes WHERE lane = $1', [lane])).rows[0],
  members: (await db.query('SELECT release_id FROM lane_members WHERE lane = $1 ORDER BY seq', [lane])).rows.map((r) => r.release_id as string),
});
const laneRuns = async (lane: string) => (await stack.ferry.temporal.workflow.count(`WorkflowId = "${lane}"`)).count;

describe('lane fast path', () => {
  test('releases one after another in an idle lane never start its workflow', async () => {
    for (let i = 0; i < 3; i++) {
      const { releaseId } = await release(stack, 'cart', 'solo');
      const done = await stack.waitForRelease(releaseId, FINAL);
      assert.equal(done.status, 'committed', JSON.stringify(done.timeline));
      assert.deepEqual(done.timeline.map((t: { status: string }) => t.status), ['pending', 'rendering', 'committing', 'committed']);
      assert.deepEqual(await laneRows('lane:cart:solo'), { lane: { escalated: false }, members: [] });
    }
    assert.equal(await laneRuns('lane:cart:solo'), 0);
    assert.equal(stack.git('log', '--format=%H', 'main', '--', 'solo/cart').split('\n').length, 3);
  });

  test('concurrent releases escalate the lane to its workflow, pass one at a time, and the lane drains back', async () => {
    const started = await Promise.all(Array.from({ length: 6 }, () => release(stack, 'shop', 'busy')));
    const done = await Promise.all(started.map((s) => stack.waitForRelease(s.releaseId, FINAL, 120_000)));
    assert.deepEqual(done.map((d) => d.status), Array(6).fill('committed'));
    assert.ok(done.some((d) => d.timeline.some((t: { status: string }) => t.status === 'queued')), 'no release waited in the lane');
    const startedAt = (d: any) => Date.parse(d.timeline.find((t: { status: string }) => t.status === 'rendering').at);
    const byStart = [...done].sort((a, b) => startedAt(a) - startedAt(b));
    for (let i = 1; i < byStart.length; i++) {
      assert.ok(Date.parse(byStart[i - 1].finishedAt) <= startedAt(byStart[i]), `${byStart[i].id} started before ${byStart[i - 1].id} ended`);
    }
    assert.deepEqual(stack.git('log', '--reverse', '--format=%H', 'main', '--', 'busy/shop').split('\n'), byStart.map((d) => d.gitopsCommit));

    // The workflow passed all six, the first of them handed over from its fast-path claim.
    const st = await stack.ferry.temporal.workflow.getHandle('lane:shop:busy').query(laneStateQuery);
    assert.equal(st.granted, 6);
    assert.equal(st.holder, null);
    assert.deepEqual(await laneRows('lane:shop:busy'), { lane: { escalated: false }, members: [] });

    // Drained: the next release takes the fast path again and the workflow hears nothing of it.
    const { releaseId } = await release(stack, 'shop', 'busy');
    assert.equal((await stack.waitForRelease(releaseId, FINAL)).status, 'committed');
    assert.equal((await stack.ferry.temporal.workflow.getHandle('lane:shop:busy').query(laneStateQuery)).granted, 6);
  });

  test('fast-path release and lane histories replay', async () => {
    assert.ok((await replayWorkflows(stack, 'releaseWorkflow', 10)) >= 10);
    assert.equal(await replayWorkflows(stack, 'laneWorkflow', 5), 1);
  });
});
