// Promotion along a chain with soak time, auto-promotion, rollback, status and history, end to end against real
// Temporal, PostgreSQL, git and (simulated) Flux events.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { as, configEnv, enc, eventually, fluxResponder, getRelease, pushArtifact, replayWorkflows, trailersOf } from './support/gates';
import { startStack, stopSharedTemporal, type Stack } from './support/stack';

let stack: Stack;
let flux: { stop(): Promise<void> };

/** Plays Flux for every release waiting on it. */
before(async () => {
  const env = await configEnv({
    dev: { ordering: 'supersede' },
    staging: { promotion: { from: 'dev', auto: true, soak: '4s' } },
    production: { promotion: { from: 'staging', soak: '3s' }, approvals: { required: 1, approvers: ['bob'], timeout: '10m' } },
    live: { approvals: { required: 1, approvers: ['bob'], timeout: '10m' }, rollback: { bypassApprovals: true } },
  }, { FERRY_FLUX_TIMEOUT: '2m' });
  stack = await startStack({ env });
  flux = fluxResponder(stack);
});
after(async () => {
  await flux?.stop();
  await stack?.stop();
  await stopSharedTemporal();
});

const CHAIN = ['dev', 'staging', 'production', 'live'].map((env) => ({ app: 'shop', env }));

async function approveWhenAsked(releaseId: string): Promise<void> {
  await stack.waitForRelease(releaseId, ['awaiting-approval']);
  const r = await stack.api('POST', `/api/releases/${enc(releaseId)}/approve`, { comment: 'ok' }, as('bob'));
  assert.equal(r.status, 200, JSON.stringify(r.body));
}

describe('promotion', () => {
  test('an artifact moves dev → staging (automatically, after soaking) → production (on request, after soaking, approved)', async () => {
    const artifactId = await pushArtifact(stack, CHAIN);
    const early = await stack.api('POST', '/api/promote', { app: 'shop', env: 'production' });
    assert.equal(early.status, 409);
    assert.match(early.body.error, /nothing of app "shop" runs successfully in "staging"/);
    const notTarget = await stack.api('POST', '/api/promote', { app: 'shop', env: 'dev' });
    assert.equal(notTarget.status, 422);
    assert.equal((await stack.api('POST', '/api/promote', { app: 'shop' })).status, 400);

    const dev = await stack.api('POST', '/api/releases', { artifactId, env: 'dev' });
    const devDone = await stack.waitForRelease(dev.body.id, ['succeeded', 'failed']);
    assert.equal(devDone.status, 'succeeded');
    // Noted in the timeline just after the final status.
    await eventually('the auto-promotion note', async () => (await getRelease(stack, dev.body.id)).timeline.some((t: { message?: string }) => /auto-promotion to staging after a soak of 4s/.test(t.message ?? '')));

    // Nobody asks: staging gets the artifact once it has soaked in dev.
    const stagingId = `release:shop:staging:${artifactId}`;
    const staging = await stack.waitForRelease(stagingId, ['succeeded', 'failed'], 60_000);
    assert.equal(staging.status, 'succeeded');
    assert.equal(staging.trigger, 'promote');
    assert.equal(staging.releasedBy, 'ferry:auto-promote');
    assert.equal(staging.promotedFrom, dev.body.id);
    assert.ok(Date.parse(staging.createdAt) >= Date.parse(devDone.finishedAt) + 4000, 'promoted before the soak time was over');
    assert.equal(trailersOf(stack, staging.gitopsCommit)['Ferry-Promoted-From'], dev.body.id);

    const soaking = await stack.api('POST', '/api/promote', { app: 'shop', env: 'production' }, as('alice'));
    assert.equal(soaking.status, 409);
    assert.match(soaking.body.error, /must run in "staging" for 3s/);
    await new Promise((r) => setTimeout(r, Math.max(0, Date.parse(soaking.body.soakUntil) - Date.now() + 200)));

    const promoted = await stack.api('POST', '/api/promote', { app: 'shop', env: 'production' }, as('alice'));
    assert.equal(promoted.status, 202, JSON.stringify(promoted.body));
    assert.equal(promoted.body.id, `release:shop:production:${artifactId}`);
    // Promotion passes production's gates.
    await approveWhenAsked(promoted.body.id);
    const prod = await stack.waitForRelease(promoted.body.id, ['succeeded', 'failed']);
    assert.equal(prod.status, 'succeeded');
    assert.equal(prod.releasedBy, 'alice');
    assert.equal(prod.promotedFrom, stagingId);
    const again = await stack.api('POST', '/api/promote', { app: 'shop', env: 'production' }, as('alice'));
    assert.equal(again.status, 200);
    assert.equal(again.body.id, promoted.body.id);
  });

  test('auto-promotion and promoted release histories replay', async () => {
    assert.ok((await replayWorkflows(stack, 'autoPromoteWorkflow', 3)) >= 1);
  });
});

