import assert from 'node:assert/strict';
import http from 'node:http';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { Worker } from '@temporalio/worker';
import { fluxEvent, makeArtifact, type Stack, startStack, useStack } from './support/stack';
import { workflowBundle } from '../worker/runtime';

const stack = useStack({ env: { FERRY_FLUX_TIMEOUT: '10m' } });

async function pushAndRelease(app: string, env = 'staging') {
  const artifact = makeArtifact({ apps: [{ app, env }] });
  const pushed = await stack().api('POST', '/api/artifacts', artifact);
  assert.equal(pushed.status, 201, JSON.stringify(pushed.body));
  const started = await stack().api('POST', '/api/releases', { artifactId: pushed.body.id, env });
  assert.equal(started.status, 202, JSON.stringify(started.body));
  return { artifact, artifactId: pushed.body.id as string, releaseId: started.body.id as string };
}

function commitsWithTrailer(releaseId: string): string[] {
  const out = stack().git('log', '--format=%H', `--grep=^Ferry-Release-Id: ${releaseId}$`, 'main');
  return out ? out.split('\n') : [];
}

describe('artifacts', () => {
  test('the same artifact pushed twice is stored once; another body under its id is a 409', async () => {
    const artifact = makeArtifact({ apps: [{ app: 'cart', env: 'staging' }] });
    const first = await stack().api('POST', '/api/artifacts', artifact);
    assert.equal(first.status, 201);
    assert.match(first.body.id, /^acme-shop-[0-9a-f]{12}-push-[0-9a-f]{8}$/);
    // Key order differs, content does not: still the same artifact.
    const reordered = { environments: artifact.environments, items: artifact.items, vars: artifact.vars, version: artifact.version };
    const again = await stack().api('POST', '/api/artifacts', reordered);
    assert.equal(again.status, 200);
    assert.equal(again.body.id, first.body.id);
    const rows = await stack().ferry.db.query('SELECT count(*)::int AS n FROM artifacts WHERE id = $1', [first.body.id]);
    assert.equal(rows.rows[0].n, 1);

    const changed = await stack().api('POST', '/api/artifacts', { ...artifact, vars: { IMAGE: 'other' } });
    assert.equal(changed.status, 409);
    assert.match(changed.body.error, /different body/);

    const got = await stack().api('GET', `/api/artifacts/${first.body.id}`);
    assert.equal(got.status, 200);
    assert.equal(got.body.version.sha, artifact.version.sha);
    assert.equal((await stack().api('GET', '/api/artifacts/nope')).status, 404);
  });

  test('unknown top-level fields are kept', async () => {
    const artifact = { ...makeArtifact({ apps: [{ app: 'cart', env: 'staging' }] }), pipeline: { id: 42 } };
    const res = await stack().api('POST', '/api/artifacts', artifact);
    assert.equal(res.status, 201);
    assert.deepEqual((await stack().api('GET', `/api/artifacts/${res.body.id}`)).body.pipeline, { id: 42 });
  });

  test('bad input is a 400 naming each field, and writes nothing', async () => {
    const before = (await stack().ferry.db.query('SELECT count(*)::int AS n FROM artifacts')).rows[0].n;
    const bad = makeArtifact({ apps: [{ app: 'Bad/../App', env: 'staging' }] });
    (bad.version as Record<string, unknown>).sha = 'not-a-sha';
    const res = await stack().api('POST', '/api/artifacts', bad);
    assert.equal(res.status, 400);
    const paths = res.body.issues.map((i: { path: string }) => i.path);
    assert.ok(paths.includes('version.sha'), JSON.stringify(res.body));
    assert.ok(paths.includes('environments.0.app'), JSON.stringify(res.body));
    const malformed = await stack().api('POST', '/api/artifacts', '{"version": ');
    assert.equal(malformed.status, 400);
    const after = (await stack().ferry.db.query('SELECT count(*)::int AS n FROM artifacts')).rows[0].n;
    assert.equal(after, before);
  });

  test('every API route but health needs a valid token', async () => {
    assert.equal((await stack().api('GET', '/healthz', undefined, { token: null })).status, 200);
    assert.equal((await stack().api('GET', '/api/artifacts/x', undefined, { token: null })).status, 401);
    assert.equal((await stack().api('POST', '/api/releases', {}, { token: 'wrong-token-wrong-token' })).status, 401);
  });
});

