// Automatic rollback (issue 6) end to end: a release that Flux fails or finds unhealthy in an environment with
// `autoRollback` rolls back once to the last artifact that succeeded there; a failed rollback is never rolled back.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { replayWorkflows, trailersOf } from './support/gates';
import { fluxEvent, makeArtifact, startStack, stopSharedTemporal, type Stack } from './support/stack';

let stack: Stack;
let dir: string;

before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ferry-auto-rollback-'));
  await fs.writeFile(path.join(dir, 'ferry.yaml'), `
environments:
  prod: {autoRollback: true}
  staging: {autoRollback: false}
`);
  stack = await startStack({ env: { FERRY_FLUX_TIMEOUT: '3m', FERRY_CONFIG: path.join(dir, 'ferry.yaml') } });
});
after(async () => {
  await stack?.stop();
  await fs.rm(dir, { recursive: true, force: true });
  await stopSharedTemporal();
});

const FINAL = ['succeeded', 'failed', 'timed-out'];
const get = async (id: string) => (await stack.api('GET', `/api/releases/${encodeURIComponent(id)}`)).body;
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Pushes an artifact and releases it; returns when its commit waits for Flux. */
async function release(app: string, env: string) {
  const pushed = await stack.api('POST', '/api/artifacts', makeArtifact({ apps: [{ app, env }] }));
  assert.equal(pushed.status, 201, JSON.stringify(pushed.body));
  const started = await stack.api('POST', '/api/releases', { artifactId: pushed.body.id, env });
  assert.equal(started.status, 202, JSON.stringify(started.body));
  const row = await stack.waitForRelease(started.body.id, ['reconciling']);
  return { artifactId: pushed.body.id as string, id: started.body.id as string, commit: row.gitopsCommit as string };
}

async function flux(reason: string, commit: string, env = 'prod') {
  const res = await stack.postFlux(fluxEvent(reason, commit, { env }));
  assert.equal(res.status, 202, JSON.stringify(res.body));
}

/** The failed release's timeline names what automatic rollback did; waits until it is recorded. */
async function rollbackNote(id: string): Promise<string> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const note = (await get(id)).timeline.map((t: { message?: string }) => t.message ?? '').find((m: string) => /automatic rollback/.test(m));
    if (note) return note;
    if (Date.now() > deadline) throw new Error(`no automatic rollback note on ${id}`);
    await pause(100);
  }
}

async function releasesOf(app: string, env: string) {
  return (await stack.api('GET', `/api/releases?app=${app}&env=${env}&limit=50`)).body.items as Array<{ id: string; trigger: string; artifactId: string }>;
}

async function workflowExists(id: string): Promise<boolean> {
  try {
    await stack.ferry.temporal.workflow.getHandle(id).describe();
    return true;
  } catch {
    return false;
  }
}

