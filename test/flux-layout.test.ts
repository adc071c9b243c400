/**
 * The per-app Flux Kustomization layout: the Kustomization file itself (config, name, bytes), and the GitopsWriter
 * with files a change owns outside its directory (`extraFiles`, here `<env>/flux/<app>.yaml`) against real bare
 * repositories.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import YAML from 'yaml';
import { runGit } from '../src/gitops/git';
import { ConflictError, GitopsWriter, type AppChange } from '../src/gitops/writer';
import {
  FluxKustomizationSchema, fluxKustomizationName, fluxKustomizationPath, fluxLayoutRefusal, renderFluxKustomization,
} from '../src/flux/kustomization';
import { EnvironmentsFileSchema, fluxKustomizationOf } from '../src/gates/environments';
import { NAME_RE } from '../src/names';
import { fluxSetupManifests } from '../src/reconcile/manifests';
import { gitSync, hookRemote, pushForeign } from './support/git-remote';

const COMMITTER = { name: 'Ferry Bot', email: 'ferry@example.test' };
let root: string;
let n = 0;

before(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'ferry-extra-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

const fresh = (name: string) => path.join(root, `${name}-${++n}`);

async function makeRemote(): Promise<string> {
  const dir = fresh('remote') + '.git';
  await runGit(['init', '--bare', '--quiet', '--initial-branch=main', dir]);
  return dir;
}

async function newWriter(remote: string): Promise<GitopsWriter> {
  const w = new GitopsWriter({ remote, branch: 'main', cacheDir: fresh('cache'), committer: COMMITTER, retry: { maxElapsedMs: 20_000, initialDelayMs: 20, maxDelayMs: 250 } });
  await w.init();
  return w;
}

const ks = (app: string, interval = '10m') => renderFluxKustomization('staging', app, FluxKustomizationSchema.parse({ interval }));

function release(id: string, app: string, files: Record<string, string>, flux: string | null): AppChange {
  return {
    releaseId: id,
    dir: `staging/${app}`,
    files,
    extraFiles: { [fluxKustomizationPath('staging', app)]: flux },
    title: `[staging/${app}] release ${id}`,
    trailers: { 'Ferry-App': app, 'Ferry-Env': 'staging' },
    notBefore: new Date(Date.now() - 60_000).toISOString(),
  };
}

const changedIn = (remote: string, commit: string) => gitSync(remote, 'diff-tree', '--root', '-r', '--name-only', '--no-commit-id', commit).split('\n').filter(Boolean).sort();
const count = (remote: string) => Number(gitSync(remote, 'rev-list', '--count', 'main'));

describe('the Kustomization file', () => {
  test('configuration: `true` takes the defaults, `false` and `enabled: false` switch it off, mistakes name their field', () => {
    const on = EnvironmentsFileSchema.parse({ environments: { staging: { fluxKustomization: true }, dev: { fluxKustomization: false }, qa: { fluxKustomization: { enabled: false, interval: '1m' } }, prod: {} } });
    assert.deepEqual(fluxKustomizationOf(on, 'staging'), {
      enabled: true, namespace: 'flux-system', sourceRef: { kind: 'GitRepository', name: 'flux-system', namespace: 'flux-system' },
      interval: '10m', prune: true, wait: false, dependsOn: [],
    });
    for (const env of ['dev', 'qa', 'prod', 'unknown']) assert.equal(fluxKustomizationOf(on, env), undefined, env);

    const bad = EnvironmentsFileSchema.safeParse({ environments: { staging: { fluxKustomization: { interval: 'soon', sourceRef: { name: 'Bad_Name' }, namespace: 'x'.repeat(64), prunne: true } } } });
    assert.equal(bad.success, false);
    const paths = bad.error!.issues.map((i) => i.path.join('.'));
    for (const p of ['interval', 'sourceRef.name', 'namespace']) assert.ok(paths.includes(`environments.staging.fluxKustomization.${p}`), paths.join(' | '));
    assert.ok(bad.error!.issues.some((i) => i.code === 'unrecognized_keys' && i.keys.includes('prunne')), JSON.stringify(bad.error!.issues));
  });

  test('the YAML: a v1 Kustomization of ./<env>/<app>, same bytes for the same inputs, nothing from the release', () => {
    const cfg = FluxKustomizationSchema.parse({ interval: '5m', wait: true, timeout: '3m', sourceRef: { kind: 'OCIRepository', name: 'gitops' }, dependsOn: [{ name: 'infra' }] });
    const text = renderFluxKustomization('staging', 'shop', cfg);
    assert.equal(renderFluxKustomization('staging', 'shop', FluxKustomizationSchema.parse({ interval: '5m', wait: true, timeout: '3m', sourceRef: { kind: 'OCIRepository', name: 'gitops' }, dependsOn: [{ name: 'infra' }] })), text);
    const doc = YAML.parse(text);
    assert.equal(doc.apiVersion, 'kustomize.toolkit.fluxcd.io/v1');
    assert.equal(doc.kind, 'Kustomization');
    assert.deepEqual(doc.metadata, {
      name: 'staging-shop', namespace: 'flux-system', labels: { 'app.kubernetes.io/managed-by': 'ferry' },
      // notification-controller puts it into every event of this Kustomization as metadata `ferry.env`.
      annotations: { 'event.toolkit.fluxcd.io/ferry.env': 'staging' },
    });
    assert.deepEqual(doc.spec, {
      interval: '5m', timeout: '3m', dependsOn: [{ name: 'infra' }], path: './staging/shop', prune: true, wait: true,
      sourceRef: { kind: 'OCIRepository', name: 'gitops', namespace: 'flux-system' },
    });
    assert.equal(fluxKustomizationPath('staging', 'shop'), 'staging/flux/shop.yaml');
  });

  test('names: <env>-<app>, cut with a hash beyond 63 characters; the app "flux" is refused', () => {
    assert.equal(fluxKustomizationName('prod-eu', 'shop'), 'prod-eu-shop');
    const env = 'e'.repeat(40);
    const a = fluxKustomizationName(env, `${'a'.repeat(30)}-one`);
    const b = fluxKustomizationName(env, `${'a'.repeat(30)}-two`);
    for (const n of [a, b]) {
      assert.ok(n.length <= 63 && NAME_RE.test(n), n);
    }
    assert.notEqual(a, b);
    assert.equal(fluxKustomizationName(env, `${'a'.repeat(30)}-one`), a);
    assert.equal(fluxLayoutRefusal('staging', 'shop'), null);
    assert.match(fluxLayoutRefusal('staging', 'flux') ?? '', /staging\/flux\//);
  });

  test('setup manifests tell where the root Kustomization must point', () => {
    const plain = fluxSetupManifests({ cluster: 'c1', webhookSecret: 's', publicUrl: 'https://ferry.test', envs: [{ env: 'dev' }] });
    assert.doesNotMatch(plain, /spec\.path/);
    const perApp = (namespace: string) => FluxKustomizationSchema.parse({ namespace });
    const text = fluxSetupManifests({ cluster: 'c1', webhookSecret: 's', publicUrl: 'https://ferry.test', envs: [{ env: 'staging', perApp: perApp('flux-system') }, { env: 'prod', perApp: perApp('apps') }] });
    assert.match(text, /staging: spec\.path: \.\/staging\/flux/);
    assert.match(text, /prod: spec\.path: \.\/prod\/flux/);
    const docs = YAML.parseAllDocuments(text).map((d) => d.toJS());
    assert.deepEqual(docs.map((d) => d.kind), ['Secret', 'Provider', 'Alert', 'Kustomization', 'Kustomization']);
    assert.deepEqual(docs.slice(3).map((d) => [d.metadata.name, d.spec.path]), [['ferry-staging', './staging/flux'], ['ferry-prod', './prod/flux']]);
    // Per-app Kustomizations in `apps` are outside the Alert's namespace: they need a source entry naming it.
    assert.deepEqual(docs[2].spec.eventSources, [
      { kind: 'Kustomization', name: '*', namespace: 'apps' },
      { kind: 'Kustomization', name: '*', namespace: 'flux-system' },
      { kind: 'GitRepository', name: '*', namespace: 'flux-system' },
    ]);
  });
});

describe('GitopsWriter extraFiles', () => {
  test('the flux file lands in the release commit; an identical re-release commits nothing; removal removes both', async () => {
    const remote = await makeRemote();
    const w = await newWriter(remote);
    try {
      const r1 = await w.submit(release('r-1', 'shop', { 'deploy.yaml': 'v1\n' }, ks('shop')));
      assert.equal(r1.status, 'committed');
      assert.deepEqual(changedIn(remote, r1.commit), ['staging/flux/shop.yaml', 'staging/shop/deploy.yaml']);
      const doc = YAML.parse(gitSync(remote, 'show', 'main:staging/flux/shop.yaml'));
      assert.equal(doc.kind, 'Kustomization');
      assert.equal(doc.spec.path, './staging/shop');

      const again = await w.submit(release('r-2', 'shop', { 'deploy.yaml': 'v1\n' }, ks('shop')));
      assert.equal(again.status, 'unchanged');
      assert.equal(count(remote), 1);

      // Only the Kustomization differs (the environment's settings changed): a commit touching only it.
      const r3 = await w.submit(release('r-3', 'shop', { 'deploy.yaml': 'v1\n' }, ks('shop', '5m')));
      assert.equal(r3.status, 'committed');
      assert.deepEqual(changedIn(remote, r3.commit), ['staging/flux/shop.yaml']);

      // Two apps in one batch: each commit carries its own pair of paths.
      const [a, b] = await Promise.all([
        w.submit(release('r-a', 'cart', { 'deploy.yaml': 'c\n' }, ks('cart'))),
        w.submit(release('r-b', 'web', { 'deploy.yaml': 'w\n' }, ks('web'))),
      ]);
      assert.deepEqual(changedIn(remote, a!.commit), ['staging/cart/deploy.yaml', 'staging/flux/cart.yaml']);
      assert.deepEqual(changedIn(remote, b!.commit), ['staging/flux/web.yaml', 'staging/web/deploy.yaml']);

      const removed = await w.submit(release('rm-1', 'shop', {}, null));
      assert.equal(removed.status, 'committed');
      assert.deepEqual(changedIn(remote, removed.commit), ['staging/flux/shop.yaml', 'staging/shop/deploy.yaml']);
      const left = gitSync(remote, 'ls-tree', '-r', '--name-only', 'main').split('\n');
      assert.deepEqual(left, ['staging/cart/deploy.yaml', 'staging/flux/cart.yaml', 'staging/flux/web.yaml', 'staging/web/deploy.yaml']);
      assert.equal((await w.submit(release('rm-2', 'shop', {}, null))).status, 'unchanged');
    } finally {
      await w.close();
    }
  });

  test('a foreign edit of the flux file while the push waits is a conflict naming it; another app\'s edit is not', async () => {
    const remote = await makeRemote();
    const hooked = await hookRemote(remote);
    const w = await newWriter(remote);
    try {
      await w.submit(release('seed', 'shop', { 'deploy.yaml': 'v0\n' }, ks('shop')));
      await hooked.hold('pre', true);
      const pending = w.submit(release('edit-1', 'shop', { 'deploy.yaml': 'v1\n' }, ks('shop')));
      const held = await hooked.nextArrival('pre');
      await pushForeign(hooked, fresh('human'), { 'staging/flux/shop.yaml': 'kind: Kustomization # by hand\n' }, 'hand edit');
      await hooked.verdict(held, 1);
      await hooked.hold('pre', false);
      await assert.rejects(pending, (err: unknown) => {
        assert.ok(err instanceof ConflictError, String(err));
        assert.deepEqual(err.files, ['staging/flux/shop.yaml']);
        assert.match(err.message, /staging\/flux\/shop\.yaml/);
        return true;
      });
      assert.equal(gitSync(remote, 'show', 'main:staging/flux/shop.yaml'), 'kind: Kustomization # by hand');

      // A hand edit of a neighbour's Kustomization is none of this release's business.
      await hooked.hold('pre', true);
      const other = w.submit(release('edit-2', 'shop', { 'deploy.yaml': 'v2\n' }, ks('shop')));
      const held2 = await hooked.nextArrival('pre');
      await pushForeign(hooked, fresh('human'), { 'staging/flux/cart.yaml': 'by hand\n' }, 'neighbour edit');
      await hooked.verdict(held2, 1);
      await hooked.hold('pre', false);
      const r = await other;
      assert.equal(r.status, 'committed');
      assert.equal(YAML.parse(gitSync(remote, 'show', 'main:staging/flux/shop.yaml')).metadata.name, 'staging-shop');
      assert.equal(gitSync(remote, 'show', 'main:staging/flux/cart.yaml'), 'by hand');
    } finally {
      await hooked.releaseAll(1);
      await w.close();
    }
  });

  test('extra paths must stay in the environment and outside the directory', async () => {
    const remote = await makeRemote();
    const w = await newWriter(remote);
    try {
      const base = release('bad', 'shop', {}, null);
      const bad: Array<Record<string, string | null>> = [
        { 'prod/flux/shop.yaml': 'x' },
        { 'staging/shop/extra.yaml': 'x' },
        { 'staging/flux/../shop.yaml': 'x' },
        { staging: 'x' },
        { 'staging/flux': 'x', 'staging/flux/a.yaml': 'y' },
      ];
      for (const extraFiles of bad) {
        await assert.rejects(w.submit({ ...base, extraFiles }), /extra file/, JSON.stringify(extraFiles));
      }
      assert.equal(gitSync(remote, 'for-each-ref').trim(), '');
    } finally {
      await w.close();
    }
  });
});
