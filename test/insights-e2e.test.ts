// DORA figures against a scripted history of real releases (Temporal, PostgreSQL, git, Flux events): the numbers the
// API gives must be exactly those the releases that happened imply.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { workflowBundle } from '../worker/runtime';
import { cliEnv, runCli } from './support/cli';
import { configEnv, eventually } from './support/gates';
import { ADMIN_TOKEN } from './support/http';
import { fluxEvent, makeArtifact, sharedTemporal, useStack } from './support/stack';

const stack = useStack(async () => {
  await Promise.all([sharedTemporal(), workflowBundle()]);
  return { env: await configEnv({ staging: {}, prod: { autoRollback: true } }, { FERRY_FLUX_TIMEOUT: '2m' }) };
});

/** Pushes an artifact whose source commit is `createdAgoS` seconds old (unix seconds, as Gimlet's clients send it). */
async function push(app: string, env: string, createdAgoS: number): Promise<string> {
  const a = makeArtifact({ apps: [{ app, env }] });
  (a.version as Record<string, unknown>).created = Math.floor(Date.now() / 1000) - createdAgoS;
  const r = await stack().api('POST', '/api/artifacts', a);
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return r.body.id;
}

async function start(artifactId: string, env: string): Promise<string> {
  const r = await stack().api('POST', '/api/releases', { artifactId, env });
  assert.equal(r.status, 202, JSON.stringify(r.body));
  return r.body.id;
}

/** Waits for Flux to be awaited, then plays Flux's verdict on the release's commit. */
async function flux(releaseId: string, reason: 'ReconciliationSucceeded' | 'ReconciliationFailed'): Promise<any> {
  const row = await stack().waitForRelease(releaseId, ['reconciling']);
  const sent = await stack().postFlux(fluxEvent(reason, row.gitopsCommit, { env: row.env, ...(reason === 'ReconciliationFailed' ? { severity: 'error', message: 'apply failed' } : {}) }));
  assert.ok(sent.status < 300, JSON.stringify(sent.body));
  return stack().waitForRelease(releaseId, ['succeeded', 'failed']);
}

async function dora(query: string): Promise<any> {
  const r = await stack().api('GET', `/api/insights/dora?${query}`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body;
}

/** PostgreSQL's percentile_cont: linear interpolation between the closest ranks. */
function percentile(values: number[], p: number): number {
  const v = [...values].sort((a, b) => a - b);
  const pos = (v.length - 1) * p;
  const lo = Math.floor(pos);
  return v[lo] + (v[Math.min(lo + 1, v.length - 1)] - v[lo]) * (pos - lo);
}
const seconds = (from: string, to: string) => (Date.parse(to) - Date.parse(from)) / 1000;
const close = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) < 0.01, `${what}: ${a} vs ${b}`);

