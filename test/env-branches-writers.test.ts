/**
 * A branch per environment at the writer level, against real git repositories and the PostgreSQL write lease, with
 * git's transport and with direct local write: one writer per repository+branch group-commits that branch's
 * releases, creates a missing branch as an orphan without forcing, keeps foreign commits, refuses conflicting edits
 * naming the files, finds its commits again from another cache (another pod) and after a crash mid-creation, and
 * takes the write lease per remote#branch. A repository of its own and a branch of its own combine.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { branchCacheDir, GitopsWriters, type RepoLayout } from '../src/gitops/repos';
import { type AppChange, ConflictError } from '../src/gitops/writer';
import type { WriteFence } from '../src/gitops/fence';
import { pgWriteFence } from '../src/store/writer-lease';
import { openTestDatabase, type TestDatabase } from './support/database';
import { gitSync, type HookedRemote, makeHookedRemote, pushForeign, releaseCounts, spawnWriter } from './support/git-remote';

let tdb: TestDatabase;
let n = 0;
before(async () => {
  tdb = await openTestDatabase('ferry-env-branches-');
});
after(async () => {
  await tdb?.close();
});

const COMMITTER = { name: 'Ferry', email: 'ferry@example.test' };
const RETRY = { maxElapsedMs: 20_000, initialDelayMs: 20, maxDelayMs: 300 };

function change(env: string, app: string, id: string, version = '1'): AppChange {
  return {
    releaseId: id,
    dir: `${env}/${app}`,
    files: { 'deploy.yaml': `image: ${app}:${version}\n` },
    title: `[${env}/${app}] release ${id}`,
    trailers: { 'Ferry-App': app, 'Ferry-Env': env },
    notBefore: new Date(Date.now() - 1000).toISOString(),
  };
}

/** A commit by "someone else" on `branch` of `remote`, from a clone, let through the remote's holding hooks. */
async function pushForeignTo(remote: HookedRemote, work: string, branch: string, files: Record<string, string>, msg: string): Promise<string> {
  const env = { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1', GIT_AUTHOR_NAME: 'Human', GIT_AUTHOR_EMAIL: 'h@x', GIT_COMMITTER_NAME: 'Human', GIT_COMMITTER_EMAIL: 'h@x' };
  const g = (...args: string[]) => execFileSync('git', args, { cwd: work, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  if (!existsSync(path.join(work, '.git'))) execFileSync('git', ['clone', '--quiet', remote.dir, work], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  g('fetch', '--quiet', 'origin');
  g('checkout', '--quiet', '-B', branch, `origin/${branch}`);
  for (const [p, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(work, p)), { recursive: true });
    await writeFile(path.join(work, p), content);
  }
  g('add', '-A');
  g('commit', '--quiet', '-m', msg);
  const sha = g('rev-parse', 'HEAD');
  await remote.pass(sha);
  g('push', '--quiet', 'origin', `HEAD:refs/heads/${branch}`);
  return sha;
}

function shareHistory(repo: string, a: string, b: string): boolean {
  try {
    gitSync(repo, 'merge-base', a, b);
    return true;
  } catch {
    return false;
  }
}

const hasBranch = (repo: string, branch: string) => gitSync(repo, 'for-each-ref', '--format=%(refname)', `refs/heads/${branch}`) !== '';

for (const direct of [false, true]) {
  const mode = direct ? 'direct local write' : "git's transport";

  describe(`environment branches through ${mode}`, () => {
    let dir: string;
    let remote: HookedRemote;
    let euRepo: string;
    let mainTip: string;
    let layout: RepoLayout;
    const leaseKeys: string[] = [];
    let fence: WriteFence;
    let writers: GitopsWriters;

    const open = (tag: string) =>
      new GitopsWriters(layout, (r) => ({
        branch: 'main',
        cacheDir: path.join(dir, `${tag}-${r === remote.dir ? 'default' : 'eu'}`),
        committer: COMMITTER,
        fence,
        retry: RETRY,
        directLocalWrite: direct,
      }));

    before(async () => {
      dir = await mkdtemp(path.join(tmpdir(), `ferry-env-branches-${++n}-`));
      remote = await makeHookedRemote(path.join(dir, 'remote.git'), { direct });
      euRepo = path.join(dir, 'eu.git');
      execFileSync('git', ['init', '--bare', '--quiet', '--initial-branch=main', euRepo]);
      mainTip = await pushForeign(remote, path.join(dir, 'seed'), { 'dev/shop/deploy.yaml': 'image: shop:0\n' }, 'seed');
      layout = {
        defaultRemote: remote.dir,
        defaultBranch: 'main',
        byEnv: { PROD_EU: euRepo },
        branchByEnv: { STAGING: 'env/staging', PRODUCTION: 'env/production', PROD_EU: 'env/prod-eu' },
      };
      const pg = pgWriteFence(tdb.db);
      fence = { acquire: (key) => (leaseKeys.push(key), pg.acquire(key)) };
      writers = open('cache');
    });
    after(async () => {
      await remote?.releaseAll(1);
      await writers?.close();
      await rm(dir, { recursive: true, force: true });
    });

    test('one writer per repository+branch: each branch group-commits its releases; missing branches are created as orphans; main stays', async () => {
      const subs = [
        ...['shop', 'cart', 'web'].map((app) => ['staging', app] as const),
        ...['shop', 'cart'].map((app) => ['production', app] as const),
        ['prod-eu', 'shop'] as const,
      ].map(([env, app]) => ({ env, id: `${env}-${app}-1`, c: change(env, app, `${env}-${app}-1`) }));
      const ws = await Promise.all(subs.map((s) => writers.forEnv(s.env)));
      // submitted in one tick, so each writer takes its branch's changes as one batch
      const results = await Promise.all(subs.map((s, i) => ws[i]!.submit(s.c)));
      for (const r of results) assert.equal(r.status, 'committed');
      assert.deepEqual(results.map((r) => r.batchSize), [3, 3, 3, 2, 2, 1]);
      const staging = await writers.forEnv('staging');
      assert.equal(staging.stats.pushes, 1);
      assert.equal(staging.stats.commits, 3);
      assert.notEqual(staging, await writers.forEnv('dev'));
      assert.equal(await writers.forEnv('dev'), await writers.forEnv('qa'), 'environments on the default branch share its writer');

      assert.equal(gitSync(remote.dir, 'rev-parse', 'main'), mainTip, 'main untouched');
      assert.equal(gitSync(remote.dir, 'rev-list', '--count', 'env/staging'), '3');
      assert.equal(gitSync(remote.dir, 'rev-list', '--count', 'env/production'), '2');
      assert.equal(shareHistory(remote.dir, 'env/staging', 'main'), false, 'env/staging is an orphan');
      assert.equal(shareHistory(remote.dir, 'env/staging', 'env/production'), false);
      assert.deepEqual(gitSync(remote.dir, 'ls-tree', '--name-only', 'env/staging').split('\n'), ['staging']);
      // a repository of its own and a branch of its own combine
      assert.equal(hasBranch(remote.dir, 'env/prod-eu'), false);
      assert.equal(hasBranch(euRepo, 'main'), false);
      assert.equal(releaseCounts(euRepo, 'env/prod-eu').get('prod-eu-shop-1'), 1);
      assert.match(gitSync(euRepo, 'ls-tree', '-r', '--name-only', 'env/prod-eu'), /^prod-eu\/shop\/deploy\.yaml$/);
      // the write lease is per remote#branch
      const resolved = path.resolve(remote.dir);
      for (const key of [`${resolved}#env/staging`, `${resolved}#env/production`, `${path.resolve(euRepo)}#env/prod-eu`]) assert.ok(leaseKeys.includes(key), `${key} in ${leaseKeys.join(', ')}`);
      // each branch's writer keeps its own cache beside the default branch's
      assert.ok(existsSync(branchCacheDir(path.join(dir, 'cache-default'), 'env/staging')));
    });

    test('another pod (fresh caches) resubmitting the same releases finds them: exactly once per branch', async () => {
      const other = open('pod-b');
      try {
        const again = await Promise.all(['shop', 'cart', 'web'].map(async (app) => (await other.forEnv('staging')).submit(change('staging', app, `staging-${app}-1`))));
        for (const r of again) assert.equal(r.status, 'already-committed');
        const counts = releaseCounts(remote.dir, 'env/staging');
        for (const app of ['shop', 'cart', 'web']) assert.equal(counts.get(`staging-${app}-1`), 1);
        // ancestry answers per environment's branch
        const tip = gitSync(remote.dir, 'rev-parse', 'env/staging');
        assert.equal(await other.isAncestor(again[0]!.commit, tip, 'staging'), true);
        assert.equal(await other.isAncestor(again[0]!.commit, gitSync(remote.dir, 'rev-parse', 'env/production'), 'production'), false);
        assert.equal(await other.isAncestor(again[0]!.commit, tip), true, 'without env: searched in every branch');
      } finally {
        await other.close();
      }
    });

    test('flux revisions are attributed by branch', () => {
      assert.equal(writers.revisionConcernsEnv('env/staging@sha1:' + 'a'.repeat(40), 'staging'), true);
      assert.equal(writers.revisionConcernsEnv('env/staging@sha1:' + 'a'.repeat(40), 'production'), false);
      assert.equal(writers.revisionConcernsEnv('refs/heads/env/production@sha1:' + 'a'.repeat(40), 'production'), true);
      assert.equal(writers.revisionConcernsEnv('main@sha1:' + 'a'.repeat(40), 'staging'), false, 'main is written for other environments');
      assert.equal(writers.revisionConcernsEnv('main@sha1:' + 'a'.repeat(40), 'dev'), true);
      assert.equal(writers.revisionConcernsEnv('v1.2.0@sha1:' + 'a'.repeat(40), 'staging'), true, 'a ref Ferry does not write: ancestry decides');
      assert.equal(writers.revisionConcernsEnv('sha1:' + 'a'.repeat(40), 'staging'), true);
    });

    if (!direct) {
      test('foreign commits on an environment branch are kept; a foreign edit of the dir after submission is refused, naming the file', async () => {
        const foreign = await pushForeignTo(remote, path.join(dir, 'human'), 'env/staging', { 'staging/other/x.yaml': 'x: 1\n' }, 'by hand');
        const w = await writers.forEnv('staging');
        const kept = await w.submit(change('staging', 'shop', 'staging-shop-2', '2'));
        assert.equal(kept.status, 'committed');
        gitSync(remote.dir, 'merge-base', '--is-ancestor', foreign, 'env/staging');

        await remote.hold('pre', true);
        const pending = w.submit(change('staging', 'shop', 'staging-shop-3', '3'));
        pending.catch(() => undefined);
        const held = await remote.nextArrival('pre');
        const hotfix = await pushForeignTo(remote, path.join(dir, 'human'), 'env/staging', { 'staging/shop/hotfix.yaml': 'kind: ConfigMap\n' }, 'hotfix');
        await remote.verdict(held, 1);
        await remote.hold('pre', false);
        await assert.rejects(pending, (e: unknown) => e instanceof ConflictError && e.files.includes('staging/shop/hotfix.yaml'));
        assert.equal(gitSync(remote.dir, 'rev-parse', 'env/staging'), hotfix);
        assert.equal(releaseCounts(remote.dir, 'env/staging').get('staging-shop-3'), undefined);
        // production's branch is not concerned
        assert.equal((await (await writers.forEnv('production')).submit(change('production', 'shop', 'production-shop-2', '2'))).status, 'committed');
        assert.equal(gitSync(remote.dir, 'rev-parse', 'main'), mainTip);
      });
    }

    test('killed while creating an environment branch (it moved, the writer never heard): a fresh process finds the commits', async () => {
      const job = {
        remote: remote.dir, branch: 'env/canary', cacheDir: path.join(dir, 'crash-a'), directLocalWrite: direct,
        changes: ['shop', 'cart'].map((app) => change('canary', app, `canary-${app}-1`)),
      };
      await remote.hold('post', true);
      const first = await spawnWriter(job, path.join(dir, 'job1.json'));
      const arrival = await remote.nextArrival('post');
      await first.kill();
      await remote.verdict(arrival, 0);
      await remote.hold('post', false);
      assert.equal(hasBranch(remote.dir, 'env/canary'), true, 'the branch was created');

      const second = await spawnWriter({ ...job, cacheDir: path.join(dir, 'crash-b') }, path.join(dir, 'job2.json'));
      await second.waitFor((e) => e.event === 'done');
      const results = second.events.filter((e) => e.event === 'result');
      assert.deepEqual(results.map((r) => r.status), ['already-committed', 'already-committed']);
      const counts = releaseCounts(remote.dir, 'env/canary');
      for (const c of job.changes) assert.equal(counts.get(c.releaseId), 1);
      assert.equal(gitSync(remote.dir, 'rev-list', '--count', 'env/canary'), '2');
      assert.equal(gitSync(remote.dir, 'rev-parse', 'main'), mainTip);
    });
  });
}
