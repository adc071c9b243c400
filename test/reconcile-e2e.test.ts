import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Worker } from '@temporalio/worker';
import { signFluxBody } from '../src/flux/signature';
import { workflowBundle } from '../worker/runtime';
import { type FakeKube, kustomization, type Recorder, startFakeKube, startRecorder } from './support/fake-servers';
import { fluxEvent, makeArtifact, startStack, stopSharedTemporal, type Stack } from './support/stack';

const EU_SECRET = 'eu-secret-from-env';
let stack: Stack;
let kube: FakeKube;
let hooks: Recorder;
let dir: string;

before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ferry-reconcile-'));
  kube = await startFakeKube();
  hooks = await startRecorder();
  hooks.statusFor.set('/broken', 500);
  await fs.writeFile(path.join(dir, 'kubeconfig'), kube.kubeconfig());
  // Clusters and notifications live in FERRY_CONFIG next to the gates; `kubeconfig` is relative to this file.
  await fs.writeFile(path.join(dir, 'ferry.yaml'), `
reconcile: {pollInterval: 1s, publicUrl: "https://ferry.example.com"}
clusters:
  eu: {webhookSecret: {env: FERRY_TEST_EU_SECRET}}
  us: {webhookSecret: us-secret}
  polled:
    webhookSecret: polled-secret
    kubeconfig: kubeconfig
    kustomizations: [{namespace: flux-system, name: apps}]
    gitRepository: {namespace: flux-system, name: gitops}
    requestReconcile: annotate
environments:
  multi: {clusters: [eu, us]}
  polled: {clusters: [polled], autoRollback: false}
  notified:
    notifications:
      - {type: slack, url: {env: FERRY_TEST_SLACK_URL}, channel: "#releases-notified"}
      - {type: slack, url: "${hooks.url}/broken/slack"}
      - {type: discord, url: "${hooks.url}/discord"}
      - {type: webhook, url: "${hooks.url}/webhook"}
      - {type: github, token: gh-token, apiUrl: "${hooks.url}/github"}
      - {type: grafana, url: "${hooks.url}/grafana", token: grafana-token}
`);
  kube.objects.set('kustomizations/flux-system/apps', kustomization('flux-system', 'apps', { ready: ['Unknown', 'Progressing'] }));
  kube.objects.set('gitrepositories/flux-system/gitops', { metadata: { name: 'gitops', namespace: 'flux-system' }, status: { conditions: [{ type: 'Ready', status: 'True', reason: 'Succeeded' }] } });
  stack = await startStack({
    env: { FERRY_FLUX_TIMEOUT: '3m', FERRY_CONFIG: path.join(dir, 'ferry.yaml'), FERRY_TEST_EU_SECRET: EU_SECRET, FERRY_TEST_SLACK_URL: `${hooks.url}/slack` },
  });
});
after(async () => {
  await stack?.stop();
  await kube?.close();
  await hooks?.close();
  await fs.rm(dir, { recursive: true, force: true });
  await stopSharedTemporal();
});

async function release(app: string, env: string) {
  const artifact = makeArtifact({ apps: [{ app, env }] });
  const pushed = await stack.api('POST', '/api/artifacts', artifact);
  assert.equal(pushed.status, 201, JSON.stringify(pushed.body));
  const started = await stack.api('POST', '/api/releases', { artifactId: pushed.body.id, env });
  assert.equal(started.status, 202, JSON.stringify(started.body));
  const row = await stack.waitForRelease(started.body.id, ['reconciling']);
  return { artifact, id: started.body.id as string, commit: row.gitopsCommit as string };
}

