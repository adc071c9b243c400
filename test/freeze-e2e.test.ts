// Stopping the line on demand, end to end: freezes started through the API hold releases with no commit until they
// are lifted, against real Temporal, PostgreSQL and git. Also the abuse cases: who may freeze and who may lift.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { workflowBundle } from '../worker/runtime';
import { as, configEnv, enc, eventually, release, replayWorkflows } from './support/gates';
import { cliEnv, runCli } from './support/cli';
import { startRecorder, type Recorder } from './support/fake-servers';
import { ADMIN_TOKEN } from './support/http';
import path from 'node:path';
import { loadConfig } from '../src/config';
import { startFerry } from '../server/ferry';
import { silentLogger } from '../src/log';
import { callApi } from './support/http';
import { FLUX_SECRET, sharedTemporal, startStack, stopSharedTemporal, type Stack } from './support/stack';

let stack: Stack;
let hook: Recorder;
let limited: string;
let ciToken: string;
let stackEnv: Record<string, string>;

before(async () => {
  await Promise.all([sharedTemporal(), workflowBundle()]);
  hook = await startRecorder();
  const env = await configEnv({
    prod: { hotfix: { allowed: ['carol'] }, notifications: [{ type: 'webhook', url: `${hook.url}/prod-hook` }] },
    staging: {},
    qa: {},
  }, { FERRY_AWAIT_FLUX: 'false', FERRY_FREEZE_RECHECK: '2s' });
  stackEnv = env;
  stack = await startStack({ env });
  const tok = await stack.api('POST', '/api/tokens', { name: 'stage-hand', owner: 'dave', role: 'deployer', envs: ['staging'] });
  assert.equal(tok.status, 201, JSON.stringify(tok.body));
  limited = tok.body.token;
  const ci = await stack.api('POST', '/api/tokens', { name: 'pipeline', owner: 'ci-bot', role: 'ci' });
  ciToken = ci.body.token;
});
after(async () => {
  await stack?.stop();
  await hook?.close();
  await stopSharedTemporal();
});

const commitsOf = (releaseId: string) => stack.git('log', '--all', '--format=%H', `--grep=${releaseId}`).split('\n').filter(Boolean);

async function freeze(body: Record<string, unknown>, opts: { token?: string } = {}) {
  return stack.api('POST', '/api/freezes', body, opts);
}