describe('automatic rollback', () => {
  test('a ReconciliationFailed release rolls back once to the last good artifact; the failed rollback is not rolled back', async () => {
    const a = await release('shop', 'prod');
    await flux('ReconciliationSucceeded', a.commit);
    assert.equal((await stack.waitForRelease(a.id, FINAL)).status, 'succeeded');

    const b = await release('shop', 'prod');
    await flux('ReconciliationFailed', b.commit);
    const failed = await stack.waitForRelease(b.id, FINAL);
    assert.equal(failed.status, 'failed');

    const note = await rollbackNote(b.id);
    const rollbackId = /automatic rollback started: (\S+)/.exec(note)?.[1];
    assert.ok(rollbackId, note);
    assert.match(rollbackId, new RegExp(`^release:shop:prod:${a.artifactId}:rollback-[0-9a-f]{10}$`));
    const r = await stack.waitForRelease(rollbackId, ['reconciling', ...FINAL]);
    assert.equal(r.status, 'reconciling');
    assert.equal(r.trigger, 'rollback');
    assert.equal(r.releasedBy, 'ferry:auto-rollback');
    assert.equal(r.artifactId, a.artifactId);
    assert.equal(r.rollbackOf, b.id);
    // A new forward commit on top of B's whose manifests are A's again.
    assert.equal(stack.git('rev-parse', `${r.gitopsCommit}^`), b.commit);
    assert.equal(stack.git('rev-parse', `${r.gitopsCommit}:prod/shop`), stack.git('rev-parse', `${a.commit}:prod/shop`));
    const trailers = trailersOf(stack, r.gitopsCommit);
    assert.equal(trailers['Ferry-Rollback-Of'], b.id);
    assert.equal(trailers['Ferry-Trigger'], 'rollback');
    assert.equal(trailers['Ferry-Released-By'], 'ferry:auto-rollback');

    // The rollback fails too: it ends failed and nothing rolls it back.
    await flux('HealthCheckFailed', r.gitopsCommit);
    const rolledBackFailed = await stack.waitForRelease(rollbackId, FINAL);
    assert.equal(rolledBackFailed.status, 'failed');
    assert.equal(rolledBackFailed.fluxOutcome, 'unhealthy');
    await pause(2000);
    assert.equal(await workflowExists(`auto-rollback:${rollbackId}`), false, 'a failed rollback is never rolled back');
    const all = await releasesOf('shop', 'prod');
    assert.deepEqual(all.map((x) => x.trigger), ['rollback', 'manual', 'manual']);
    assert.ok(!(await get(rollbackId)).timeline.some((t: { message?: string }) => /automatic rollback/.test(t.message ?? '')));
    // Exactly one automatic rollback workflow, for B.
    const runs = await stack.ferry.temporal.workflow.count(`WorkflowType = "autoRollbackWorkflow" AND WorkflowId = "auto-rollback:${b.id}"`);
    assert.equal(runs.count, 1);
  });

  test('an unhealthy release (HealthCheckFailed) rolls back, and the rollback can succeed', async () => {
    const a = await release('cart', 'prod');
    await flux('ReconciliationSucceeded', a.commit);
    await stack.waitForRelease(a.id, FINAL);
    const b = await release('cart', 'prod');
    await flux('HealthCheckFailed', b.commit);
    const failed = await stack.waitForRelease(b.id, FINAL);
    assert.equal(failed.status, 'failed');
    assert.equal(failed.fluxOutcome, 'unhealthy');

    const rollbackId = /automatic rollback started: (\S+)/.exec(await rollbackNote(b.id))?.[1];
    assert.ok(rollbackId);
    const r = await stack.waitForRelease(rollbackId, ['reconciling']);
    await flux('ReconciliationSucceeded', r.gitopsCommit);
    const done = await stack.waitForRelease(rollbackId, FINAL);
    assert.equal(done.status, 'succeeded');
    const status = (await stack.api('GET', '/api/status?app=cart')).body;
    const prod = status.environments.find((e: { env: string }) => e.env === 'prod');
    assert.equal(prod.current.id, rollbackId);
    assert.equal(prod.current.artifactId, a.artifactId);
  });

  test('a source error Flux retries is waited out: success follows, nothing rolls back', async () => {
    const a = await release('basket', 'prod');
    await flux('ReconciliationSucceeded', a.commit);
    assert.equal((await stack.waitForRelease(a.id, FINAL)).status, 'succeeded');
    const b = await release('basket', 'prod');
    await flux('ArtifactFailed', b.commit);
    await pause(1000);
    assert.equal((await get(b.id)).status, 'reconciling');
    await flux('ReconciliationSucceeded', b.commit);
    assert.equal((await stack.waitForRelease(b.id, FINAL)).status, 'succeeded');
    assert.equal(await workflowExists(`auto-rollback:${b.id}`), false);
  });

  test('with nothing that succeeded before, the failed release records that there is no rollback', async () => {
    const b = await release('fresh', 'prod');
    await flux('ReconciliationFailed', b.commit);
    assert.equal((await stack.waitForRelease(b.id, FINAL)).status, 'failed');
    assert.match(await rollbackNote(b.id), /^no automatic rollback: /);
    assert.deepEqual((await releasesOf('fresh', 'prod')).map((x) => x.trigger), ['manual']);
  });

  test('environments without autoRollback, and failures before the commit, roll nothing back', async () => {
    const a = await release('quiet', 'staging');
    await flux('ReconciliationSucceeded', a.commit, 'staging');
    await stack.waitForRelease(a.id, FINAL);
    const b = await release('quiet', 'staging');
    await flux('ReconciliationFailed', b.commit, 'staging');
    assert.equal((await stack.waitForRelease(b.id, FINAL)).status, 'failed');

    const pushed = await stack.api('POST', '/api/artifacts', makeArtifact({ apps: [{ app: 'shop', env: 'prod', manifests: 'kind: ConfigMap\nmetadata: {name: {{ .MISSING }}}\n' }] }));
    const broken = await stack.api('POST', '/api/releases', { artifactId: pushed.body.id, env: 'prod' });
    assert.equal((await stack.waitForRelease(broken.body.id, FINAL)).status, 'failed');
    await pause(1500);
    assert.equal(await workflowExists(`auto-rollback:${b.id}`), false);
    assert.equal(await workflowExists(`auto-rollback:${broken.body.id}`), false);
    assert.deepEqual((await releasesOf('quiet', 'staging')).map((x) => x.trigger), ['manual', 'manual']);
  });
});

describe('determinism', () => {
  test('automatic rollback and release histories replay against the current workflow code', async () => {
    assert.ok((await replayWorkflows(stack, 'autoRollbackWorkflow', 5)) >= 2);
    assert.ok((await replayWorkflows(stack, 'releaseWorkflow', 20)) >= 5);
  });
});