describe('DORA figures', () => {
  test('three successes and one Flux failure: change failure rate 0.25; a no-op release is no deployment', async () => {
    const created: Record<string, number> = {};
    const done: any[] = [];
    for (const [i, outcome] of (['ReconciliationSucceeded', 'ReconciliationSucceeded', 'ReconciliationFailed', 'ReconciliationSucceeded'] as const).entries()) {
      const ago = 3600 * (i + 1);
      const id = await start(await push('alpha', 'staging', ago), 'staging');
      created[id] = ago;
      done.push(await flux(id, outcome));
    }
    assert.deepEqual(done.map((r) => r.status), ['succeeded', 'succeeded', 'failed', 'succeeded']);
    // The last release run again under another id: the manifests are there already, so it succeeds with nothing
    // to commit, and is no deployment.
    const last = done.at(-1);
    const input = (await stack().ferry.temporal.workflow.getHandle(last.id).fetchHistory()).events![0]!.workflowExecutionStartedEventAttributes!.input!;
    const { defaultPayloadConverter } = await import('@temporalio/common');
    const args = defaultPayloadConverter.fromPayload<Record<string, unknown>>(input.payloads![0]!);
    const again = `${last.id}:again`;
    await stack().ferry.temporal.workflow.execute('releaseWorkflow', { workflowId: again, taskQueue: `releases-${stack().dir.split('/').pop()}`, args: [{ ...args, releaseId: again }] });
    const noop = await stack().waitForRelease(again, ['succeeded', 'failed', 'reconciling']);
    assert.equal(noop.status, 'succeeded');
    assert.match(noop.timeline.at(-1).message, /nothing to commit/);

    const d = await dora('app=alpha&env=staging&days=1');
    assert.deepEqual(d.filter, { app: 'alpha', env: 'staging' });
    assert.equal(d.window.days, 1);
    assert.equal(d.deploymentFrequency.deployments, 3);
    close(d.deploymentFrequency.perDay, 3, 'per day');
    assert.deepEqual(d.changeFailureRate, { committed: 4, failed: 1, fluxFailed: 1, rolledBack: 0, autoRolledBack: 0, rate: 0.25 });

    // Lead time: from each successful release's source commit to its success, as the rows say.
    const ok = [...done.filter((r) => r.status === 'succeeded')];
    const leads = await Promise.all(ok.map(async (r) => {
      const art = await stack().api('GET', `/api/artifacts/${encodeURIComponent(r.artifactId)}`);
      const commitAt = Number(art.body.artifact?.version?.created ?? art.body.version?.created) * 1000;
      return (Date.parse(r.finishedAt) - commitAt) / 1000;
    }));
    assert.equal(d.leadTime.deployments, 3);
    close(d.leadTime.medianSeconds, percentile(leads, 0.5), 'lead time median');
    close(d.leadTime.p90Seconds, percentile(leads, 0.9), 'lead time p90');

    // Restored by the next success after the failure.
    const [failed, next] = [done[2], done[3]];
    assert.equal(d.timeToRestore.failures, 1);
    assert.equal(d.timeToRestore.restored, 1);
    close(d.timeToRestore.medianSeconds, seconds(failed.finishedAt, next.finishedAt), 'time to restore');

    // Other filters: the app over every env, and an env nothing was released to.
    assert.equal((await dora('app=alpha')).deploymentFrequency.deployments, 3);
    const empty = await dora('env=nowhere');
    assert.equal(empty.deploymentFrequency.deployments, 0);
    assert.equal(empty.changeFailureRate.rate, null);
    assert.equal(empty.leadTime.medianSeconds, null);
  });

  test('rollbacks, automatic and by hand, count as failed changes; each is restored by the rollback', async () => {
    const good = await flux(await start(await push('beta', 'prod', 600), 'prod'), 'ReconciliationSucceeded');
    assert.equal(good.status, 'succeeded');
    const bad = await flux(await start(await push('beta', 'prod', 500), 'prod'), 'ReconciliationFailed');
    assert.equal(bad.status, 'failed');
    // prod rolls back automatically: one rollback release naming the failed one.
    const auto = await eventually('the automatic rollback', async () => {
      const r = await stack().api('GET', '/api/releases?app=beta&env=prod&limit=10');
      return r.body.items.find((x: { rollbackOf: string | null }) => x.rollbackOf === bad.id);
    });
    assert.equal(auto.releasedBy, 'ferry:auto-rollback');
    const restored = await flux(auto.id, 'ReconciliationSucceeded');
    assert.equal(restored.status, 'succeeded');

    const good2 = await flux(await start(await push('beta', 'prod', 400), 'prod'), 'ReconciliationSucceeded');
    const rb = await stack().api('POST', '/api/rollback', { app: 'beta', env: 'prod' });
    assert.equal(rb.status, 202, JSON.stringify(rb.body));
    const manual = await flux(rb.body.id, 'ReconciliationSucceeded');
    assert.equal(manual.rollbackOf, good2.id);

    const d = await dora('app=beta&env=prod&days=7');
    // good, bad, auto rollback, good2, manual rollback committed; bad (Flux, rolled back automatically) and good2
    // (rolled back by hand) failed.
    assert.deepEqual(d.changeFailureRate, { committed: 5, failed: 2, fluxFailed: 1, rolledBack: 2, autoRolledBack: 1, rate: 0.4 });
    assert.equal(d.deploymentFrequency.deployments, 4);
    close(d.deploymentFrequency.perDay, 4 / 7, 'per day');
    const ttr = [seconds(bad.finishedAt, restored.finishedAt), seconds(manual.createdAt, manual.finishedAt)];
    assert.equal(d.timeToRestore.failures, 2);
    assert.equal(d.timeToRestore.restored, 2);
    close(d.timeToRestore.medianSeconds, percentile(ttr, 0.5), 'time to restore median');
    close(d.timeToRestore.p90Seconds, percentile(ttr, 0.9), 'time to restore p90');
  });

  test('Prometheus metrics per environment, named by the conventions', async () => {
    const res = await fetch(`${stack().url}/metrics`, { headers: { authorization: `Bearer ${(await import('./support/http')).ADMIN_TOKEN}` } });
    const text = await res.text();
    assert.match(text, /# TYPE ferry_dora_change_failure_ratio gauge/);
    assert.match(text, /ferry_dora_change_failure_ratio\{env="staging"\} 0\.25/);
    assert.match(text, /ferry_dora_deployments\{env="prod"\} 4/);
    assert.match(text, /ferry_dora_lead_time_seconds\{env="staging",quantile="0\.5"\} \d/);
    assert.match(text, /ferry_dora_time_to_restore_seconds\{env="prod",quantile="0\.9"\} \d/);
    assert.match(text, /ferry_dora_window_seconds 2592000/);
    // No per-app series: apps (and preview apps) would make the label set unbounded.
    assert.doesNotMatch(text, /ferry_dora_[a-z_]+\{[^}]*app=/);
  });

  test('ferry insights: a table, and the API document with --output json', async () => {
    const env = cliEnv({ FERRY_SERVER: stack().url, FERRY_TOKEN: ADMIN_TOKEN });
    const json = await runCli(['insights', '--app', 'alpha', '--env', 'staging', '--days', '1', '--output', 'json'], { cwd: stack().dir, env });
    assert.equal(json.code, 0, json.stderr);
    const doc = JSON.parse(json.stdout);
    assert.equal(doc.changeFailureRate.rate, 0.25);
    assert.deepEqual(doc.filter, { app: 'alpha', env: 'staging' });
    const text = await runCli(['insights', '--app', 'alpha', '--env', 'staging', '--days', '1'], { cwd: stack().dir, env });
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /change failure rate\s+25\.0%\s+1 of 4 committed/);
    assert.match(text.stdout, /deployment frequency\s+3\.00\/day\s+3 deployments/);
    const bad = await runCli(['insights', '--days', '0'], { cwd: stack().dir, env });
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /days: must be at least 1/);
  });

  test('bad input names the field', async () => {
    for (const [q, field] of [['days=0', 'days'], ['days=abc', 'days'], ['days=1.5', 'days'], ['days=366', 'days'], ['app=Bad!', 'app'], ['env=a/b', 'env'], ['bogus=1', '(body)']]) {
      const r = await stack().api('GET', `/api/insights/dora?${q}`);
      assert.equal(r.status, 400, `${q}: ${JSON.stringify(r.body)}`);
      assert.ok(r.body.issues.some((i: { path: string }) => i.path === field), `${q} should name ${field}: ${JSON.stringify(r.body.issues)}`);
    }
  });
});