describe('manual freezes', () => {
  test('a freeze holds a release with no commit until it is lifted, then the release commits', async () => {
    const started = await freeze({ env: 'prod', reason: 'INC-7: checkout down' }, as('alice'));
    assert.equal(started.status, 201, JSON.stringify(started.body));
    assert.equal(started.body.env, 'prod');
    assert.equal(started.body.active, true);
    assert.match(started.body.createdBy, /alice/);
    const id = started.body.id as string;

    // Visible where people look: the freezes list and the environments.
    const listed = await stack.api('GET', '/api/freezes');
    assert.ok(listed.body.items.some((f: { id: string }) => f.id === id));
    const envs = await stack.api('GET', '/api/environments');
    const prod = envs.body.environments.find((e: { name: string }) => e.name === 'prod');
    assert.equal(prod.freeze.frozen, true);
    assert.equal(prod.freeze.reason, 'INC-7: checkout down');
    assert.equal(envs.body.environments.find((e: { name: string }) => e.name === 'staging').freeze.frozen, false);

    const { releaseId } = await release(stack, 'cart', 'prod');
    const frozen = await stack.waitForRelease(releaseId, ['frozen', 'committed', 'failed']);
    assert.equal(frozen.status, 'frozen');
    assert.equal(frozen.waiting.kind, 'freeze');
    assert.equal(frozen.waiting.freezeId, id);
    assert.equal(frozen.waiting.reason, 'INC-7: checkout down');
    assert.match(frozen.waiting.by, /alice/);
    assert.equal(frozen.waiting.until, null);
    assert.match(frozen.timeline.at(-1).message, /frozen by alice.*INC-7: checkout down until lifted/);

    // The release's Temporal page: the search attribute and the workflow's current details.
    const handle = stack.ferry.temporal.workflow.getHandle(releaseId);
    // (Visibility is eventually consistent: the upsert shows up shortly after the state does.)
    await eventually('FerryStatus=frozen in visibility', async () => (await handle.describe()).searchAttributes.FerryStatus?.[0] === 'frozen', 20_000);
    const meta = await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
    assert.match(meta.currentDetails ?? '', /Frozen.*alice.*INC-7/s);

    // Held across rechecks (FERRY_FREEZE_RECHECK=2s) without a commit, and without a timeline entry per recheck.
    await new Promise((r) => setTimeout(r, 5000));
    const still = await stack.waitForRelease(releaseId, ['frozen']);
    assert.equal(still.gitopsCommit, null);
    assert.deepEqual(commitsOf(releaseId), []);
    assert.equal(still.timeline.filter((t: { status: string }) => t.status === 'frozen').length, 1);

    const liftedAt = Date.now();
    const lifted = await stack.api('DELETE', `/api/freezes/${id}`, undefined, as('alice'));
    assert.equal(lifted.status, 200, JSON.stringify(lifted.body));
    assert.equal(lifted.body.active, false);
    assert.ok(lifted.body.releasesSignalled >= 1);
    const done = await stack.waitForRelease(releaseId, ['committed', 'failed'], 30_000);
    assert.equal(done.status, 'committed');
    assert.equal(done.waiting, null);
    const committing = done.timeline.find((t: { status: string }) => t.status === 'committing');
    assert.ok(Date.parse(committing.at) >= liftedAt - 1000, `committed at ${committing.at}, before the freeze was lifted`);
    assert.equal(commitsOf(releaseId).length, 1);

    const again = await stack.api('DELETE', `/api/freezes/${id}`, undefined, as('alice'));
    assert.equal(again.status, 409);

    // Starting and ending told the environment's notification target.
    const startMsg = await hook.waitFor((r) => r.path === '/prod-hook' && r.body?.type === 'freeze' && r.body.event === 'freeze-started' && r.body.freeze.id === id);
    assert.match(startMsg.body.summary, /prod frozen by alice.*INC-7/);
    const endMsg = await hook.waitFor((r) => r.path === '/prod-hook' && r.body?.event === 'freeze-ended' && r.body.freeze.id === id);
    assert.match(endMsg.body.summary, /prod unfrozen by alice/);
  });

  test('a hotfix goes through a manual freeze, recorded with who and why', async () => {
    const started = await freeze({ env: 'prod', reason: 'release party', until: '2h' }, as('bob'));
    assert.equal(started.status, 201, JSON.stringify(started.body));
    const { releaseId } = await release(stack, 'payments', 'prod', 'alice');
    const frozen = await stack.waitForRelease(releaseId, ['frozen', 'committed']);
    assert.equal(frozen.status, 'frozen');
    assert.ok(Math.abs(Date.parse(frozen.waiting.until) - (Date.now() + 2 * 3600_000)) < 120_000);
    const byMallory = await stack.api('POST', `/api/releases/${enc(releaseId)}/hotfix`, { comment: 'let me' }, as('mallory'));
    assert.equal(byMallory.status, 403, JSON.stringify(byMallory.body));
    const ok = await stack.api('POST', `/api/releases/${enc(releaseId)}/hotfix`, { comment: 'payments down, INC-9' }, as('carol'));
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    const done = await stack.waitForRelease(releaseId, ['committed', 'failed']);
    assert.equal(done.status, 'committed');
    const hotfix = done.decisions.find((d: { kind: string }) => d.kind === 'hotfix');
    assert.equal(hotfix.by, 'carol');
    assert.equal(hotfix.comment, 'payments down, INC-9');
    assert.equal(trailer(done.gitopsCommit, 'Ferry-Hotfix-By'), 'carol');
    // The freeze still holds for everyone else.
    const next = await release(stack, 'payments-two', 'prod');
    assert.equal((await stack.waitForRelease(next.releaseId, ['frozen', 'committed'])).status, 'frozen');
    assert.equal((await stack.api('DELETE', `/api/freezes/${started.body.id}`, undefined, as('bob'))).status, 200);
    assert.equal((await stack.waitForRelease(next.releaseId, ['committed', 'failed'], 30_000)).status, 'committed');
  });

  test('an `all` freeze holds every environment; lifting lets the waiting releases go', async () => {
    const started = await freeze({ all: true, reason: 'company-wide change freeze' });
    assert.equal(started.status, 201, JSON.stringify(started.body));
    assert.equal(started.body.env, null);
    assert.equal(started.body.all, true);
    const a = await release(stack, 'search', 'staging');
    const b = await release(stack, 'search', 'qa');
    for (const id of [a.releaseId, b.releaseId]) assert.equal((await stack.waitForRelease(id, ['frozen', 'committed'])).status, 'frozen');
    const lifted = await stack.api('DELETE', `/api/freezes/${started.body.id}`);
    assert.equal(lifted.status, 200, JSON.stringify(lifted.body));
    for (const id of [a.releaseId, b.releaseId]) assert.equal((await stack.waitForRelease(id, ['committed', 'failed'], 30_000)).status, 'committed');
  });

  test('a lost "lifted" signal costs one recheck, not the release', async () => {
    const started = await freeze({ env: 'qa', reason: 'db migration' });
    const { releaseId } = await release(stack, 'ledger', 'qa');
    assert.equal((await stack.waitForRelease(releaseId, ['frozen', 'committed'])).status, 'frozen');
    // Ended behind the API's back: no signal reaches the release, only its periodic recheck (2s here).
    const db = new pg.Client({ connectionString: stack.databaseUrl });
    await db.connect();
    await db.query('UPDATE freezes SET ended_at = now(), ended_by = $2 WHERE id = $1', [started.body.id, 'test']);
    await db.end();
    assert.equal((await stack.waitForRelease(releaseId, ['committed', 'failed'], 30_000)).status, 'committed');
  });

  test('bad requests name the field and change nothing', async () => {
    const before = (await stack.api('GET', '/api/freezes?ended=true&limit=500')).body.items.length;
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ env: 'prod' }, 'reason'],
      [{ env: 'prod', reason: '   ' }, 'reason'],
      [{ env: 'prod', reason: 'two\nlines' }, 'reason'],
      [{ reason: 'x' }, 'env'],
      [{ env: 'prod', all: true, reason: 'x' }, 'env'],
      [{ env: 'Prod!', reason: 'x' }, 'env'],
      [{ env: 'nowhere', reason: 'x' }, 'env'],
      [{ env: 'prod', reason: 'x', until: 'tomorrow' }, 'until'],
      [{ env: 'prod', reason: 'x', until: '2020-01-01T00:00:00Z' }, 'until'],
      [{ env: 'prod', reason: 'x', until: '400d' }, 'until'],
      [{ env: 'prod', reason: 'x', all: false }, 'all'],
      [{ env: 'prod', reason: 'x', extra: 1 }, '(body)'],
    ];
    for (const [body, field] of cases) {
      const r = await freeze(body);
      assert.equal(r.status, 400, `${JSON.stringify(body)}: ${JSON.stringify(r.body)}`);
      assert.ok(r.body.issues.some((i: { path: string }) => i.path === field), `${JSON.stringify(body)} should name ${field}: ${JSON.stringify(r.body.issues)}`);
    }
    assert.equal((await stack.api('GET', '/api/freezes?ended=true&limit=500')).body.items.length, before);
    assert.equal((await stack.api('DELETE', '/api/freezes/999999')).status, 404);
    assert.equal((await stack.api('DELETE', '/api/freezes/abc')).status, 404);
  });

  test('who may stop the line and who may restart it', async () => {
    const mine = await freeze({ env: 'staging', reason: 'flaky tests' }, { token: limited });
    assert.equal(mine.status, 201, JSON.stringify(mine.body));
    // An environment-limited deployer cannot freeze another environment, or all of them.
    const other = await freeze({ env: 'prod', reason: 'because' }, { token: limited });
    assert.equal(other.status, 403);
    assert.equal(other.body.missing.env, 'prod');
    const everything = await freeze({ all: true, reason: 'because' }, { token: limited });
    assert.equal(everything.status, 403);
    assert.equal(everything.body.missing.env, 'all');
    // CI may release, but not stop everyone else's releases.
    assert.equal((await freeze({ env: 'staging', reason: 'ci says so' }, { token: ciToken })).status, 403);

    // Lifting: not someone else's freeze in an environment it cannot act on, nor as a deployer who did not start it.
    const prodFreeze = await freeze({ env: 'prod', reason: 'incident' });
    assert.equal((await stack.api('DELETE', `/api/freezes/${prodFreeze.body.id}`, undefined, { token: limited })).status, 403);
    const stagingByAdmin = await freeze({ env: 'staging', reason: 'admin freeze' });
    const liftOther = await stack.api('DELETE', `/api/freezes/${stagingByAdmin.body.id}`, undefined, { token: limited });
    assert.equal(liftOther.status, 403, JSON.stringify(liftOther.body));
    assert.match(liftOther.body.error, /approver or admin/);
    assert.equal((await stack.api('DELETE', `/api/freezes/${prodFreeze.body.id}`, undefined, { token: ciToken })).status, 403);
    // Its own freeze it may lift; an approver may lift anyone's.
    assert.equal((await stack.api('DELETE', `/api/freezes/${mine.body.id}`, undefined, { token: limited })).status, 200);
    assert.equal((await stack.api('DELETE', `/api/freezes/${stagingByAdmin.body.id}`, undefined, as('bob'))).status, 200);
    assert.equal((await stack.api('DELETE', `/api/freezes/${prodFreeze.body.id}`, undefined, as('bob'))).status, 200);
    const ended = await stack.api('GET', '/api/freezes?ended=true');
    const record = ended.body.items.find((f: { id: string }) => f.id === prodFreeze.body.id);
    assert.match(record.endedBy, /bob/);
  });

  test('ferry freeze start|list|end and ferry status', async () => {
    const env = cliEnv({ FERRY_SERVER: stack.url, FERRY_TOKEN: ADMIN_TOKEN });
    const cli = (...args: string[]) => runCli(args, { cwd: stack.dir, env });
    const started = await cli('freeze', 'start', 'qa', '--reason', 'load test running', '--until', '3h', '--output', 'json');
    assert.equal(started.code, 0, started.stderr);
    const f = JSON.parse(started.stdout);
    assert.equal(f.env, 'qa');
    const listed = await cli('freeze', 'list');
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, new RegExp(`${f.id}\\s+qa\\s+holding.*load test running`));
    await release(stack, 'catalog', 'qa');
    const status = await cli('status', '--app', 'catalog');
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /FROZEN/);
    assert.match(status.stdout, new RegExp(`qa .*#${f.id} by admin: load test running`));
    const noReason = await cli('freeze', 'start', 'qa');
    assert.equal(noReason.code, 2);
    assert.match(noReason.stderr, /--reason/);
    const badEnv = await cli('freeze', 'start', 'Q A', '--reason', 'x');
    assert.notEqual(badEnv.code, 0);
    assert.equal(badEnv.stderr.trim().split('\n').length, 1, badEnv.stderr);
    assert.match(badEnv.stderr, /env/);
    const ended = await cli('freeze', 'end', f.id);
    assert.equal(ended.code, 0, ended.stderr);
    assert.match(ended.stdout, new RegExp(`freeze ${f.id} lifted: 1 waiting release`));
  });

  test('the release and freeze workflows replay', async () => {
    assert.ok((await replayWorkflows(stack, 'releaseWorkflow', 10)) > 0);
    await eventually('a freeze notice workflow', async () => (await replayWorkflows(stack, 'freezeNoticeWorkflow', 5)) > 0);
  });

  // Last: it replaces the stack's Ferry process with a new one.
  test('a freeze and the release it holds survive a restart of Ferry', async () => {
    const started = await freeze({ env: 'prod', reason: 'before the restart' });
    assert.equal(started.status, 201, JSON.stringify(started.body));
    const { releaseId } = await release(stack, 'restarted', 'prod');
    assert.equal((await stack.waitForRelease(releaseId, ['frozen', 'committed'])).status, 'frozen');
    await stack.ferry.stop();

    const suffix = path.basename(stack.dir);
    const config = loadConfig({
      FERRY_PORT: '0', FERRY_DATA_DIR: stack.dir, FERRY_FLUX_WEBHOOK_SECRET: FLUX_SECRET,
      FERRY_TASK_QUEUE: `releases-${suffix}`, FERRY_WRITER_TASK_QUEUE: `gitops-writer-${suffix}`, ...stackEnv,
    });
    const again = await startFerry(config, { databaseUrl: stack.databaseUrl, temporalAddress: stack.temporal.address, namespace: 'default' }, { adminToken: ADMIN_TOKEN, log: silentLogger });
    try {
      const api = (method: string, route: string) => callApi(again.url!, method, route);
      const listed = await api('GET', '/api/freezes');
      assert.ok(listed.body.items.some((f: { id: string; active: boolean }) => f.id === started.body.id && f.active));
      const prod = (await api('GET', '/api/environments')).body.environments.find((e: { name: string }) => e.name === 'prod');
      assert.equal(prod.freeze.freezeId, started.body.id);
      // Still held after a few rechecks by the new worker.
      await new Promise((r) => setTimeout(r, 4000));
      assert.equal((await api('GET', `/api/releases/${enc(releaseId)}`)).body.status, 'frozen');
      assert.equal((await api('DELETE', `/api/freezes/${started.body.id}`)).status, 200);
      const done = await eventually('the release to commit after the restart', async () => {
        const r = await api('GET', `/api/releases/${enc(releaseId)}`);
        return r.body.status === 'committed' ? r.body : undefined;
      }, 30_000);
      assert.equal(done.waiting, null);
    } finally {
      await again.stop();
    }
  });
});

function trailer(commit: string, name: string): string | undefined {
  const out = stack.git('log', '-1', '--format=%(trailers:only,unfold)', commit);
  return out.split('\n').find((l) => l.startsWith(`${name}:`))?.slice(name.length + 1).trim();
}
