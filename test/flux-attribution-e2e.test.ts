/**
 * Flux events settle only the releases of the environment they speak for, end to end (HTTP, Temporal, PostgreSQL, a
 * real GitOps repository), with events delivered the way notification-controller delivers them for the manifests
 * Ferry serves: the Alert, Kustomizations and Provider address come from `GET /api/flux/manifests/default` (the
 * single-secret setup), the per-app Kustomization from the release commit, and every event goes through the model of
 * notification-controller's matching and metadata merge in support/flux-alert.ts before it is signed and posted.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import YAML from 'yaml';
import { signFluxBody } from '../src/flux/signature';
import { type FakeKube, kustomization, startFakeKube } from './support/fake-servers';
import { type AlertModel, type Cluster, controllerEvent, deliver, type FluxObjectModel } from './support/flux-alert';
import { FLUX_SECRET, makeArtifact, useStack } from './support/stack';

let configDir: string;
let kube: FakeKube;

const stack = useStack(async () => {
  configDir = await mkdtemp(path.join(tmpdir(), 'ferry-flux-attribution-'));
  const config = path.join(configDir, 'ferry.yaml');
  kube = await startFakeKube();
  await writeFile(path.join(configDir, 'kubeconfig'), kube.kubeconfig());
  // One repository, three environments on the single-secret cluster (prod's apps get their own Kustomizations in
  // namespace `apps`), and two more on a cluster Ferry can read.
  await writeFile(config, YAML.stringify({
    reconcile: { pollInterval: '1s' },
    clusters: { edge: { webhookSecret: 'edge-secret', kubeconfig: 'kubeconfig' } },
    environments: {
      dev: {},
      staging: { autoRollback: true },
      prod: { fluxKustomization: { namespace: 'apps' } },
      'edge-a': { clusters: ['edge'] },
      'edge-b': { clusters: ['edge'] },
    },
  }));
  return { env: { FERRY_CONFIG: config, FERRY_FLUX_TIMEOUT: '3m' } };
});
after(async () => {
  await kube?.close();
  await rm(configDir, { recursive: true, force: true });
});

interface Served {
  cluster: Cluster;
  address: string;
  kustomizations: Map<string, FluxObjectModel>;
}

async function served(): Promise<Served> {
  const res = await stack().api('GET', '/api/flux/manifests/default');
  assert.equal(res.status, 200, JSON.stringify(res.body));
  const docs = YAML.parseAllDocuments(String(res.body)).map((d) => d.toJS());
  const provider = docs.find((d) => d.kind === 'Provider');
  const alerts = docs.filter((d) => d.kind === 'Alert') as AlertModel[];
  const ks = docs.filter((d) => d.kind === 'Kustomization') as FluxObjectModel[];
  return {
    cluster: { alerts, objects: [...ks] },
    address: provider.spec.address,
    kustomizations: new Map(ks.map((k) => [k.metadata.name, k])),
  };
}

async function release(app: string, env: string): Promise<{ id: string; commit: string }> {
  const pushed = await stack().api('POST', '/api/artifacts', makeArtifact({ apps: [{ app, env }] }));
  assert.ok(pushed.status === 201 || pushed.status === 200, JSON.stringify(pushed.body));
  const started = await stack().api('POST', '/api/releases', { artifactId: pushed.body.id, env, app });
  assert.equal(started.status, 202, JSON.stringify(started.body));
  const row = await stack().waitForRelease(started.body.id, ['reconciling']);
  return { id: started.body.id, commit: row.gitopsCommit };
}

/** What notification-controller would post for this controller event; returns Ferry's answers. */
async function emit(setup: Served, obj: FluxObjectModel, e: Parameters<typeof controllerEvent>[1]): Promise<any[]> {
  const answers = [];
  for (const { payload } of deliver(setup.cluster, controllerEvent(obj, e))) {
    const raw = JSON.stringify(payload);
    const res = await fetch(setup.address, { method: 'POST', headers: { 'content-type': 'application/json', 'x-signature': signFluxBody(Buffer.from(raw), FLUX_SECRET) }, body: raw });
    assert.equal(res.status, 202);
    const body = (await res.json()) as { id: string; settling: boolean };
    if (body.settling) await stack().ferry.temporal.workflow.getHandle(`flux-event:${body.id}`).result();
    answers.push(body);
  }
  return answers;
}

