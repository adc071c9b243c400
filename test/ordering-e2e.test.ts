// Ordering per app and env under concurrency: queue and supersede, through the lane entity workflow, against real
// Temporal, PostgreSQL, git and (simulated) Flux events.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { laneStateQuery } from '../workflows/definitions';
import { as, configEnv, enc, eventually, fluxResponder, getRelease, pushArtifact, replayWorkflows } from './support/gates';
import { fluxEvent, useStack } from './support/stack';

const stack = useStack(async () => {
  const env = await configEnv({
    queued: { ordering: 'queue' },
    latest: { ordering: 'supersede', approvals: { required: 1, approvers: ['bob'], timeout: '10m' } },
    fast: { ordering: 'supersede' },
    stuck: { approvals: { required: 1, approvers: ['bob'], timeout: '10m' } },
  }, { FERRY_FLUX_TIMEOUT: '5m', FERRY_LANE_EVENTS_PER_RUN: '5', FERRY_LANE_HOLDER_CHECK: '2s' });
  return { env };
});

/** Plays Flux: reports every commit of app/env that a release waits on as applied. */
async function startConcurrently(app: string, env: string, n: number): Promise<string[]> {
  const artifacts = await Promise.all(Array.from({ length: n }, () => pushArtifact(stack(), [{ app, env }])));
  const started = await Promise.all(artifacts.map((artifactId) => stack().api('POST', '/api/releases', { artifactId, env })));
  for (const s of started) assert.equal(s.status, 202, JSON.stringify(s.body));
  return started.map((s) => s.body.id as string);
}

const at = (r: any, status: string) => Date.parse(r.timeline.find((t: { status: string }) => t.status === status)?.at);

describe('queue', () => {
  test('10 concurrent releases of one app and env run one after another, in lane order, none overtaking', async () => {
    const flux = fluxResponder(stack(), { app: 'cart', env: 'queued' });
    let done: any[];
    try {
      const ids = await startConcurrently('cart', 'queued', 10);
      done = await Promise.all(ids.map((id) => stack().waitForRelease(id, ['succeeded', 'failed', 'timed-out', 'superseded'], 120_000)));
    } finally {
      await flux.stop();
    }
    assert.deepEqual(done.map((d) => d.status), Array(10).fill('succeeded'));
    assert.ok(done.some((d) => d.timeline.some((t: { status: string }) => t.status === 'queued')), 'no release ever waited in the lane');

    // Never interleaved: each release started working only after the one before it had ended.
    const byStart = [...done].sort((a, b) => at(a, 'rendering') - at(b, 'rendering'));
    for (let i = 1; i < byStart.length; i++) {
      assert.ok(Date.parse(byStart[i - 1].finishedAt) <= at(byStart[i], 'rendering'), `${byStart[i].id} started before ${byStart[i - 1].id} ended`);
    }
    // Never overtook: the GitOps history has their commits in the same order.
    const log = stack().git('log', '--reverse', '--format=%H', 'main', '--', 'queued/cart').split('\n');
    assert.deepEqual(log, byStart.map((d) => d.gitopsCommit));

    // The lane kept its state across continue-as-new (FERRY_LANE_EVENTS_PER_RUN=5: 20 events, several runs).
    const lane = stack().ferry.temporal.workflow.getHandle('lane:cart:queued');
    // The last release leaves the lane just after recording its final state.
    const state = await eventually('an empty lane', async () => {
      const st = await lane.query(laneStateQuery);
      return st.holder === null ? st : null;
    });
    assert.deepEqual(state.queue, []);
    assert.equal(state.granted, 10);
    const runs = await stack().ferry.temporal.workflow.count(`WorkflowId = "lane:cart:queued"`);
    assert.ok(runs.count >= 3, `lane ran ${runs.count} runs; expected continue-as-new`);
  });
});