describe('rollback', () => {
  const versions: Array<{ artifactId: string; releaseId: string; commit: string }> = [];

  before(async () => {
    for (let i = 0; i < 3; i++) {
      const artifactId = await pushArtifact(stack, CHAIN);
      const started = await stack.api('POST', '/api/releases', { artifactId, env: 'live' });
      await approveWhenAsked(started.body.id);
      const done = await stack.waitForRelease(started.body.id, ['succeeded', 'failed']);
      assert.equal(done.status, 'succeeded');
      versions.push({ artifactId, releaseId: started.body.id, commit: done.gitopsCommit });
    }
  });

  test('rolls back to the artifact that ran before, as a new forward commit, skipping approvals where allowed', async () => {
    const [, v2, v3] = versions;
    const r = await stack.api('POST', '/api/rollback', { app: 'shop', env: 'live' }, as('carol'));
    assert.equal(r.status, 202, JSON.stringify(r.body));
    assert.equal(r.body.rollbackOf, v3.releaseId);
    assert.match(r.body.id, new RegExp(`^release:shop:live:${v2.artifactId}:rollback-[0-9a-f]{10}$`));
    assert.notEqual(r.body.id, v2.releaseId);
    const same = await stack.api('POST', '/api/rollback', { app: 'shop', env: 'live' }, as('carol'));
    assert.equal(same.body.id, r.body.id, 'a repeated rollback request joins the first');

    const done = await stack.waitForRelease(r.body.id, ['succeeded', 'failed', 'awaiting-approval']);
    assert.equal(done.status, 'succeeded');
    assert.equal(done.trigger, 'rollback');
    assert.equal(done.artifactId, v2.artifactId);
    assert.equal(done.rollbackOf, v3.releaseId);
    assert.deepEqual(done.decisions.map((d: { kind: string }) => d.kind), ['approvals-bypassed']);
    // A forward commit on top of v3 whose manifests are v2's again.
    assert.equal(stack.git('rev-parse', `${done.gitopsCommit}^`), v3.commit);
    assert.equal(stack.git('rev-parse', `${done.gitopsCommit}:live/shop`), stack.git('rev-parse', `${v2.commit}:live/shop`));
    const trailers = trailersOf(stack, done.gitopsCommit);
    assert.equal(trailers['Ferry-Rollback-Of'], v3.releaseId);
    assert.equal(trailers['Ferry-Trigger'], 'rollback');
    assert.equal(trailers['Ferry-Released-By'], 'carol');
    assert.equal(trailers['Ferry-Release-Id'], r.body.id);
  });

  test('rolls back to an artifact named by id or by GitOps commit', async () => {
    const [v1, , v3] = versions;
    const byId = await stack.api('POST', '/api/rollback', { app: 'shop', env: 'live', to: v1.artifactId });
    assert.equal(byId.status, 202, JSON.stringify(byId.body));
    const one = await stack.waitForRelease(byId.body.id, ['succeeded', 'failed']);
    assert.equal(one.artifactId, v1.artifactId);
    assert.equal(stack.git('rev-parse', `${one.gitopsCommit}:live/shop`), stack.git('rev-parse', `${v1.commit}:live/shop`));

    const byCommit = await stack.api('POST', '/api/rollback', { app: 'shop', env: 'live', to: v3.commit.slice(0, 12) });
    assert.equal(byCommit.status, 202, JSON.stringify(byCommit.body));
    assert.equal(byCommit.body.rollbackOf, byId.body.id);
    const three = await stack.waitForRelease(byCommit.body.id, ['succeeded', 'failed']);
    assert.equal(three.artifactId, v3.artifactId);

    const already = await stack.api('POST', '/api/rollback', { app: 'shop', env: 'live', to: v3.artifactId });
    assert.equal(already.status, 409);
    const unknown = await stack.api('POST', '/api/rollback', { app: 'shop', env: 'live', to: 'deadbeefdeadbeef' });
    assert.equal(unknown.status, 404);
    const nothing = await stack.api('POST', '/api/rollback', { app: 'nobody', env: 'live' });
    assert.equal(nothing.status, 409);
    const bad = await stack.api('POST', '/api/rollback', { app: 'shop', env: 'live', to: '../etc' });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.issues[0].path, 'to');
  });
});

