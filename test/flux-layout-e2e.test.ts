/**
 * Per-app Flux Kustomizations end to end (HTTP, Temporal, the writer activity, PostgreSQL, a real bare repository):
 * an environment with `fluxKustomization` in FERRY_CONFIG gets `<env>/flux/<app>.yaml` in the release's one commit,
 * only the app's own Kustomization settles the release, a rollback restores both, the reserved app name is refused,
 * and a preview's cleanup removes its Kustomization with its directory. (An identical render committing nothing is
 * shown at the writer level in flux-layout.test.ts: every artifact's release.json differs.)
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import YAML from 'yaml';
import { deployment, fluxEvent, makeArtifact, useStack } from './support/stack';
import { type FakeKube, kustomization, startFakeKube } from './support/fake-servers';
import { releaseCounts } from './support/git-remote';

let configDir: string;
let kube: FakeKube;

const stack = useStack(async () => {
  configDir = await mkdtemp(path.join(tmpdir(), 'ferry-flux-layout-'));
  // One cluster Ferry can read: its root Kustomization is flux-system/apps.
  kube = await startFakeKube();
  await writeFile(path.join(configDir, 'kubeconfig'), kube.kubeconfig());
  const config = path.join(configDir, 'ferry.yaml');
  await writeFile(config, YAML.stringify({
    reconcile: { pollInterval: '1s' },
    clusters: {
      c1: { webhookSecret: 'c1-secret', kubeconfig: 'kubeconfig', kustomizations: [{ namespace: 'flux-system', name: 'apps' }] },
      c2: { webhookSecret: 'c2-secret' },
    },
    environments: {
      staging: { fluxKustomization: { interval: '5m', wait: true, sourceRef: { name: 'gitops' } } },
      preview: { fluxKustomization: true },
      polled: { fluxKustomization: true, clusters: ['c1'] },
      elsewhere: { fluxKustomization: true, clusters: ['c2'] },
    },
  }));
  return { env: { FERRY_CONFIG: config, FERRY_FLUX_TIMEOUT: '3m' } };
});
after(async () => {
  await kube?.close();
  await rm(configDir, { recursive: true, force: true });
});

async function release(app: string, env: string): Promise<{ id: string; artifactId: string }> {
  const pushed = await stack().api('POST', '/api/artifacts', makeArtifact({ apps: [{ app, env }] }));
  assert.ok(pushed.status === 201 || pushed.status === 200, JSON.stringify(pushed.body));
  const started = await stack().api('POST', '/api/releases', { artifactId: pushed.body.id, env, app });
  assert.equal(started.status, 202, JSON.stringify(started.body));
  return { id: started.body.id, artifactId: pushed.body.id };
}

/** Posts a Kustomization's success for `commit` (naming `env` when it carries Ferry's annotation); returns the releases the event settled. */
async function ksSucceeded(namespace: string, name: string, commit: string, env?: string): Promise<string[]> {
  const e = fluxEvent('ReconciliationSucceeded', commit, { env });
  const posted = await stack().postFlux({ ...e, involvedObject: { ...e.involvedObject, namespace, name } });
  assert.equal(posted.status, 202, JSON.stringify(posted.body));
  assert.equal(posted.body.settling, true);
  const result = await stack().ferry.temporal.workflow.getHandle(`flux-event:${posted.body.id}`).result();
  return result.notified;
}

/**
 * Posts a Kustomization's success for `commit` and checks that it settled `releaseId`: through the event's signal,
 * or, when the release looked at stored events only after this one was stored (a slow activity under load), through
 * that look; the signal then finds the release already ended. Either way the release must succeed at once.
 */
async function assertSettles(namespace: string, name: string, commit: string, releaseId: string, env?: string): Promise<void> {
  const notified = await ksSucceeded(namespace, name, commit, env);
  if (notified.length > 0) {
    assert.deepEqual(notified, [releaseId]);
    return;
  }
  const row = await stack().waitForRelease(releaseId, ['succeeded', 'failed', 'timed-out'], 15_000);
  assert.equal(row.status, 'succeeded', JSON.stringify(row));
}

const changedIn = (commit: string) => stack().git('diff-tree', '--root', '-r', '--name-only', '--no-commit-id', commit).split('\n').filter(Boolean).sort();