describe('supersede', () => {
  test('of 10 concurrent releases waiting for approval, only the newest survives; the others end superseded', async () => {
    const ids = await startConcurrently('search', 'latest', 10);
    const ended = await eventually('9 superseded releases', async () => {
      const rows = await Promise.all(ids.map((id) => getRelease(stack(), id)));
      return rows.filter((r) => r.status === 'superseded').length === 9 ? rows : null;
    }, 120_000);
    const survivor = ended.find((r) => r.status !== 'superseded');
    const waiting = await stack().waitForRelease(survivor.id, ['awaiting-approval']);
    for (const r of ended.filter((x) => x.status === 'superseded')) {
      assert.equal(r.gitopsCommit, null);
      assert.match(r.timeline.at(-1).message, /superseded by release:search:latest:/);
      assert.ok(r.finishedAt);
    }
    // Each superseded release names a newer one; following the chain always ends at the survivor.
    const next = new Map(ended.filter((x) => x.status === 'superseded').map((r) => [r.id, /superseded by (\S+)/.exec(r.timeline.at(-1).message)?.[1]]));
    for (let id of next.keys()) {
      for (let hops = 0; next.has(id) && hops < 20; hops++) id = next.get(id) as string;
      assert.equal(id, survivor.id);
    }

    const flux = fluxResponder(stack(), { app: 'search', env: 'latest' });
    try {
      const ok = await stack().api('POST', `/api/releases/${enc(waiting.id)}/approve`, {}, as('bob'));
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      assert.equal((await stack().waitForRelease(survivor.id, ['succeeded', 'failed'])).status, 'succeeded');
    } finally {
      await flux.stop();
    }
    assert.equal(stack().git('log', '--format=%H', 'main', '--', 'latest/search').split('\n').length, 1);
  });

  test('a release that already committed is never cancelled: the newer one waits for it', async () => {
    const a = await startConcurrently('checkout', 'fast', 1);
    const committed = await stack().waitForRelease(a[0], ['reconciling']);
    const [b] = await startConcurrently('checkout', 'fast', 1);
    assert.equal((await stack().waitForRelease(b, ['queued'])).status, 'queued');
    const [c] = await startConcurrently('checkout', 'fast', 1);
    // The queued one is superseded at once; the committed one keeps waiting for Flux.
    assert.equal((await stack().waitForRelease(b, ['superseded'])).status, 'superseded');
    assert.equal((await stack().waitForRelease(c, ['queued'])).status, 'queued');
    assert.equal((await getRelease(stack(), a[0])).status, 'reconciling');

    await stack().postFlux(fluxEvent('ReconciliationSucceeded', committed.gitopsCommit, { env: committed.env }));
    assert.equal((await stack().waitForRelease(a[0], ['succeeded', 'superseded'])).status, 'succeeded');
    const cWaiting = await stack().waitForRelease(c, ['reconciling']);
    await stack().postFlux(fluxEvent('ReconciliationSucceeded', cWaiting.gitopsCommit, { env: cWaiting.env }));
    const cDone = await stack().waitForRelease(c, ['succeeded', 'failed']);
    assert.equal(cDone.status, 'succeeded');
    assert.ok(Date.parse((await getRelease(stack(), a[0])).finishedAt) <= at(cDone, 'rendering'));
  });
});

describe('lane recovery', () => {
  test('a holder that was terminated (and so never left) is noticed, and the lane passes on', async () => {
    const [first] = await startConcurrently('ledger', 'stuck', 1);
    await stack().waitForRelease(first, ['awaiting-approval']);
    const [second] = await startConcurrently('ledger', 'stuck', 1);
    assert.equal((await stack().waitForRelease(second, ['queued'])).status, 'queued');
    await stack().ferry.temporal.workflow.getHandle(first).terminate('operator removed it');
    // The lane checks its holder every 2 s here (FERRY_LANE_HOLDER_CHECK); the next release gets its turn.
    assert.equal((await stack().waitForRelease(second, ['awaiting-approval'], 30_000)).status, 'awaiting-approval');
  });
});

describe('ordering determinism', () => {
  test('lane (across continue-as-new) and queued/superseded release histories replay', async () => {
    assert.ok((await replayWorkflows(stack(), 'laneWorkflow', 4)) >= 3);
    assert.ok((await replayWorkflows(stack(), 'releaseWorkflow', 6)) >= 6);
  });
});