async function post(route: string, event: unknown, secret: string) {
  const raw = JSON.stringify(event);
  const res = await fetch(`${stack.url}${route}`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-signature': signFluxBody(raw, secret) }, body: raw });
  return { status: res.status, body: (await res.json().catch(() => null)) as any };
}

const get = async (id: string) => (await stack.api('GET', `/api/releases/${encodeURIComponent(id)}`)).body;
const settle = (id: string) => stack.waitForRelease(id, ['succeeded', 'failed', 'timed-out']);
async function until<T>(fn: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('event reasons', () => {
  test('non-terminal reasons keep a release waiting; a later success settles every skipped ancestor', async () => {
    const waiting: Array<{ id: string; reason: string }> = [];
    for (const [reason, severity] of [['Progressing', 'info'], ['DependencyNotReady', 'info'], ['HealthCheckCanceled', 'info'], ['ArtifactFailed', 'info']] as const) {
      const r = await release(`wait-${reason.toLowerCase()}`, 'dev');
      const res = await stack.postFlux(fluxEvent(reason, r.commit, { severity, env: 'dev' }));
      assert.equal(res.status, 202);
      waiting.push({ id: r.id, reason });
    }
    // A GitRepository NewArtifact only says the source fetched the commit.
    const src = await release('wait-source', 'dev');
    const newArtifact = { ...fluxEvent('NewArtifact', src.commit, { severity: 'info', env: 'dev' }), involvedObject: { kind: 'GitRepository', namespace: 'flux-system', name: 'gitops' } };
    assert.equal((await stack.postFlux(newArtifact)).body.outcome, 'ignored');
    await pause(1500);
    for (const w of waiting) {
      const row = await get(w.id);
      assert.equal(row.status, 'reconciling', `${w.reason} must not settle`);
    }
    await until(async () => ((await get(waiting[0].id)).fluxStatus === 'Progressing' ? true : undefined));
    await until(async () => ((await get(waiting[1].id)).fluxStatus === 'DependencyNotReady' ? true : undefined));
    // Success for the newest commit: Flux skipped the intermediate ones, all of them are live.
    await stack.postFlux(fluxEvent('ReconciliationSucceeded', src.commit, { env: 'dev' }));
    for (const w of [...waiting, { id: src.id }]) assert.equal((await settle(w.id)).status, 'succeeded');
  });

  for (const reason of ['ArtifactFailed', 'PruneFailed', 'InvalidCELExpression', 'AccessDenied', 'Progressing'] as const) {
    test(`${reason} (error) is waited out: Flux retries it; it shows as the release's Flux state until a verdict`, async () => {
      const r = await release(`retry-${reason.toLowerCase()}`, 'dev');
      await stack.postFlux(fluxEvent(reason, r.commit, { severity: 'error', env: 'dev' }));
      await until(async () => ((await get(r.id)).fluxStatus === reason ? true : undefined));
      assert.equal((await get(r.id)).status, 'reconciling');
      await stack.postFlux(fluxEvent('ReconciliationSucceeded', r.commit, { env: 'dev' }));
      assert.equal((await settle(r.id)).status, 'succeeded');
    });
  }

  for (const reason of ['BuildFailed', 'ReconciliationFailed'] as const) {
    test(`${reason} (error) fails the release: not applied`, async () => {
      const r = await release(`fail-${reason.toLowerCase()}`, 'dev');
      await stack.postFlux(fluxEvent(reason, r.commit, { severity: 'error', env: 'dev' }));
      const done = await settle(r.id);
      assert.equal(done.status, 'failed');
      assert.equal(done.fluxOutcome, 'failed');
      assert.equal(done.fluxStatus, reason);
      assert.match(done.error, new RegExp(reason));
    });
  }

  test('HealthCheckFailed fails the release as applied but unhealthy; late events never overwrite it', async () => {
    const r = await release('unhealthy', 'dev');
    await stack.postFlux(fluxEvent('HealthCheckFailed', r.commit, { severity: 'error', env: 'dev' }));
    const done = await settle(r.id);
    assert.equal(done.status, 'failed');
    assert.equal(done.fluxOutcome, 'unhealthy');
    assert.match(done.error, /applied but unhealthy/);
    await stack.postFlux(fluxEvent('ReconciliationSucceeded', r.commit, { message: 'late success', env: 'dev' }));
    await pause(800);
    const later = await get(r.id);
    assert.equal(later.status, 'failed');
    assert.equal(later.fluxOutcome, 'unhealthy');
  });

  test('duplicates and reordering are harmless: Progressing after success changes nothing', async () => {
    const r = await release('reordered', 'dev');
    const ok = fluxEvent('ReconciliationSucceeded', r.commit, { env: 'dev' });
    const first = await stack.postFlux(ok);
    const dup = await stack.postFlux(ok);
    assert.equal(dup.body.duplicate, true);
    assert.equal(dup.body.id, first.body.id);
    await stack.postFlux(fluxEvent('Progressing', r.commit, { env: 'dev' }));
    const done = await settle(r.id);
    assert.equal(done.status, 'succeeded');
    await pause(500);
    assert.equal((await get(r.id)).fluxStatus, 'ReconciliationSucceeded');
  });

  test('a failure for a descendant settles a waiting ancestor too (its changes were not applied)', async () => {
    const a = await release('ancestor-a', 'dev');
    const b = await release('ancestor-b', 'dev');
    await stack.postFlux(fluxEvent('BuildFailed', b.commit, { severity: 'error', env: 'dev' }));
    assert.equal((await settle(a.id)).status, 'failed');
    assert.equal((await settle(b.id)).status, 'failed');
  });
});

describe('clusters', () => {
  test('a release waits on every cluster of its env; per-cluster routes use their own secrets', async () => {
    const r = await release('multi-ok', 'multi');
    assert.deepEqual(Object.keys((await get(r.id)).clusters).sort(), ['eu', 'us']);
    // Wrong secret for the cluster: refused, nothing stored.
    assert.equal((await post('/api/flux/events/eu', fluxEvent('ReconciliationSucceeded', r.commit, { env: 'multi' }), 'us-secret')).status, 401);
    assert.equal((await post('/api/flux/events/nowhere', fluxEvent('ReconciliationSucceeded', r.commit), 'us-secret')).status, 401);
    assert.equal((await post('/api/flux/events/Bad_Name', fluxEvent('ReconciliationSucceeded', r.commit), 'us-secret')).status, 400);
    const eu = await post('/api/flux/events/eu', fluxEvent('ReconciliationSucceeded', r.commit, { env: 'multi' }), EU_SECRET);
    assert.equal(eu.status, 202);
    assert.equal(eu.body.cluster, 'eu');
    // The workflow mirrors each cluster's verdict while it keeps waiting for the others.
    const half = await until(async () => {
      const row = await get(r.id);
      return row.clusters.eu.outcome === 'succeeded' ? row : undefined;
    });
    assert.equal(half.status, 'reconciling');
    // The generic route with the cluster in metadata, verified with that cluster's secret (not the default one).
    const usEvent = { ...fluxEvent('ReconciliationSucceeded', r.commit), metadata: { revision: `main@sha1:${r.commit}`, cluster: 'us', 'ferry.env': 'multi' } };
    assert.equal((await stack.postFlux(usEvent)).status, 401);
    assert.equal((await post('/api/flux/events', usEvent, 'us-secret')).status, 202);
    const done = await settle(r.id);
    assert.equal(done.status, 'succeeded');
    assert.equal(done.clusters.us.outcome, 'succeeded');
    const stored = await stack.ferry.db.query('SELECT DISTINCT cluster FROM flux_events WHERE commit_sha = $1 ORDER BY cluster', [r.commit]);
    assert.deepEqual(stored.rows.map((x) => x.cluster), ['eu', 'us']);
  });

  test('one failing cluster fails the release at once', async () => {
    const r = await release('multi-fail', 'multi');
    await post('/api/flux/events/us', fluxEvent('ReconciliationFailed', r.commit, { env: 'multi' }), 'us-secret');
    const done = await settle(r.id);
    assert.equal(done.status, 'failed');
    assert.match(done.error, /on us/);
    assert.equal(done.clusters.eu.outcome, 'waiting');
  });

  test('GET /api/flux/manifests/:cluster prints Provider, Alert and a placeholder Secret', async () => {
    const res = await fetch(`${stack.url}/api/flux/manifests/eu`, { headers: { authorization: 'Bearer test-admin-token-0123456789' } });
    assert.equal(res.status, 200);
    const text = await res.text();
    assert.match(text, /kind: Provider/);
    assert.match(text, /address: https:\/\/ferry.example.com\/api\/flux\/events\/eu/);
    assert.match(text, /kind: Alert/);
    assert.match(text, /cluster: eu/);
    assert.match(text, /value of FERRY_TEST_EU_SECRET/);
    assert.ok(!text.includes(EU_SECRET));
    assert.equal((await fetch(`${stack.url}/api/flux/manifests/eu`)).status, 401);
    assert.equal((await stack.api('GET', '/api/flux/manifests/unknown')).status, 404);
    const us = await fetch(`${stack.url}/api/flux/manifests/us`, { headers: { authorization: 'Bearer test-admin-token-0123456789' } });
    assert.ok(!(await us.text()).includes('us-secret'));
  });

  test('GET /api/environments lists the environments of the shared file without their secrets', async () => {
    const r = await stack.api('GET', '/api/environments');
    assert.equal(r.status, 200);
    assert.deepEqual(r.body.environments.map((e: { name: string }) => e.name), ['multi', 'notified', 'polled']);
    const text = JSON.stringify(r.body);
    for (const secret of ['us-secret', 'polled-secret', 'gh-token', 'grafana-token', hooks.url, EU_SECRET]) assert.ok(!text.includes(secret), secret);
  });
});

describe('polling', () => {
  test('a lost webhook is rescued by reading the Kustomization; reconcile-now annotates source and Kustomization', async () => {
    const r = await release('polled-ok', 'polled');
    const patch = await kube.waitFor((q) => q.method === 'PATCH' && q.path.includes('/kustomizations/apps'));
    assert.match(String(patch.headers['content-type']), /merge-patch/);
    assert.ok(patch.body.metadata.annotations['reconcile.fluxcd.io/requestedAt']);
    assert.ok(kube.requests.some((q) => q.method === 'PATCH' && q.path.includes('/gitrepositories/gitops')));
    await kube.waitFor((q) => q.method === 'GET' && q.path.includes('/kustomizations/apps'));
    // The controller has not caught up with a new generation yet: not success, even with the revision applied.
    kube.objects.set('kustomizations/flux-system/apps', kustomization('flux-system', 'apps', { generation: 3, observed: 2, ready: ['True', 'ReconciliationSucceeded'], applied: `main@sha1:${r.commit}` }));
    await pause(2500);
    assert.equal((await get(r.id)).status, 'reconciling');
    kube.objects.set('kustomizations/flux-system/apps', kustomization('flux-system', 'apps', { generation: 3, observed: 3, ready: ['True', 'ReconciliationSucceeded', 'Applied revision'], applied: `main@sha1:${r.commit}`, attempted: `main@sha1:${r.commit}` }));
    const done = await settle(r.id);
    assert.equal(done.status, 'succeeded');
    assert.equal(done.clusters.polled.source, 'poll');
    assert.equal(done.fluxOutcome, 'succeeded');
  });

  test('polling reads HealthCheckFailed on the attempted revision as applied but unhealthy', async () => {
    const r = await release('polled-unhealthy', 'polled');
    kube.objects.set('kustomizations/flux-system/apps', kustomization('flux-system', 'apps', { ready: ['False', 'HealthCheckFailed', 'timeout waiting for Deployment'], applied: 'main@sha1:0000000000000000000000000000000000000000', attempted: `main@sha1:${r.commit}` }));
    const done = await settle(r.id);
    assert.equal(done.status, 'failed');
    assert.equal(done.fluxOutcome, 'unhealthy');
  });

  test('DependencyNotReady keeps waiting; the webhook still wins the race when it comes first', async () => {
    const r = await release('polled-dep', 'polled');
    kube.objects.set('kustomizations/flux-system/apps', kustomization('flux-system', 'apps', { ready: ['False', 'DependencyNotReady'], attempted: `main@sha1:${r.commit}` }));
    await pause(2500);
    assert.equal((await get(r.id)).status, 'reconciling');
    await post('/api/flux/events/polled', fluxEvent('ReconciliationSucceeded', r.commit, { env: 'polled' }), 'polled-secret');
    const done = await settle(r.id);
    assert.equal(done.status, 'succeeded');
    assert.equal(done.clusters.polled.source, 'event');
  });
});

describe('notifications', () => {
  test('every target gets a readable payload; a target answering 500 does not change the outcome', async () => {
    const r = await release('notified-app', 'notified');
    const pending = await hooks.waitFor((q) => q.path.startsWith('/github/') && q.body?.state === 'pending');
    assert.equal(pending.path, `/github/repos/acme/shop/statuses/${r.artifact.version.sha}`);
    assert.equal(pending.body.context, 'ferry/notified');
    assert.equal(pending.headers.authorization, 'Bearer gh-token');
    await stack.postFlux(fluxEvent('ReconciliationSucceeded', r.commit, { env: 'notified' }));
    const done = await settle(r.id);
    assert.equal(done.status, 'succeeded');

    const success = await hooks.waitFor((q) => q.path.startsWith('/github/') && q.body?.state === 'success');
    assert.equal(success.body.context, 'ferry/notified');
    const slack = await hooks.waitFor((q) => q.path === '/slack');
    assert.equal(slack.body.channel, '#releases-notified');
    const slackText = JSON.stringify(slack.body.blocks);
    for (const want of ['notified-app', 'notified', 'Ada Lovelace', r.artifact.version.sha.slice(0, 12), r.artifact.version.url, 'succeeded', 'Duration']) assert.ok(slackText.includes(want), `slack lacks ${want}`);
    const discord = await hooks.waitFor((q) => q.path === '/discord');
    assert.match(discord.body.content, /notified-app .* to notified succeeded/);
    const webhook = await hooks.waitFor((q) => q.path === '/webhook');
    assert.equal(webhook.body.release.id, r.id);
    assert.equal(webhook.body.source.sha, r.artifact.version.sha);
    const grafana = await hooks.waitFor((q) => q.path === '/grafana/api/annotations');
    assert.deepEqual(grafana.body.tags, ['deployment', 'notified-app', 'notified']);
    assert.equal(grafana.headers.authorization, 'Bearer grafana-token');
    // The broken target is retried (the workflow keeps running for it); the release stays succeeded throughout.
    await hooks.waitFor((q) => q.path === '/broken/slack');
    assert.equal((await get(r.id)).status, 'succeeded');
    // GitHub got pending strictly before success.
    const gh = hooks.requests.filter((q) => q.path.startsWith('/github/')).map((q) => q.body.state);
    assert.deepEqual(gh, ['pending', 'success']);
  });

  test('a failed release sets a failure status on GitHub', async () => {
    const r = await release('notified-bad', 'notified');
    await stack.postFlux(fluxEvent('ReconciliationFailed', r.commit, { env: 'notified' }));
    assert.equal((await settle(r.id)).status, 'failed');
    const failure = await hooks.waitFor((q) => q.path.startsWith('/github/') && q.body?.state === 'failure' && q.path.endsWith(r.artifact.version.sha));
    assert.match(failure.body.description, /failed/);
  });
});

describe('replay', () => {
  test('release histories with clusters, polling and notifications replay against the current code', async () => {
    const ids: string[] = [];
    for await (const wfx of stack.ferry.temporal.workflow.list({ query: 'WorkflowType = "releaseWorkflow"' })) {
      ids.push(wfx.workflowId);
      if (ids.length >= 30) break;
    }
    // Still-open histories (a notification target being retried) replay as far as they go.
    assert.ok(ids.some((i) => i.includes(':polled:')) && ids.some((i) => i.includes(':multi:')) && ids.some((i) => i.includes(':notified:')), ids.join(' '));
    for (const id of ids) {
      const history = await stack.ferry.temporal.workflow.getHandle(id).fetchHistory();
      await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history, id);
    }
  });
});