const succeeded = (commit: string) => ({ severity: 'info' as const, reason: 'ReconciliationSucceeded', message: 'Reconciliation finished in 1.1s, next run in 10m0s', revision: `main@sha1:${commit}`, commitStatus: true });

async function statusOf(id: string): Promise<any> {
  return (await stack().api('GET', `/api/releases/${id}`)).body;
}

describe('Flux events settle only their own environment (single-secret setup, one repository)', () => {
  test('the default cluster serves a Kustomization per environment, annotated with it', async () => {
    await release('seed', 'qa'); // an environment known only from its releases is covered too
    const setup = await served();
    // Not edge-a or edge-b: they name another cluster.
    assert.deepEqual([...setup.kustomizations.keys()].sort(), ['ferry-dev', 'ferry-prod', 'ferry-qa', 'ferry-staging']);
    assert.equal(setup.kustomizations.get('ferry-staging')!.metadata.annotations!['event.toolkit.fluxcd.io/ferry.env'], 'staging');
    assert.equal((setup.kustomizations.get('ferry-prod') as any).spec.path, './prod/flux');
    assert.equal(setup.address, `${stack().url}/api/flux/events`);
  });

  test("staging's success for a commit does not settle dev's release of it; dev's own does", async () => {
    const dev = await release('web', 'dev');
    const staging = await release('web', 'staging');
    const setup = await served();
    // Staging applies the tip, which contains dev's commit: its verdict must not reach dev's release.
    await emit(setup, setup.kustomizations.get('ferry-staging')!, succeeded(staging.commit));
    assert.equal((await stack().waitForRelease(staging.id, ['succeeded', 'failed', 'timed-out'])).status, 'succeeded');
    assert.equal((await statusOf(dev.id)).status, 'reconciling');
    // A failure from staging does not end dev's release either.
    await emit(setup, setup.kustomizations.get('ferry-staging')!, { severity: 'error', reason: 'ReconciliationFailed', message: 'Deployment/dev/web dry-run failed', revision: `main@sha1:${staging.commit}` });
    assert.equal((await statusOf(dev.id)).status, 'reconciling');
    await emit(setup, setup.kustomizations.get('ferry-dev')!, succeeded(staging.commit));
    assert.equal((await stack().waitForRelease(dev.id, ['succeeded', 'failed', 'timed-out'])).status, 'succeeded');
  });

  test('an event naming no environment is recorded and settles nothing', async () => {
    const r = await release('api', 'dev');
    const setup = await served();
    // The cluster's own bootstrap Kustomization, without the annotation.
    const bootstrap: FluxObjectModel = { apiVersion: 'kustomize.toolkit.fluxcd.io/v1', kind: 'Kustomization', metadata: { namespace: 'flux-system', name: 'flux-system' } };
    const [answer] = await emit(setup, bootstrap, succeeded(r.commit));
    assert.equal(answer.env, null);
    assert.equal(answer.settling, false);
    assert.equal(answer.outcome, 'succeeded');
    assert.equal((await statusOf(r.id)).status, 'reconciling');
    await emit(setup, setup.kustomizations.get('ferry-dev')!, succeeded(r.commit));
    assert.equal((await stack().waitForRelease(r.id, ['succeeded', 'failed', 'timed-out'])).status, 'succeeded');
  });

  test('a transient source error followed by success ends succeeded, with no rollback', async () => {
    const r = await release('cart', 'staging');
    const setup = await served();
    const ks = setup.kustomizations.get('ferry-staging')!;
    await emit(setup, ks, { severity: 'error', reason: 'ArtifactFailed', message: 'failed to download archive: GET http://source-controller.flux-system.svc/x.tar.gz: connection refused', revision: `main@sha1:${r.commit}` });
    await emit(setup, ks, { severity: 'error', reason: 'Progressing', message: 'failed to patch status: the object has been modified', revision: `main@sha1:${r.commit}` });
    await emit(setup, ks, { severity: 'info', reason: 'DependencyNotReady', message: "dependency 'flux-system/infra' is not ready", revision: `main@sha1:${r.commit}` });
    // The release shows what Flux is waiting for (its PostgreSQL mirror follows the workflow's state).
    let waiting = await statusOf(r.id);
    for (let i = 0; i < 100 && waiting.fluxStatus !== 'DependencyNotReady'; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      waiting = await statusOf(r.id);
    }
    assert.equal(waiting.status, 'reconciling');
    assert.equal(waiting.fluxStatus, 'DependencyNotReady');
    await emit(setup, ks, succeeded(r.commit));
    const done = await stack().waitForRelease(r.id, ['succeeded', 'failed', 'timed-out']);
    assert.equal(done.status, 'succeeded', JSON.stringify(done));
    assert.ok(!done.timeline.some((t: { message?: string }) => /rollback/.test(t.message ?? '')), JSON.stringify(done.timeline));
  });

  test('per-app Kustomizations in another namespace reach Ferry through the served Alert and settle only their app', async () => {
    const web = await release('web', 'prod');
    const setup = await served();
    const file = YAML.parse(stack().git('show', `${web.commit}:prod/flux/web.yaml`)) as FluxObjectModel;
    assert.equal(file.metadata.namespace, 'apps');
    setup.cluster.objects.push(file);
    // The Alert Ferry served before this change (sources without namespace) never saw these events.
    const oldAlert: AlertModel = { metadata: { name: 'ferry', namespace: 'flux-system' }, spec: { providerRef: { name: 'ferry' }, eventSeverity: 'info', eventSources: [{ kind: 'Kustomization', name: '*' }] } };
    assert.equal(deliver({ alerts: [oldAlert], objects: [] }, controllerEvent(file, succeeded(web.commit))).length, 0);
    // The root applying ./prod/flux reports the commit: it only applied Kustomization objects.
    const [rootAnswer] = await emit(setup, setup.kustomizations.get('ferry-prod')!, succeeded(web.commit));
    assert.equal(rootAnswer.env, 'prod');
    assert.equal((await statusOf(web.id)).status, 'reconciling');
    const [answer] = await emit(setup, file, succeeded(web.commit));
    assert.equal(answer.env, 'prod');
    assert.equal((await stack().waitForRelease(web.id, ['succeeded', 'failed', 'timed-out'])).status, 'succeeded');
  });
});