describe('status and history', () => {
  test('status shows, per environment, what runs, its version, commit, Flux state and releases in flight', async () => {
    const pending = await stack.api('POST', '/api/releases', { artifactId: await pushArtifact(stack, CHAIN), env: 'production' });
    await stack.waitForRelease(pending.body.id, ['awaiting-approval']);

    const r = await stack.api('GET', '/api/status?app=shop');
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.app, 'shop');
    assert.deepEqual(r.body.environments.map((e: { env: string }) => e.env), ['dev', 'live', 'staging', 'production']);
    const byEnv = Object.fromEntries(r.body.environments.map((e: { env: string }) => [e.env, e]));
    const live = byEnv.live;
    assert.equal(live.current.status, 'succeeded');
    assert.equal(live.current.trigger, 'rollback');
    assert.equal(live.gitopsCommit, live.current.gitopsCommit);
    assert.equal(live.fluxStatus, 'ReconciliationSucceeded');
    assert.equal(live.version.sha, live.current.sha);
    assert.equal(live.version.authorName, 'Ada Lovelace');
    assert.equal(live.version.branch, 'main');
    assert.equal(live.version.message, 'Make the shop faster');
    assert.match(live.version.url, /^https:\/\/git.example.com\//);
    assert.equal(live.version.image, `registry.example.com/acme/shop:${live.current.sha}`);
    assert.deepEqual(live.inFlight, []);
    assert.deepEqual(byEnv.production.inFlight.map((x: { id: string }) => x.id), [pending.body.id]);
    assert.equal(byEnv.production.inFlight[0].status, 'awaiting-approval');
    assert.equal(byEnv.production.current.trigger, 'promote');

    assert.equal((await stack.api('GET', '/api/status')).status, 400);
    const unknown = await stack.api('GET', '/api/status?app=nobody');
    assert.ok(unknown.body.environments.every((e: { current: unknown }) => e.current === null));
  });

  test('history pages newest first with who, why and the outcome, under every filter', async () => {
    const all = (await stack.ferry.db.query(`SELECT id FROM releases WHERE app = 'shop' ORDER BY created_at DESC, id DESC`)).rows.map((x) => x.id);
    const seen: string[] = [];
    let before: string | null = null;
    let pages = 0;
    do {
      const q: string = `/api/releases?app=shop&limit=3${before ? `&before=${enc(before)}` : ''}`;
      const page = await stack.api('GET', q);
      assert.equal(page.status, 200, JSON.stringify(page.body));
      assert.ok(page.body.items.length <= 3);
      for (const item of page.body.items) {
        assert.equal(typeof item.releasedBy, 'string');
        assert.ok(['manual', 'promote', 'rollback', 'auto'].includes(item.trigger));
        assert.equal(typeof item.status, 'string');
        assert.ok(Array.isArray(item.timeline));
      }
      seen.push(...page.body.items.map((x: { id: string }) => x.id));
      before = page.body.nextBefore;
      pages += 1;
    } while (before && pages < 50);
    assert.deepEqual(seen, all);
    assert.ok(pages >= 4);

    const rollbacks = await stack.api('GET', '/api/releases?app=shop&env=live&limit=50');
    assert.deepEqual(rollbacks.body.items.map((x: { trigger: string }) => x.trigger), ['rollback', 'rollback', 'rollback', 'manual', 'manual', 'manual']);
    assert.equal(rollbacks.body.nextBefore, null);
    const waiting = await stack.api('GET', '/api/releases?status=awaiting-approval');
    assert.ok(waiting.body.items.length >= 1);
    assert.ok(waiting.body.items.every((x: { status: string }) => x.status === 'awaiting-approval'));
    const promoted = await stack.api('GET', '/api/releases?env=staging&status=succeeded');
    assert.deepEqual(promoted.body.items.map((x: { releasedBy: string }) => x.releasedBy), ['ferry:auto-promote']);

    for (const bad of ['status=bogus', 'limit=0', 'limit=999', 'before=garbage', 'env=../x', 'colour=red']) {
      const r = await stack.api('GET', `/api/releases?${bad}`);
      assert.equal(r.status, 400, bad);
      assert.ok(r.body.issues?.length, bad);
    }
    const one = await getRelease(stack, seen[0]);
    assert.ok(one.timeline.every((t: { at: string; status: string }) => t.status && !Number.isNaN(Date.parse(t.at))));
  });
});
