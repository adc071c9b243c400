// Approvals and freeze windows end to end: real Temporal (Updates with validators, timers), PostgreSQL and git.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { resolveTemporalExecutable } from '../server/tools';
import { workflowBundle } from '../worker/runtime';
import { as, configEnv, enc, eventually, getRelease, release, replayWorkflows, trailersOf } from './support/gates';
import { sharedTemporal, startStack, stopSharedTemporal, type Stack } from './support/stack';

let stack: Stack;
// A one-off freeze that ends shortly after the stack is up, and a daily one around now.
let thawAt: Date;
const hhmm = (d: Date) => d.toISOString().slice(11, 16);

before(async () => {
  // The dev server and the workflow bundle first, so the freeze below starts counting once the slow parts are done.
  await Promise.all([sharedTemporal(), workflowBundle()]);
  const now = Date.now();
  thawAt = new Date(now + 30_000);
  const env = await configEnv({
    production: { approvals: { required: 2, approvers: ['alice', 'bob', 'carol'], fourEyes: true, timeout: '10m' } },
    qa: { approvals: { required: 1, approvers: ['bob'], timeout: '3s' } },
    launch: { freezes: [{ name: 'launch day', from: new Date(now - 3600_000).toISOString(), to: thawAt.toISOString() }] },
    weekend: {
      freezes: [{ name: 'office hours', timeZone: 'UTC', daily: { from: hhmm(new Date(now - 3600_000)), to: hhmm(new Date(now + 3 * 3600_000)) } }],
      hotfix: { allowed: ['carol'] },
    },
  }, { FERRY_AWAIT_FLUX: 'false' });
  stack = await startStack({ env });
});
after(async () => {
  await stack?.stop();
  await stopSharedTemporal();
});

describe('freeze windows', () => {
  test('a release that reaches a freeze waits (frozen) until it ends, then commits', async () => {
    const { releaseId } = await release(stack, 'storefront', 'launch');
    const frozen = await stack.waitForRelease(releaseId, ['frozen', 'committed', 'failed']);
    assert.equal(frozen.status, 'frozen', `the release should wait for the freeze (ends ${thawAt.toISOString()})`);
    assert.equal(frozen.waiting.kind, 'freeze');
    assert.equal(frozen.waiting.window, 'launch day');
    assert.equal(Date.parse(frozen.waiting.until), thawAt.getTime());
    assert.equal(frozen.gitopsCommit, null);

    const done = await stack.waitForRelease(releaseId, ['committed', 'failed'], 90_000);
    assert.equal(done.status, 'committed');
    const committing = done.timeline.find((t: { status: string }) => t.status === 'committing');
    assert.ok(Date.parse(committing.at) >= thawAt.getTime(), `committed at ${committing.at}, before the freeze ended at ${thawAt.toISOString()}`);
    assert.deepEqual(done.timeline.map((t: { status: string }) => t.status), ['pending', 'rendering', 'frozen', 'committing', 'committed']);
  });

  test('a hotfix override by an allowed person releases through a recurring freeze, and is recorded', async () => {
    const { releaseId } = await release(stack, 'storefront', 'weekend', 'alice');
    const frozen = await stack.waitForRelease(releaseId, ['frozen', 'committed']);
    assert.equal(frozen.status, 'frozen');
    assert.deepEqual(frozen.waiting.hotfixAllowed, ['carol']);
    const route = `/api/releases/${enc(releaseId)}/hotfix`;

    const byMallory = await stack.api('POST', route, { comment: 'let me' }, as('mallory'));
    assert.equal(byMallory.status, 403);
    assert.match(byMallory.body.error, /mallory may not override freezes in weekend/);
    const noReason = await stack.api('POST', route, {}, as('carol'));
    assert.equal(noReason.status, 422);
    assert.match(noReason.body.error, /reason/);
    assert.equal((await stack.api('POST', route, { comment: 'x', extra: 1 }, as('carol'))).status, 400);

    const ok = await stack.api('POST', route, { comment: 'checkout is down, INC-42' }, as('carol'));
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.equal(ok.body.decision, 'overridden');
    const again = await stack.api('POST', route, { comment: 'again' }, as('carol'));
    assert.ok([409].includes(again.status), JSON.stringify(again.body));

    const done = await stack.waitForRelease(releaseId, ['committed', 'failed']);
    assert.equal(done.status, 'committed');
    const hotfix = done.decisions.find((d: { kind: string }) => d.kind === 'hotfix');
    assert.equal(hotfix.by, 'carol');
    assert.equal(hotfix.comment, 'checkout is down, INC-42');
    assert.ok(done.timeline.some((t: { decision?: string; by?: string }) => t.decision === 'hotfix' && t.by === 'carol'));
    const trailers = trailersOf(stack, done.gitopsCommit);
    assert.equal(trailers['Ferry-Hotfix-By'], 'carol');
    assert.equal(trailers['Ferry-Released-By'], 'alice');
  });
});