describe('a cluster with two environments, polled', () => {
  test("each release reads its own environment's Kustomization, not its neighbour's", async () => {
    const a = await release('svc', 'edge-a');
    const b = await release('svc', 'edge-b');
    // edge-b's Kustomization applied the tip (which contains edge-a's commit); edge-a's is still on an older one.
    kube.objects.set('kustomizations/flux-system/ferry-edge-b', kustomization('flux-system', 'ferry-edge-b', { ready: ['True', 'ReconciliationSucceeded', 'Applied revision'], applied: `main@sha1:${b.commit}`, attempted: `main@sha1:${b.commit}` }));
    kube.objects.set('kustomizations/flux-system/ferry-edge-a', kustomization('flux-system', 'ferry-edge-a', { ready: ['False', 'ArtifactFailed', 'failed to download archive'], applied: 'main@sha1:0000000000000000000000000000000000000000', attempted: `main@sha1:${b.commit}` }));
    const doneB = await stack().waitForRelease(b.id, ['succeeded', 'failed', 'timed-out']);
    assert.equal(doneB.status, 'succeeded');
    assert.match(doneB.clusters.edge.message, /flux-system\/ferry-edge-b/);
    // A source error on edge-a's Kustomization is waited out.
    await new Promise((r) => setTimeout(r, 2500));
    assert.equal((await statusOf(a.id)).status, 'reconciling');
    kube.objects.set('kustomizations/flux-system/ferry-edge-a', kustomization('flux-system', 'ferry-edge-a', { ready: ['True', 'ReconciliationSucceeded', 'Applied revision'], applied: `main@sha1:${b.commit}`, attempted: `main@sha1:${b.commit}` }));
    const doneA = await stack().waitForRelease(a.id, ['succeeded', 'failed', 'timed-out']);
    assert.equal(doneA.status, 'succeeded');
    assert.match(doneA.clusters.edge.message, /flux-system\/ferry-edge-a/);
    // The served setup of that cluster creates exactly those two: nothing of the environments running elsewhere.
    const names = async (route: string) => YAML.parseAllDocuments(String((await stack().api('GET', route)).body)).map((d) => d.toJS()).filter((d) => d.kind === 'Kustomization').map((d) => d.metadata.name).sort();
    assert.deepEqual(await names('/api/flux/manifests/edge'), ['ferry-edge-a', 'ferry-edge-b']);
    assert.deepEqual(await names('/api/flux/manifests/edge?env=edge-a'), ['ferry-edge-a']);
    assert.equal((await stack().api('GET', '/api/flux/manifests/edge?env=../x')).status, 400);
  });
});