describe('per-app Flux Kustomizations', () => {
  test('the release commit carries <env>/flux/<app>.yaml; only the app\'s own Kustomization settles it', async () => {
    const { id, artifactId } = await release('shop', 'staging');
    const row = await stack().waitForRelease(id, ['reconciling', 'failed']);
    assert.equal(row.status, 'reconciling', JSON.stringify(row));
    const commit = row.gitopsCommit as string;
    assert.equal(releaseCounts(stack().ferry.gitopsRepo).get(id), 1);
    // One commit: the app's directory and its Kustomization, nothing else.
    const files = changedIn(commit);
    assert.ok(files.includes('staging/flux/shop.yaml'), files.join(' '));
    assert.ok(files.some((f) => f.startsWith('staging/shop/')), files.join(' '));
    assert.ok(files.every((f) => f === 'staging/flux/shop.yaml' || f.startsWith('staging/shop/')), files.join(' '));

    const ks = YAML.parse(stack().git('show', `${commit}:staging/flux/shop.yaml`));
    assert.equal(ks.apiVersion, 'kustomize.toolkit.fluxcd.io/v1');
    assert.equal(ks.kind, 'Kustomization');
    assert.equal(ks.metadata.name, 'staging-shop');
    assert.equal(ks.metadata.namespace, 'flux-system');
    assert.equal(ks.spec.path, './staging/shop');
    assert.equal(ks.spec.interval, '5m');
    assert.equal(ks.spec.prune, true);
    assert.equal(ks.spec.wait, true);
    assert.deepEqual(ks.spec.sourceRef, { kind: 'GitRepository', name: 'gitops', namespace: 'flux-system' });
    assert.equal(ks.spec.targetNamespace, undefined);

    // The root Kustomization only applied the Kustomization objects; another app's one applied another directory.
    assert.deepEqual(await ksSucceeded('flux-system', 'flux-system', commit), []);
    assert.deepEqual(await ksSucceeded('flux-system', 'staging-cart', commit), []);
    assert.equal((await stack().api('GET', `/api/releases/${encodeURIComponent(id)}`)).body.status, 'reconciling');
    await assertSettles('flux-system', 'staging-shop', commit, id);
    assert.equal((await stack().waitForRelease(id, ['succeeded', 'failed'])).status, 'succeeded');

    // The next artifact changes the app's directory only: the Kustomization's bytes do not depend on the release.
    const next = await release('shop', 'staging');
    const nextRow = await stack().waitForRelease(next.id, ['reconciling', 'failed']);
    assert.ok(changedIn(nextRow.gitopsCommit).every((f) => f.startsWith('staging/shop/')), changedIn(nextRow.gitopsCommit).join(' '));
    await assertSettles('flux-system', 'staging-shop', nextRow.gitopsCommit, next.id);
    await stack().waitForRelease(next.id, ['succeeded']);

    // A rollback to the first artifact restores what its release wrote, Kustomization included.
    const rb = await stack().api('POST', '/api/rollback', { app: 'shop', env: 'staging', to: artifactId });
    assert.equal(rb.status, 202, JSON.stringify(rb.body));
    const rbRow = await stack().waitForRelease(rb.body.id, ['reconciling', 'failed']);
    assert.equal(stack().git('rev-parse', `${rbRow.gitopsCommit}:staging/shop`), stack().git('rev-parse', `${commit}:staging/shop`));
    assert.equal(stack().git('rev-parse', `${rbRow.gitopsCommit}:staging/flux/shop.yaml`), stack().git('rev-parse', `${commit}:staging/flux/shop.yaml`));
    await assertSettles('flux-system', 'staging-shop', rbRow.gitopsCommit, rb.body.id);
    assert.equal((await stack().waitForRelease(rb.body.id, ['succeeded', 'failed'])).status, 'succeeded');
  });

  test('an environment without the option writes no Kustomization and is settled by the one applying ./dev', async () => {
    const { id } = await release('shop', 'dev');
    const row = await stack().waitForRelease(id, ['reconciling', 'failed']);
    assert.ok(changedIn(row.gitopsCommit).every((f) => f.startsWith('dev/shop/')), changedIn(row.gitopsCommit).join(' '));
    // The root without Ferry's annotation names no environment; the Kustomization from the setup manifests does.
    assert.deepEqual(await ksSucceeded('flux-system', 'flux-system', row.gitopsCommit), []);
    await assertSettles('flux-system', 'ferry-dev', row.gitopsCommit, id, 'dev');
    assert.equal((await stack().waitForRelease(id, ['succeeded', 'failed'])).status, 'succeeded');
  });

  test('an app named "flux" cannot be released where flux/ holds the Kustomizations', async () => {
    const pushed = await stack().api('POST', '/api/artifacts', makeArtifact({ apps: [{ app: 'flux', env: 'staging' }] }));
    const res = await stack().api('POST', '/api/releases', { artifactId: pushed.body.id, env: 'staging', app: 'flux' });
    assert.equal(res.status, 422, JSON.stringify(res.body));
    assert.equal(res.body.issues[0].path, 'app');
    assert.match(res.body.error, /staging\/flux\//);
  });

  test('polling reads the app\'s own Kustomization, not the cluster\'s root one', async () => {
    const { id } = await release('shop', 'polled');
    const row = await stack().waitForRelease(id, ['reconciling', 'failed']);
    const commit = row.gitopsCommit as string;
    kube.objects.set('kustomizations/flux-system/apps', kustomization('flux-system', 'apps', { ready: ['True', 'ReconciliationSucceeded'], applied: `main@sha1:${commit}`, attempted: `main@sha1:${commit}` }));
    // Not there yet (the root has to create it first): pending, however ready the root is.
    await kube.waitFor((q) => q.method === 'GET' && q.path.includes('/kustomizations/polled-shop'));
    const before = kube.requests.length;
    await kube.waitFor((q) => q.method === 'GET' && q.path.includes('/kustomizations/polled-shop') && kube.requests.indexOf(q) >= before);
    assert.equal((await stack().api('GET', `/api/releases/${encodeURIComponent(id)}`)).body.status, 'reconciling');
    assert.ok(!kube.requests.some((q) => q.path.includes('/kustomizations/apps')), 'the root Kustomization is not read');
    kube.objects.set('kustomizations/flux-system/polled-shop', kustomization('flux-system', 'polled-shop', { ready: ['True', 'ReconciliationSucceeded', 'Applied revision'], applied: `main@sha1:${commit}`, attempted: `main@sha1:${commit}` }));
    const done = await stack().waitForRelease(id, ['succeeded', 'failed', 'timed-out']);
    assert.equal(done.status, 'succeeded', JSON.stringify(done));
    assert.equal(done.clusters.c1.source, 'poll');
    assert.match(done.clusters.c1.message, /flux-system\/polled-shop/);
  });

  test('the setup manifests of a cluster name the environments whose root must apply ./<env>/flux', async () => {
    const own = await stack().api('GET', '/api/flux/manifests/c1');
    assert.equal(own.status, 200);
    // Only the environment naming c1; the others need asking for (`elsewhere` names c2, `dev` is no per-app one).
    assert.deepEqual(YAML.parseAllDocuments(String(own.body)).map((d) => d.toJS()).filter((d) => d.kind === 'Kustomization').map((d) => d.metadata.name), ['ferry-polled']);
    const res = await stack().api('GET', '/api/flux/manifests/c1?env=polled,staging&env=preview');
    assert.equal(res.status, 200);
    const text = String(res.body);
    const note = text.split('\n').filter((l) => l.startsWith('#')).join('\n');
    assert.match(note, /polled: spec\.path: \.\/polled\/flux/);
    assert.match(note, /staging: spec\.path: \.\/staging\/flux/);
    assert.match(note, /preview: spec\.path: \.\/preview\/flux/);
    assert.doesNotMatch(note, /elsewhere|dev/);
    const docs = YAML.parseAllDocuments(text).map((d) => d.toJS());
    assert.deepEqual(docs.map((d) => d.kind), ['Secret', 'Provider', 'Alert', 'Kustomization', 'Kustomization', 'Kustomization']);
    assert.deepEqual(docs.slice(3).map((d) => `${d.metadata.name} ${d.spec.path} ${d.spec.sourceRef.name}`).sort(), [
      'ferry-polled ./polled/flux flux-system', 'ferry-preview ./preview/flux flux-system', 'ferry-staging ./staging/flux gitops',
    ]);
  });

  test('removing a preview removes its Kustomization in the same commit', async () => {
    const base = makeArtifact({ apps: [], branch: 'feature/cart', repo: 'acme/store' });
    const artifact = { ...base, environments: [{ app: 'store', env: 'preview', namespace: 'preview', preview: true, manifests: deployment('store') }] };
    const pushed = await stack().api('POST', '/api/artifacts', artifact);
    assert.equal(pushed.status, 201, JSON.stringify(pushed.body));
    const { released } = await stack().ferry.temporal.workflow.getHandle(`artifact:${pushed.body.id}`).result();
    assert.deepEqual(released, [`release:store-feature-cart:preview:${pushed.body.id}`]);
    const row = await stack().waitForRelease(released[0], ['reconciling', 'failed']);
    assert.ok(changedIn(row.gitopsCommit).includes('preview/flux/store-feature-cart.yaml'));
    await assertSettles('flux-system', 'preview-store-feature-cart', row.gitopsCommit, released[0]);
    await stack().waitForRelease(released[0], ['succeeded']);

    const before = stack().git('rev-parse', 'main');
    const res = await stack().api('POST', '/api/events/branch-deleted', { repository: 'acme/store', branch: 'feature/cart' });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    const result = await stack().ferry.temporal.workflow.getHandle(res.body.workflowId, res.body.runId).result();
    assert.deepEqual(result.removed.map((r: { status: string }) => r.status), ['committed']);
    assert.equal(stack().git('rev-list', '--count', `${before}..main`), '1');
    const gone = changedIn('main');
    assert.ok(gone.includes('preview/flux/store-feature-cart.yaml'), gone.join(' '));
    assert.equal(stack().git('ls-tree', '-r', '--name-only', 'main', 'preview/'), '');
  });
});