describe('approvals', () => {
  test('a gated release waits; wrong approvers are refused at once; two distinct approvals commit it', async () => {
    const { releaseId } = await release(stack, 'ledger', 'production', 'alice');
    const waiting = await stack.waitForRelease(releaseId, ['awaiting-approval', 'committed']);
    assert.equal(waiting.status, 'awaiting-approval');
    assert.deepEqual(waiting.waiting.approvers, ['alice', 'bob', 'carol']);
    assert.equal(waiting.waiting.required, 2);
    assert.equal(waiting.gitopsCommit, null);
    const route = (a: string) => `/api/releases/${enc(releaseId)}/${a}`;

    const stranger = await stack.api('POST', route('approve'), { comment: 'sure' }, as('mallory'));
    assert.equal(stranger.status, 403);
    assert.match(stranger.body.error, /mallory may not approve releases to production/);
    const admin = await stack.api('POST', route('approve'), {});
    assert.equal(admin.status, 403);
    const self = await stack.api('POST', route('approve'), {}, as('alice'));
    assert.equal(self.status, 403);
    assert.match(self.body.error, /four-eyes/);
    assert.equal((await stack.api('POST', route('approve'), {}, { token: null })).status, 401);
    assert.equal((await stack.api('POST', route('approve'), { comment: 42 }, as('bob'))).status, 400);
    assert.equal((await stack.api('POST', route('hotfix'), { comment: 'nope' }, as('bob'))).status, 409);

    const first = await stack.api('POST', route('approve'), { comment: 'diff looks right' }, as('bob'));
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.equal(first.body.decision, 'pending');
    assert.equal(first.body.status, 'awaiting-approval');
    assert.deepEqual(first.body.approvals.map((a: { by: string }) => a.by), ['bob']);
    const twice = await stack.api('POST', route('approve'), {}, as('bob'));
    assert.equal(twice.status, 409);
    assert.match(twice.body.error, /already approved/);
    // Refusals leave nothing behind: still one approval.
    assert.equal((await getRelease(stack, releaseId)).approvals.length, 1);

    const second = await stack.api('POST', route('approve'), { comment: 'ship it' }, as('carol'));
    assert.equal(second.status, 200, JSON.stringify(second.body));
    assert.equal(second.body.decision, 'approved');
    assert.notEqual(second.body.status, 'awaiting-approval');
    assert.deepEqual(second.body.approvals.map((a: { by: string }) => a.by), ['bob', 'carol']);

    const done = await stack.waitForRelease(releaseId, ['committed', 'failed']);
    assert.equal(done.status, 'committed');
    assert.deepEqual(done.approvals.map((a: { by: string; comment: string }) => [a.by, a.comment]), [['bob', 'diff looks right'], ['carol', 'ship it']]);
    for (const a of done.approvals) assert.ok(!Number.isNaN(Date.parse(a.at)));
    const approvalsInTimeline = done.timeline.filter((t: { decision?: string }) => t.decision === 'approve');
    assert.deepEqual(approvalsInTimeline.map((t: { by: string }) => t.by), ['bob', 'carol']);
    assert.equal(trailersOf(stack, done.gitopsCommit)['Ferry-Approved-By'], 'bob, carol');

    const late = await stack.api('POST', route('approve'), {}, as('bob'));
    assert.equal(late.status, 409);
    assert.equal((await stack.api('POST', `/api/releases/${enc('release:nope:x:y')}/approve`, {}, as('bob'))).status, 404);
  });

  test('a rejection by an approver ends the release rejected, with who and why', async () => {
    const { releaseId } = await release(stack, 'ledger', 'production');
    await stack.waitForRelease(releaseId, ['awaiting-approval']);
    const notAllowed = await stack.api('POST', `/api/releases/${enc(releaseId)}/reject`, { comment: 'no' }, as('mallory'));
    assert.equal(notAllowed.status, 403);
    const rejected = await stack.api('POST', `/api/releases/${enc(releaseId)}/reject`, { comment: 'breaks the ledger schema' }, as('carol'));
    assert.equal(rejected.status, 200, JSON.stringify(rejected.body));
    assert.equal(rejected.body.status, 'rejected');
    const done = await stack.waitForRelease(releaseId, ['rejected', 'committed']);
    assert.equal(done.status, 'rejected');
    assert.equal(done.gitopsCommit, null);
    assert.ok(done.finishedAt);
    assert.deepEqual(done.decisions.map((d: { kind: string; by: string; comment: string }) => [d.kind, d.by, d.comment]), [['reject', 'carol', 'breaks the ledger schema']]);
    assert.match(done.timeline.at(-1).message, /rejected by carol: breaks the ledger schema/);
    // A rejected release failed its run: asking again starts a new run, which needs its approvals again.
    const again = await stack.api('POST', '/api/releases', { artifactId: done.artifactId, env: 'production' });
    assert.equal(again.status, 202, JSON.stringify(again.body));
    assert.deepEqual([again.body.id, again.body.existing], [releaseId, false]);
    await eventually('the new run awaiting approval', async () => {
      const r = await getRelease(stack, releaseId);
      return r.status === 'awaiting-approval' && r.decisions.length === 0;
    });
    const second = await stack.api('POST', `/api/releases/${enc(releaseId)}/reject`, { comment: 'still no' }, as('carol'));
    assert.equal(second.status, 200, JSON.stringify(second.body));
  });

  test('without enough approvals in time the release ends expired', async () => {
    const { releaseId } = await release(stack, 'ledger', 'qa');
    const done = await stack.waitForRelease(releaseId, ['expired', 'committed'], 30_000);
    assert.equal(done.status, 'expired');
    assert.match(done.error, /approval expired after 3s/);
    assert.equal(done.gitopsCommit, null);
    assert.ok(done.timeline.some((t: { status: string }) => t.status === 'awaiting-approval'));
  });

  test('an operator approves from the Temporal CLI with the documented command', async () => {
    const { releaseId } = await release(stack, 'billing', 'production');
    await stack.waitForRelease(releaseId, ['awaiting-approval']);
    const cli = resolveTemporalExecutable();
    assert.equal(cli.type, 'existing-path');
    // Asynchronously: the worker runs in this process and must keep serving the workflow meanwhile.
    const run = async (input: string) => (await promisify(execFile)((cli as { path: string }).path, [
      'workflow', 'update', 'execute', '--address', stack.temporal.address, '--namespace', 'default',
      '--workflow-id', releaseId, '--name', 'approve', '--input', input,
    ], { encoding: 'utf8' })).stdout;
    assert.match(await run('{"by": "bob", "comment": "approved on the CLI"}'), /bob/);
    // The validator refuses on the CLI too.
    await assert.rejects(run('{"by": "mallory"}'), /mallory may not approve/);
    await run('{"by": "carol"}');
    const done = await stack.waitForRelease(releaseId, ['committed', 'failed']);
    assert.deepEqual(done.approvals.map((a: { by: string }) => a.by), ['bob', 'carol']);
    // Decisions that came through Temporal rather than Ferry's API say so, down to the commit.
    assert.deepEqual(done.decisions.map((d: { channel: string }) => d.channel), ['temporal', 'temporal']);
    assert.ok(done.timeline.some((t: { message?: string }) => /approved by bob \(1 of 2\) \(via Temporal\): approved on the CLI/.test(t.message ?? '')));
    assert.equal(trailersOf(stack, done.gitopsCommit)['Ferry-Approved-By'], 'bob (via Temporal), carol (via Temporal)');
  });

  test('approve and reject signals are validated like the Updates; a refused one is recorded, never dropped', async () => {
    const { releaseId } = await release(stack, 'signals', 'production', 'alice');
    await stack.waitForRelease(releaseId, ['awaiting-approval']);
    // The workflow's page in the Temporal UI says what it waits for (its current details).
    const meta = await stack.ferry.temporal.workflow.getHandle(releaseId).query<{ currentDetails?: string }>('__temporal_workflow_metadata');
    assert.match(meta.currentDetails ?? '', /Awaiting approval\*\*: 2 approval\(s\) from alice, bob, carol \(four eyes: not alice\)[\s\S]*Deadline: \S+ \(10m\)/);
    const cli = resolveTemporalExecutable() as { path: string };
    const signal = async (name: string, input: string) => promisify(execFile)(cli.path, [
      'workflow', 'signal', '--address', stack.temporal.address, '--namespace', 'default',
      '--workflow-id', releaseId, '--name', name, '--input', input,
    ], { encoding: 'utf8' });
    const update = async (input: string) => promisify(execFile)(cli.path, [
      'workflow', 'update', 'execute', '--address', stack.temporal.address, '--namespace', 'default',
      '--workflow-id', releaseId, '--name', 'approve', '--input', input,
    ], { encoding: 'utf8' });
    // Temporal accepts every signal; the workflow refuses these and says why in the timeline.
    await signal('approve', '{"by": "mallory"}');
    await signal('approve', '{"by": "alice"}');
    await signal('reject', '"bob"');
    const refused = await eventually('three refusals in the timeline', async () => {
      const r = await getRelease(stack, releaseId);
      const entries = r.timeline.filter((t: { refused?: boolean }) => t.refused);
      return entries.length === 3 ? entries : undefined;
    });
    assert.match(refused[0].message, /approve signal from mallory \(via Temporal\) refused: mallory may not approve/);
    assert.match(refused[1].message, /refused: four-eyes rule: alice requested this release/);
    assert.match(refused[2].message, /reject signal from unknown \(via Temporal\) refused: "by" must name/);
    // Only Ferry's API may say it is the API.
    await assert.rejects(update('{"by": "carol", "channel": "temporal-ui"}'), /channel.{0,3} is set only by Ferry's API/);

    await signal('approve', '{"by": "bob", "comment": "signalled"}');
    await eventually('bob\'s signalled approval', async () => (await getRelease(stack, releaseId)).approvals.length === 1);
    const ok = await stack.api('POST', `/api/releases/${enc(releaseId)}/approve`, {}, as('carol'));
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    const done = await stack.waitForRelease(releaseId, ['committed', 'failed']);
    assert.deepEqual(done.decisions.map((d: { by: string; channel: string }) => [d.by, d.channel]), [['bob', 'temporal'], ['carol', 'api']]);
    assert.equal(done.status, 'committed');
    assert.equal(trailersOf(stack, done.gitopsCommit)['Ferry-Approved-By'], 'bob (via Temporal), carol');
    // Once decided, a late signal is refused and recorded too; the outcome stands.
    await signal('reject', '{"by": "carol"}').catch(() => undefined);
  });
});

describe('gated workflow determinism', () => {
  test('approved, rejected, expired and frozen release histories replay', async () => {
    const replayed = await replayWorkflows(stack, 'releaseWorkflow', 20);
    assert.ok(replayed >= 5, `only ${replayed} release histories`);
    // Lanes these releases passed alone took the fast path and ran no workflow, so there is no lane history to
    // replay here; lane histories under contention replay (and are counted) in ordering-e2e and lane-fast-path.
  });
});

test('GET /api/environments shows the loaded config and which environments are frozen now', async () => {
  const r = await stack.api('GET', '/api/environments');
  assert.equal(r.status, 200);
  const byName = Object.fromEntries(r.body.environments.map((e: { name: string }) => [e.name, e]));
  assert.deepEqual(Object.keys(byName).sort(), ['launch', 'production', 'qa', 'weekend']);
  assert.equal(byName.production.approvals.required, 2);
  assert.equal(byName.production.ordering, 'queue');
  assert.equal(byName.weekend.freeze.frozen, true);
  assert.equal(byName.weekend.freeze.window, 'office hours');
  assert.equal(byName.qa.freeze.frozen, false);
});