describe('releases', () => {
  test('a release commits rendered manifests with trailers and succeeds when Flux applies it', async () => {
    const { artifact, artifactId, releaseId } = await pushAndRelease('billing');
    assert.equal(releaseId, `release:billing:staging:${artifactId}`);
    const waiting = await stack().waitForRelease(releaseId, ['reconciling']);
    assert.match(waiting.gitopsCommit, /^[0-9a-f]{40}$/);

    const files = stack().git('ls-tree', '-r', '--name-only', waiting.gitopsCommit, 'staging/billing').split('\n');
    assert.deepEqual(files.sort(), ['staging/billing/deployment-billing.yaml', 'staging/billing/release.json', 'staging/billing/service-billing.yaml']);
    const deploymentYaml = stack().git('show', `${waiting.gitopsCommit}:staging/billing/deployment-billing.yaml`);
    assert.match(deploymentYaml, new RegExp(`image: registry.example.com/acme/shop:${artifact.version.sha}`));
    assert.match(deploymentYaml, /namespace: staging/);
    const meta = JSON.parse(stack().git('show', `${waiting.gitopsCommit}:staging/billing/release.json`));
    assert.equal(meta.artifactId, artifactId);

    const message = stack().git('log', '-1', '--format=%B', waiting.gitopsCommit);
    assert.match(message, new RegExp(`^\\[staging/billing\\] release ${artifactId}`));
    const trailers = stack().git('log', '-1', '--format=%(trailers:only,unfold)', waiting.gitopsCommit);
    for (const [k, v] of Object.entries({ 'Ferry-Release-Id': releaseId, 'Ferry-App': 'billing', 'Ferry-Env': 'staging', 'Ferry-Artifact-Id': artifactId, 'Ferry-Source-Sha': artifact.version.sha, 'Ferry-Released-By': 'admin' })) {
      assert.ok(trailers.includes(`${k}: ${v}`), `missing trailer ${k}: ${v} in\n${trailers}`);
    }

    const badSig = await stack().postFlux(fluxEvent('ReconciliationSucceeded', waiting.gitopsCommit, { env: 'staging' }), { secret: 'not-the-secret' });
    assert.equal(badSig.status, 401);
    const unsigned = await fetch(`${stack().url}/api/flux/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(fluxEvent('ReconciliationSucceeded', waiting.gitopsCommit, { env: 'staging' })) });
    assert.equal(unsigned.status, 401);
    assert.equal((await stack().api('GET', `/api/releases/${encodeURIComponent(releaseId)}`)).body.status, 'reconciling');

    const ok = await stack().postFlux(fluxEvent('ReconciliationSucceeded', waiting.gitopsCommit, { env: 'staging' }));
    assert.equal(ok.status, 202);
    const done = await stack().waitForRelease(releaseId, ['succeeded', 'failed']);
    assert.equal(done.status, 'succeeded');
    assert.equal(done.fluxStatus, 'ReconciliationSucceeded');
    assert.deepEqual(done.timeline.map((t: { status: string }) => t.status), ['pending', 'rendering', 'committing', 'committed', 'reconciling', 'succeeded']);

    // The Temporal UI finds the release by app, env and sha. The mirror may be one workflow task ahead of the search
    // attributes (the final row is written by a local activity inside the run's last task): wait for the run's end.
    const handle = stack().ferry.temporal.workflow.getHandle(releaseId);
    await handle.result();
    const desc = await handle.describe();
    assert.equal(desc.searchAttributes.FerryApp?.[0], 'billing');
    assert.equal(desc.searchAttributes.FerryStatus?.[0], 'succeeded');
    assert.equal(desc.searchAttributes.FerrySha?.[0], artifact.version.sha);
    const state = await handle.query('releaseState');
    assert.equal((state as { status: string }).status, 'succeeded');
  });

  test('starting the same release twice gives one workflow and one commit', async () => {
    const { artifactId, releaseId } = await pushAndRelease('orders');
    const again = await stack().api('POST', '/api/releases', { artifactId, env: 'staging', app: 'orders' });
    assert.ok([200, 202].includes(again.status));
    assert.equal(again.body.id, releaseId);
    const waiting = await stack().waitForRelease(releaseId, ['reconciling']);
    await stack().postFlux(fluxEvent('ReconciliationSucceeded', waiting.gitopsCommit, { env: 'staging' }));
    await stack().waitForRelease(releaseId, ['succeeded']);
    const third = await stack().api('POST', '/api/releases', { artifactId, env: 'staging' });
    assert.equal(third.status, 200);
    assert.equal(third.body.status, 'succeeded');
    assert.equal(commitsWithTrailer(releaseId).length, 1);
    const rows = await stack().ferry.db.query('SELECT count(*)::int AS n FROM releases WHERE id = $1', [releaseId]);
    assert.equal(rows.rows[0].n, 1);
  });

  test('unknown artifact or env is a 404 and an ambiguous app a 400', async () => {
    assert.equal((await stack().api('POST', '/api/releases', { artifactId: 'missing-artifact', env: 'staging' })).status, 404);
    const artifact = makeArtifact({ apps: [{ app: 'a1', env: 'prod' }, { app: 'a2', env: 'prod' }] });
    const pushed = await stack().api('POST', '/api/artifacts', artifact);
    const noEnv = await stack().api('POST', '/api/releases', { artifactId: pushed.body.id, env: 'qa' });
    assert.equal(noEnv.status, 404);
    assert.match(noEnv.body.error, /no environment file for env "qa"/);
    const ambiguous = await stack().api('POST', '/api/releases', { artifactId: pushed.body.id, env: 'prod' });
    assert.equal(ambiguous.status, 400);
    assert.equal(ambiguous.body.issues[0].path, 'app');
    const badEnv = await stack().api('POST', '/api/releases', { artifactId: pushed.body.id, env: '../etc' });
    assert.equal(badEnv.status, 400);
    assert.equal(badEnv.body.issues[0].path, 'env');
  });

  test('a manifest referring to a missing variable fails the release with its name', async () => {
    const artifact = makeArtifact({ apps: [{ app: 'broken', env: 'staging', manifests: 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  a: "{{ .NOPE }}"\n' }] });
    const pushed = await stack().api('POST', '/api/artifacts', artifact);
    const started = await stack().api('POST', '/api/releases', { artifactId: pushed.body.id, env: 'staging' });
    const done = await stack().waitForRelease(started.body.id, ['failed', 'succeeded', 'timed-out']);
    assert.equal(done.status, 'failed');
    assert.match(done.error, /NOPE/);
    assert.equal(done.gitopsCommit, null);
    assert.equal(commitsWithTrailer(started.body.id).length, 0);
  });

  test('an error event for the commit fails the release; a success for a descendant settles its ancestors', async () => {
    const failing = await pushAndRelease('search');
    const failingCommit = (await stack().waitForRelease(failing.releaseId, ['reconciling'])).gitopsCommit;
    const a = await pushAndRelease('profile');
    const aCommit = (await stack().waitForRelease(a.releaseId, ['reconciling'])).gitopsCommit;
    const b = await pushAndRelease('payments');
    const bCommit = (await stack().waitForRelease(b.releaseId, ['reconciling'])).gitopsCommit;
    assert.notEqual(aCommit, bCommit);

    const err = await stack().postFlux(fluxEvent('ReconciliationFailed', failingCommit, { message: 'Deployment/search dry-run failed', env: 'staging' }));
    assert.equal(err.status, 202);
    const failed = await stack().waitForRelease(failing.releaseId, ['failed', 'succeeded']);
    assert.equal(failed.status, 'failed');
    assert.match(failed.error, /ReconciliationFailed/);

    // Flux skips intermediate commits: applying b means a (its ancestor) is live too. Legacy revision form.
    await stack().postFlux(fluxEvent('ReconciliationSucceeded', bCommit, { legacy: true, env: 'staging' }));
    assert.equal((await stack().waitForRelease(a.releaseId, ['succeeded', 'failed'])).status, 'succeeded');
    assert.equal((await stack().waitForRelease(b.releaseId, ['succeeded', 'failed'])).status, 'succeeded');
    // A late failure for an already settled release does not change it.
    await stack().postFlux(fluxEvent('ReconciliationFailed', aCommit, { env: 'staging' }));
    await new Promise((r) => setTimeout(r, 500));
    assert.equal((await stack().api('GET', `/api/releases/${encodeURIComponent(a.releaseId)}`)).body.status, 'succeeded');
  });

  test('an event that arrives before the release waits is not lost', async () => {
    const r = await pushAndRelease('early');
    const row = await stack().waitForRelease(r.releaseId, ['reconciling']);
    // Simulate the race: replay the event after the release already waits, plus duplicate deliveries.
    const ev = fluxEvent('ReconciliationSucceeded', row.gitopsCommit, { env: 'staging' });
    const first = await stack().postFlux(ev);
    const dup = await stack().postFlux(ev);
    assert.equal(dup.body.duplicate, true);
    assert.equal(first.body.id, dup.body.id);
    assert.equal((await stack().waitForRelease(r.releaseId, ['succeeded'])).status, 'succeeded');
  });

  test('20 releases of different apps at once each get exactly one commit and all succeed', async () => {
    const apps = Array.from({ length: 20 }, (_, i) => `svc-${i}`);
    const started = await Promise.all(apps.map((app) => pushAndRelease(app, 'prod')));
    const rows = await Promise.all(started.map((s) => stack().waitForRelease(s.releaseId, ['reconciling'], 120_000)));
    for (const s of started) assert.equal(commitsWithTrailer(s.releaseId).length, 1, s.releaseId);
    const tip = stack().git('rev-parse', 'main');
    // Every release commit is in the branch's history, and one event for the tip settles them all.
    for (const row of rows) stack().git('merge-base', '--is-ancestor', row.gitopsCommit, tip);
    await stack().postFlux(fluxEvent('ReconciliationSucceeded', tip, { env: 'prod' }));
    const done = await Promise.all(started.map((s) => stack().waitForRelease(s.releaseId, ['succeeded', 'failed', 'timed-out'], 60_000)));
    assert.deepEqual(new Set(done.map((d) => d.status)), new Set(['succeeded']));
    const tree = stack().git('ls-tree', '--name-only', 'main', 'prod/').split('\n');
    for (const app of apps) assert.ok(tree.includes(`prod/${app}`), app);
    // The release worker shares this process, so the API asks for eager starts; a start is eager only when a workflow
    // task slot is free, so under this burst some may not be, but not none.
    const metrics = String((await stack().api('GET', '/metrics')).body);
    const starts = (eager: boolean) => Number(new RegExp(`^ferry_release_starts_total\\{eager="${eager}"\\} (\\d+)$`, 'm').exec(metrics)?.[1] ?? 0);
    assert.ok(starts(true) >= 1, metrics.split('\n').filter((l) => l.startsWith('ferry_release_starts')).join('\n'));
    assert.ok(starts(true) + starts(false) >= apps.length);
    // The embedded repository is written without git's transport: the writer's cache borrows the repository's
    // objects and holds none of its own (every commit went straight into the repository).
    const writerCache = path.join(stack().dir, 'git', readdirSync(path.join(stack().dir, 'git')).find((d) => d.startsWith('writer-'))!);
    assert.equal(readFileSync(path.join(writerCache, 'objects', 'info', 'alternates'), 'utf8').trim(), path.join(stack().ferry.gitopsRepo, 'objects'));
    assert.equal(execFileSync('git', ['--git-dir', writerCache, 'count-objects'], { encoding: 'utf8' }).trim(), '0 objects, 0 kilobytes');
    assert.deepEqual(readdirSync(path.join(writerCache, 'objects', 'pack')), []);
  });
});

describe('release identity and outcome in Temporal', () => {
  const post = (artifactId: string) => stack().api('POST', '/api/releases', { artifactId, env: 'staging' });
  async function settle(id: string): Promise<void> {
    const row = await stack().waitForRelease(id, ['reconciling']);
    await stack().postFlux(fluxEvent('ReconciliationSucceeded', row.gitopsCommit, { env: 'staging' }));
    assert.equal((await stack().waitForRelease(id, ['succeeded', 'failed'])).status, 'succeeded');
  }

  test('a failed release is a failed workflow whose state stays readable, and it can run again', async () => {
    const artifact = makeArtifact({ apps: [{ app: 'redo', env: 'staging', manifests: 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: {{ .MISSING }}}\n' }] });
    const pushed = await stack().api('POST', '/api/artifacts', artifact);
    const first = await post(pushed.body.id);
    assert.equal(first.status, 202);
    const id = first.body.id as string;
    const failed = await stack().waitForRelease(id, ['failed', 'succeeded']);
    assert.equal(failed.status, 'failed');

    const handle = stack().ferry.temporal.workflow.getHandle(id);
    const err = await handle.result().then(() => null, (e: unknown) => e);
    assert.ok(err instanceof WorkflowFailedError, String(err));
    assert.ok(err.cause instanceof ApplicationFailure);
    assert.equal(err.cause.type, 'ReleaseFailed');
    assert.match(err.cause.message, /MISSING/);
    const { runId: firstRun, status } = await handle.describe();
    assert.equal(status.name, 'FAILED');
    // The closed run still answers the query, and search finds it by ExecutionStatus.
    const state = await handle.query<{ status: string; error: string }>('releaseState');
    assert.equal(state.status, 'failed');
    assert.match(state.error, /MISSING/);
    const found = await stack().ferry.temporal.workflow.count(`WorkflowId = "${id}" AND ExecutionStatus = "Failed"`);
    assert.equal(found.count, 1);

    // Run again: a new run of the same release, not the old answer.
    const again = await post(pushed.body.id);
    assert.equal(again.status, 202, JSON.stringify(again.body));
    assert.equal(again.body.existing, false);
    assert.equal(again.body.id, id);
    const latest = stack().ferry.temporal.workflow.getHandle(id);
    await latest.result().catch(() => undefined);
    const rerun = await latest.describe();
    assert.notEqual(rerun.runId, firstRun);
    assert.equal(rerun.status.name, 'FAILED');
    assert.equal((await stack().waitForRelease(id, ['failed', 'succeeded'])).status, 'failed');
  });

  test('releasing an older artifact again is a new release and a new commit; what the environment runs is answered as existing', async () => {
    const older = await pushAndRelease('goback');
    await settle(older.releaseId);
    const newer = await pushAndRelease('goback');
    await settle(newer.releaseId);

    const back = await post(older.artifactId);
    assert.equal(back.status, 202, JSON.stringify(back.body));
    assert.equal(back.body.existing, false);
    assert.match(back.body.id, new RegExp(`^${older.releaseId}:again-[0-9a-f]{10}$`));
    // A CI retry while it runs joins it.
    const retry = await post(older.artifactId);
    assert.equal(retry.body.id, back.body.id);
    assert.equal(retry.body.existing, true);
    await settle(back.body.id);
    const commits = commitsWithTrailer(back.body.id);
    assert.equal(commits.length, 1);
    assert.match(stack().git('show', `${commits[0]}:staging/goback/deployment-goback.yaml`), new RegExp(older.artifact.version.sha));

    // The environment runs exactly this artifact now: the same request is answered with that release.
    const same = await post(older.artifactId);
    assert.equal(same.status, 200);
    assert.deepEqual([same.body.id, same.body.existing, same.body.status], [back.body.id, true, 'succeeded']);
  });
});

describe('release workflow determinism', () => {
  test('a finished release history replays against the current workflow code', async () => {
    const r = await pushAndRelease('replayed');
    const row = await stack().waitForRelease(r.releaseId, ['reconciling']);
    await stack().postFlux(fluxEvent('ReconciliationSucceeded', row.gitopsCommit, { env: 'staging' }));
    await stack().waitForRelease(r.releaseId, ['succeeded']);
    const history = await stack().ferry.temporal.workflow.getHandle(r.releaseId).fetchHistory();
    await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history, r.releaseId);
    let replayed = 0;
    for await (const h of stack().ferry.temporal.workflow.list({ query: `WorkflowType = "fluxEventWorkflow" AND ExecutionStatus = "Completed"` }).intoHistories()) {
      await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, h.history, h.workflowId);
      replayed += 1;
      if (replayed >= 3) break;
    }
    assert.ok(replayed > 0, 'no Flux event workflow ran');
  });
});

describe('without Flux and with a notification webhook', () => {
  let quiet: Stack;
  const received: any[] = [];
  let hook: http.Server;
  before(async () => {
    hook = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        received.push(JSON.parse(body));
        // The first delivery fails: the notifier retries, and the release is unaffected either way.
        res.statusCode = received.length === 1 ? 500 : 204;
        res.end();
      });
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
    quiet = await startStack({ env: { FERRY_AWAIT_FLUX: 'false', FERRY_NOTIFY_WEBHOOK_URL: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook` } });
  });
  after(async () => {
    await quiet?.stop();
    hook?.close();
  });

  test('committed is the successful end, and the webhook gets the release', async () => {
    const artifact = makeArtifact({ apps: [{ app: 'ledger', env: 'dev' }] });
    const pushed = await quiet.api('POST', '/api/artifacts', artifact);
    const started = await quiet.api('POST', '/api/releases', { artifactId: pushed.body.id, env: 'dev' });
    const done = await quiet.waitForRelease(started.body.id, ['committed']);
    assert.match(done.gitopsCommit, /^[0-9a-f]{40}$/);
    const deadline = Date.now() + 20_000;
    while (received.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    assert.ok(received.length >= 2, `webhook got ${received.length} deliveries`);
    assert.equal(received.at(-1).release.id, started.body.id);
    assert.equal(received.at(-1).release.status, 'committed');
  });

  test('waiting for Flux ends timed-out after the configured time', async () => {
    const slow = await startStack({ env: { FERRY_FLUX_TIMEOUT: '2s' } });
    try {
      const artifact = makeArtifact({ apps: [{ app: 'slow', env: 'dev' }] });
      const pushed = await slow.api('POST', '/api/artifacts', artifact);
      const started = await slow.api('POST', '/api/releases', { artifactId: pushed.body.id, env: 'dev' });
      const done = await slow.waitForRelease(started.body.id, ['timed-out', 'succeeded', 'failed'], 30_000);
      assert.equal(done.status, 'timed-out');
      assert.match(done.error, /timed out/);
    } finally {
      await slow.stop();
    }
  });
});
