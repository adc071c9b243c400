/**
 * GitopsWriter against real bare repositories (no mocks).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rename, rm, utimes, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { runGit } from '../src/gitops/git';
import {
  ConflictError,
  GitopsUnavailableError,
  GitopsWriter,
  type AppChange,
  type CommitResult,
} from '../src/gitops/writer';

const COMMITTER = { name: 'Ferry Bot', email: 'ferry@example.test' };
const FAST_RETRY = { maxElapsedMs: 20_000, initialDelayMs: 20, maxDelayMs: 250 };

let root: string;
let counter = 0;

before(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'ferry-writer-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

function fresh(name: string): string {
  return path.join(root, `${name}-${++counter}`);
}

async function git(gitDir: string, args: string[], input?: string): Promise<string> {
  return (await runGit(args, { gitDir, input })).stdout;
}

async function makeRemote(): Promise<string> {
  const dir = fresh('remote') + '.git';
  await runGit(['init', '--bare', '--quiet', '--initial-branch=main', dir]);
  return dir;
}

/** A clone with a work tree, standing in for a human or another tool pushing to the GitOps repo. */
async function makeForeignClone(remote: string): Promise<{ dir: string; commit: (files: Record<string, string | null>, msg: string) => Promise<string> }> {
  const dir = fresh('foreign');
  await runGit(['clone', '--quiet', remote, dir]);
  const wt = (args: string[]) => runGit(args, { cwd: dir, env: { GIT_DIR: path.join(dir, '.git') } });
  await wt(['config', 'user.name', 'Human']);
  await wt(['config', 'user.email', 'human@example.test']);
  return {
    dir,
    async commit(files, msg) {
      // retry on races with the writer: fetch, reset, apply, push
      for (let i = 0; ; i++) {
        await wt(['fetch', '--quiet', 'origin']);
        const hasMain = await wt(['rev-parse', '-q', '--verify', 'refs/remotes/origin/main']).then(() => true, () => false);
        if (hasMain) await wt(['reset', '--quiet', '--hard', 'refs/remotes/origin/main']);
        for (const [p, content] of Object.entries(files)) {
          const abs = path.join(dir, p);
          if (content === null) await rm(abs, { force: true });
          else {
            await mkdir(path.dirname(abs), { recursive: true });
            await writeFile(abs, content);
          }
        }
        await wt(['add', '-A']);
        await wt(['commit', '--quiet', '--allow-empty', '-m', msg]);
        try {
          await wt(['push', '--quiet', 'origin', 'HEAD:refs/heads/main']);
          return (await wt(['rev-parse', 'HEAD'])).stdout.trim();
        } catch (e) {
          if (i > 50) throw e;
          await new Promise((r) => setTimeout(r, 10 + Math.random() * 30));
        }
      }
    },
  };
}

async function newWriterWith(remote: string, extra: Partial<ConstructorParameters<typeof GitopsWriter>[0]> = {}): Promise<GitopsWriter> {
  const w = new GitopsWriter({ remote, branch: 'main', cacheDir: fresh('cache'), committer: COMMITTER, retry: FAST_RETRY, ...extra });
  await w.init();
  return w;
}

function change(releaseId: string, dir: string, files: Record<string, string>, extra: Partial<AppChange> = {}): AppChange {
  const [env, app] = dir.split('/');
  return {
    releaseId,
    dir,
    files,
    title: `[${dir}] release ${releaseId}`,
    trailers: { 'Ferry-App': app ?? dir, 'Ferry-Env': env ?? dir, 'Ferry-Artifact-Id': `art-${releaseId}` },
    notBefore: new Date(Date.now() - 60_000).toISOString(),
    ...extra,
  };
}

/** releaseId -> commits carrying it, over the whole remote branch. */
async function releaseIdsOnRemote(remote: string): Promise<Map<string, string[]>> {
  const out = await git(remote, ['log', '-z', '--format=%H%n%(trailers:key=Ferry-Release-Id,valueonly)', 'main']);
  const map = new Map<string, string[]>();
  for (const rec of out.split('\0')) {
    const [sha, ...ids] = rec.split('\n').filter(Boolean);
    for (const id of ids) map.set(id, [...(map.get(id) ?? []), sha!]);
  }
  return map;
}

async function tip(remote: string): Promise<string> {
  return (await git(remote, ['rev-parse', 'refs/heads/main'])).trim();
}

async function countCommits(remote: string): Promise<number> {
  return Number((await git(remote, ['rev-list', '--count', 'main'])).trim());
}

async function lsDir(remote: string, rev: string, dir: string): Promise<string[]> {
  const out = await git(remote, ['ls-tree', '-r', '-z', '--name-only', rev, ...(dir ? ['--', dir] : [])]);
  return out.split('\0').filter(Boolean).sort();
}

/**
 * A hook that makes the writer's first push (a commit carrying Ferry-Release-Id) deterministically lose a race: a
 * foreign commit from another clone lands first, and the writer must rebuild on it. Through git's transport it is a
 * pre-receive hook that pushes the foreign commit before the writer's update. A direct local write runs no receive
 * hooks, only `reference-transaction`: it aborts the writer's first update while it holds the ref lock ("prepared"),
 * then pushes the foreign commit once the lock is released ("aborted"), before the writer hears of the failure.
 */
async function installRacingHook(remote: string, foreignDir: string, files: Record<string, string>, msg: string, direct = false): Promise<string> {
  const marker = fresh('hook-fired');
  const writes = Object.entries(files)
    .map(([p, c]) => `mkdir -p "$(dirname '${p}')" && printf '%s' '${c}' > '${p}'`)
    .join(' && ');
  const foreignPush = `unset GIT_DIR GIT_QUARANTINE_PATH GIT_OBJECT_DIRECTORY GIT_ALTERNATE_OBJECT_DIRECTORIES GIT_PUSH_OPTION_COUNT
cd '${foreignDir}' || exit 1
i=0
while [ $i -lt 30 ]; do
  git fetch -q origin && git reset -q --hard refs/remotes/origin/main && ${writes} && git add -A &&
    git commit -qm '${msg}' && git push -q origin HEAD:refs/heads/main 2>/dev/null && { echo "hook pushed" >> '${marker}'; exit 0; }
  i=$((i+1)); sleep 0.05
done
echo "hook failed" >> '${marker}'
exit 0
`;
  const ours = `git log -1 --format=%B "$new" 2>/dev/null | grep -q '^Ferry-Release-Id:'`;
  const script = direct
    ? `#!/bin/sh
read old new ref
armed='${marker}.armed'
case "$1" in
  prepared)
    ${ours} || exit 0
    [ -e '${marker}' ] || [ -e "$armed" ] && exit 0
    touch "$armed"; exit 1 ;;
  aborted)
    [ -e "$armed" ] && [ ! -e '${marker}' ] || exit 0
    ${foreignPush} ;;
esac
exit 0
`
    : `#!/bin/sh
read old new ref
${ours} || exit 0
[ -e '${marker}' ] && exit 0
touch '${marker}'
${foreignPush}`;
  const hook = path.join(remote, 'hooks', direct ? 'reference-transaction' : 'pre-receive');
  await writeFile(hook, script);
  await chmod(hook, 0o755);
  return marker;
}

/**
 * A hook that runs `body` when the writer's update arrives: before the branch moves (`before`, a non-zero exit
 * refuses the update) or after (`after`). pre-/post-receive through git's transport; `reference-transaction`
 * ("prepared" / "committed") for a direct local write.
 */
async function installUpdateHook(remote: string, direct: boolean, when: 'before' | 'after', body: string): Promise<string> {
  const hook = direct
    ? path.join(remote, 'hooks', 'reference-transaction')
    : path.join(remote, 'hooks', when === 'before' ? 'pre-receive' : 'post-receive');
  const state = when === 'before' ? 'prepared' : 'committed';
  await writeFile(hook, direct ? `#!/bin/sh\n[ "$1" = ${state} ] || exit 0\n${body}\n` : `#!/bin/sh\n${body}\n`);
  await chmod(hook, 0o755);
  return hook;
}

for (const direct of [false, true]) describe(direct ? 'GitopsWriter, direct local write' : 'GitopsWriter', () => {
  const newWriter = (remote: string, extra: Partial<ConstructorParameters<typeof GitopsWriter>[0]> = {}) =>
    newWriterWith(remote, { directLocalWrite: direct, ...extra });

  test('first commit into an empty remote, exact directory contents, trailers, removal', async () => {
    const remote = await makeRemote();
    const w = await newWriter(remote);
    try {
      const r1 = await w.submit(
        change('rel-1', 'staging/billing', { 'deploy.yaml': 'image: billing:1\n', 'base/kustomization.yaml': 'resources: []\n' }, {
          body: 'Promoted by policy.',
          trailers: { 'Ferry-App': 'billing', 'Ferry-Env': 'staging', 'Ferry-Released-By': 'eve\nInjected: x' },
          author: { name: 'Eve', email: 'eve@example.test' },
        }),
      );
      assert.equal(r1.status, 'committed');
      assert.match(r1.commit, /^[0-9a-f]{40}$/);
      assert.equal(r1.batchSize, 1);
      assert.ok(!Number.isNaN(Date.parse(r1.pushedAt)));
      assert.equal(await tip(remote), r1.commit);
      // root commit: no parent
      assert.equal((await git(remote, ['rev-list', '--parents', '-n1', r1.commit])).trim(), r1.commit);
      assert.equal(await git(remote, ['cat-file', 'blob', `${r1.commit}:staging/billing/deploy.yaml`]), 'image: billing:1\n');
      assert.deepEqual(await lsDir(remote, r1.commit, ''), ['staging/billing/base/kustomization.yaml', 'staging/billing/deploy.yaml']);
      const msg = await git(remote, ['log', '-1', '--format=%B', r1.commit]);
      assert.equal(
        msg.trimEnd(),
        '[staging/billing] release rel-1\n\nPromoted by policy.\n\n' +
          'Ferry-Release-Id: rel-1\nFerry-App: billing\nFerry-Env: staging\nFerry-Released-By: eve Injected: x',
      );
      const trailers = await git(remote, ['log', '-1', '--format=%(trailers:key=Ferry-Released-By,valueonly)', r1.commit]);
      assert.equal(trailers.trim(), 'eve Injected: x');
      assert.equal((await git(remote, ['log', '-1', '--format=%an <%ae>|%cn <%ce>', r1.commit])).trim(), 'Eve <eve@example.test>|Ferry Bot <ferry@example.test>');

      // second release replaces the directory: base/ removed, new file added, other dirs untouched
      const other = await w.submit(change('rel-other', 'staging/web', { 'deploy.yaml': 'web\n' }));
      const r2 = await w.submit(change('rel-2', 'staging/billing', { 'deploy.yaml': 'image: billing:2\n', 'svc.yaml': 's\n' }));
      assert.equal(r2.status, 'committed');
      assert.equal((await git(remote, ['rev-parse', `${r2.commit}^`])).trim(), other.commit);
      assert.deepEqual(await lsDir(remote, r2.commit, 'staging/billing'), ['staging/billing/deploy.yaml', 'staging/billing/svc.yaml']);
      assert.deepEqual(await lsDir(remote, r2.commit, 'staging/web'), ['staging/web/deploy.yaml']);
      assert.equal((await git(remote, ['log', '-1', '--format=%an', r2.commit])).trim(), 'Ferry Bot');

      // empty files = remove the directory
      const r3 = await w.submit(change('rel-3', 'staging/billing', {}));
      assert.equal(r3.status, 'committed');
      assert.deepEqual(await lsDir(remote, r3.commit, 'staging/billing'), []);
      assert.deepEqual(await lsDir(remote, r3.commit, 'staging/web'), ['staging/web/deploy.yaml']);
      assert.equal(await countCommits(remote), 4);
      assert.equal((await git(remote, ['diff-tree', '-r', '--name-only', '--no-commit-id', r3.commit])).trim(), 'staging/billing/deploy.yaml\nstaging/billing/svc.yaml');
    } finally {
      await w.close();
    }
  });

  test('unchanged change makes no commit', async () => {
    const remote = await makeRemote();
    const w = await newWriter(remote);
    try {
      const files = { 'deploy.yaml': 'a\n', 'sub/x.yaml': 'x\n' };
      const r1 = await w.submit(change('u-1', 'prod/api', files));
      const r2 = await w.submit(change('u-2', 'prod/api', { ...files }));
      assert.equal(r2.status, 'unchanged');
      assert.equal(r2.commit, r1.commit);
      const r3 = await w.submit(change('u-3', 'preview/pr-9', {})); // removing an absent dir
      assert.equal(r3.status, 'unchanged');
      assert.equal(r3.commit, r1.commit);
      assert.equal(await countCommits(remote), 1);
      assert.equal(w.stats.pushes, 1);
      // an unchanged change in a batch with real commits reports the pushed tip
      const [a, b] = await Promise.all([
        w.submit(change('u-4', 'prod/api', { ...files })),
        w.submit(change('u-5', 'prod/web', { 'deploy.yaml': 'w\n' })),
      ]);
      assert.equal(b!.status, 'committed');
      assert.equal(a!.status, 'unchanged');
      assert.equal(a!.commit, b!.commit);
      assert.equal(await countCommits(remote), 2);
    } finally {
      await w.close();
    }
  });

  test('idempotency: same release twice (sequential, concurrent) and after a restart', async () => {
    const remote = await makeRemote();
    const w = await newWriter(remote);
    const notBefore = new Date(Date.now() - 5_000).toISOString();
    let first: CommitResult;
    try {
      first = await w.submit(change('idem-1', 'staging/a', { 'f.yaml': '1\n' }, { notBefore }));
      assert.equal(first.status, 'committed');
      const again = await w.submit(change('idem-1', 'staging/a', { 'f.yaml': 'different content\n' }, { notBefore }));
      assert.deepEqual({ ...again, pushedAt: '' }, { ...first, status: 'already-committed', pushedAt: '' });

      const [c1, c2, c3] = await Promise.all([
        w.submit(change('idem-2', 'staging/b', { 'f.yaml': '2\n' })),
        w.submit(change('idem-2', 'staging/b', { 'f.yaml': '2\n' })),
        w.submit(change('idem-2', 'staging/b', { 'f.yaml': '2\n' })),
      ]);
      assert.equal(c1!.commit, c2!.commit);
      assert.equal(c1!.commit, c3!.commit);
      assert.equal(await countCommits(remote), 2);
    } finally {
      await w.close();
    }

    // restarted process: fresh cache directory, nothing in memory
    const w2 = await newWriter(remote);
    try {
      const r = await w2.submit(change('idem-1', 'staging/a', { 'f.yaml': 'other\n' }, { notBefore }));
      assert.equal(r.status, 'already-committed');
      assert.equal(r.commit, first.commit);
      assert.equal(await w2.findReleaseCommit('idem-1', notBefore), first.commit);
      assert.equal(await w2.findReleaseCommit('idem-2'), (await releaseIdsOnRemote(remote)).get('idem-2')![0]);
      assert.equal(await w2.findReleaseCommit('never-released', notBefore), null);
      // the search is bounded by notBefore (minus 1 h slack): a release "created" 2 h from now has no older commits
      assert.equal(await w2.findReleaseCommit('idem-1', new Date(Date.now() + 2 * 3600_000).toISOString()), null);
      assert.equal(await countCommits(remote), 2);
      assert.equal(w2.stats.pushAttempts, 0);
    } finally {
      await w2.close();
    }
  });

  test('group commit: 30 concurrent submits, one commit each, few pushes', async () => {
    const remote = await makeRemote();
    const w = await newWriter(remote);
    try {
      await w.submit(change('seed', 'seed/app', { 'a.yaml': 'seed\n' }));
      const results = await Promise.all(
        Array.from({ length: 30 }, (_, i) => w.submit(change(`gc-${i}`, `staging/app${i}`, { 'deploy.yaml': `v${i}\n` }))),
      );
      assert.ok(results.every((r) => r.status === 'committed'));
      assert.equal(new Set(results.map((r) => r.commit)).size, 30);
      assert.equal(await countCommits(remote), 31);
      assert.ok(w.stats.pushes <= 3, `expected few pushes, got ${w.stats.pushes}`);
      assert.equal(w.stats.commits, 31);
      assert.equal(Math.max(...results.map((r) => r.batchSize)), 30);
      const ids = await releaseIdsOnRemote(remote);
      for (let i = 0; i < 30; i++) {
        const shas = ids.get(`gc-${i}`);
        assert.deepEqual(shas, [results[i]!.commit]);
        // each commit touches only its own directory
        const changed = await git(remote, ['diff-tree', '-r', '--name-only', '--no-commit-id', shas![0]!]);
        assert.equal(changed.trim(), `staging/app${i}/deploy.yaml`);
      }
      // linear history
      assert.equal((await git(remote, ['rev-list', '--min-parents=2', 'main'])).trim(), '');
    } finally {
      await w.close();
    }
  });

  test('same directory twice in a burst: both land, in order, no false conflict', async () => {
    const remote = await makeRemote();
    const w = await newWriter(remote);
    try {
      const [a, b] = await Promise.all([
        w.submit(change('sd-1', 'staging/x', { 'f.yaml': '1\n' })),
        w.submit(change('sd-2', 'staging/x', { 'f.yaml': '2\n' })),
      ]);
      assert.equal(a!.status, 'committed');
      assert.equal(b!.status, 'committed');
      assert.equal((await git(remote, ['rev-parse', `${b!.commit}^`])).trim(), a!.commit);
      assert.equal(await git(remote, ['cat-file', 'blob', 'main:staging/x/f.yaml']), '2\n');
    } finally {
      await w.close();
    }
  });

  test('foreign commits during a burst are kept and every release lands exactly once', async () => {
    const remote = await makeRemote();
    const foreign = await makeForeignClone(remote);
    const seed = await foreign.commit({ 'README.md': 'gitops\n' }, 'initial');
    const racer = await makeForeignClone(remote);
    const marker = await installRacingHook(remote, racer.dir, { 'infra/racer.txt': 'raced' }, 'foreign: racing commit', direct);
    const w = await newWriter(remote);
    try {
      const foreignShas: string[] = [];
      const foreignLoop = (async () => {
        for (let i = 0; i < 5; i++) foreignShas.push(await foreign.commit({ [`infra/f${i}.txt`]: `${i}\n` }, `foreign ${i}`));
      })();
      const results: Promise<CommitResult>[] = [];
      for (let wave = 0; wave < 3; wave++) {
        for (let i = 0; i < 10; i++) {
          const n = wave * 10 + i;
          results.push(w.submit(change(`fb-${n}`, `staging/app${n}`, { 'deploy.yaml': `v${n}\n` })));
        }
        await new Promise((r) => setTimeout(r, 15));
      }
      const settled = await Promise.all(results);
      await foreignLoop;
      assert.ok(settled.every((r) => r.status === 'committed'));
      assert.ok(w.stats.rejections >= 1, 'the racing hook must have caused at least one rejected push');
      const ids = await releaseIdsOnRemote(remote);
      for (let n = 0; n < 30; n++) assert.deepEqual(ids.get(`fb-${n}`), [settled[n]!.commit], `fb-${n}`);
      const head = await tip(remote);
      for (const sha of [seed, ...foreignShas]) {
        assert.equal(await w.isAncestor(sha, head), true, `foreign commit ${sha} kept`);
      }
      assert.equal(await git(remote, ['cat-file', 'blob', 'main:infra/racer.txt']), 'raced');
      for (let i = 0; i < 5; i++) assert.equal(await git(remote, ['cat-file', 'blob', `main:infra/f${i}.txt`]), `${i}\n`);
      assert.equal((await git(remote, ['rev-list', '--min-parents=2', 'main'])).trim(), '');
      assert.equal(await readFile(marker, 'utf8'), 'hook pushed\n');
    } finally {
      await w.close();
    }
  });

  test('a retry after a give-up is judged against the first attempt\'s base: a foreign edit made meanwhile is a conflict', async () => {
    const remote = await makeRemote();
    const w = await newWriter(remote, { retry: { maxElapsedMs: 300, initialDelayMs: 20, maxDelayMs: 50 } });
    const racer = await makeForeignClone(remote);
    try {
      await w.submit(change('gu-seed', 'staging/gu', { 'deploy.yaml': 'v0\n' }));
      // The remote refuses every push: the first attempt plans, pushes, and gives up (the activity would retry).
      const hook = await installUpdateHook(remote, direct, 'before', 'cat >/dev/null\nexit 1');
      await assert.rejects(w.submit(change('gu-1', 'staging/gu', { 'deploy.yaml': 'v1\n' })), GitopsUnavailableError);
      await rm(hook);
      await racer.commit({ 'staging/gu/hotfix.yaml': 'by hand' }, 'hand-made hotfix');
      // The retry of the same release must not replace the hand edit it never saw when it was planned.
      await assert.rejects(w.submit(change('gu-1', 'staging/gu', { 'deploy.yaml': 'v1\n' })), (err: unknown) => {
        assert.ok(err instanceof ConflictError, String(err));
        assert.deepEqual(err.files, ['staging/gu/hotfix.yaml']);
        return true;
      });
      assert.equal(await git(remote, ['cat-file', 'blob', 'main:staging/gu/hotfix.yaml']), 'by hand');
      // After the conflict was decided, running the release again is a person's new decision: it lands.
      assert.equal((await w.submit(change('gu-1', 'staging/gu', { 'deploy.yaml': 'v1\n' }))).status, 'committed');
    } finally {
      await w.close();
    }
  });

  test('a foreign edit inside a release directory fails only that release with ConflictError', async () => {
    const remote = await makeRemote();
    const w = await newWriter(remote);
    const racer = await makeForeignClone(remote);
    try {
      await w.submit(change('cf-seed', 'staging/app3', { 'deploy.yaml': 'v0\n', 'svc.yaml': 's\n' }));
      const marker = await installRacingHook(remote, racer.dir, { 'staging/app3/deploy.yaml': 'hand-edited' }, 'hotfix by hand', direct);
      const outcomes = await Promise.allSettled(
        Array.from({ length: 6 }, (_, i) => w.submit(change(`cf-${i}`, `staging/app${i}`, { 'deploy.yaml': `v1-${i}\n` }))),
      );
      for (const [i, o] of outcomes.entries()) {
        if (i === 3) {
          assert.equal(o.status, 'rejected');
          const err = (o as PromiseRejectedResult).reason;
          assert.ok(err instanceof ConflictError, String(err));
          assert.deepEqual(err.files, ['staging/app3/deploy.yaml']);
          assert.match(err.message, /staging\/app3/);
        } else {
          assert.equal(o.status, 'fulfilled', String((o as PromiseRejectedResult).reason));
          assert.equal((o as PromiseFulfilledResult<CommitResult>).value.status, 'committed');
        }
      }
      assert.equal(await readFile(marker, 'utf8'), 'hook pushed\n');
      assert.equal(w.stats.rejections, 1);
      assert.equal(await git(remote, ['cat-file', 'blob', 'main:staging/app3/deploy.yaml']), 'hand-edited');
      const ids = await releaseIdsOnRemote(remote);
      assert.equal(ids.has('cf-3'), false);
      for (const i of [0, 1, 2, 4, 5]) assert.equal(ids.get(`cf-${i}`)!.length, 1);
      const subjects = (await git(remote, ['log', '--format=%s', 'main'])).split('\n');
      assert.ok(subjects.includes('hotfix by hand'));
      // the caller retries later (fresh submit): now the hand edit is history, not a concurrent edit
      const retry = await w.submit(change('cf-3', 'staging/app3', { 'deploy.yaml': 'v1-3\n' }));
      assert.equal(retry.status, 'committed');
      assert.deepEqual(await lsDir(remote, 'main', 'staging/app3'), ['staging/app3/deploy.yaml']);
    } finally {
      await w.close();
    }
  });

  test('two writer instances hammering one remote: 50 releases, each exactly once, linear history', async () => {
    const remote = await makeRemote();
    const [w1, w2] = await Promise.all([newWriter(remote), newWriter(remote)]);
    try {
      const all = await Promise.all([
        ...Array.from({ length: 25 }, (_, i) => w1.submit(change(`a-${i}`, `staging/a${i}`, { 'deploy.yaml': `a${i}\n` }))),
        ...Array.from({ length: 25 }, (_, i) => w2.submit(change(`b-${i}`, `staging/b${i}`, { 'deploy.yaml': `b${i}\n` }))),
        // the same release reaching both replicas (an activity retried elsewhere) must still land once
        w1.submit(change('shared', 'staging/shared', { 'deploy.yaml': 's\n' })),
        w2.submit(change('shared', 'staging/shared', { 'deploy.yaml': 's\n' })),
      ]);
      const ids = await releaseIdsOnRemote(remote);
      assert.equal(await countCommits(remote), 51);
      for (const p of ['a', 'b']) for (let i = 0; i < 25; i++) assert.equal(ids.get(`${p}-${i}`)?.length, 1, `${p}-${i}`);
      assert.equal(ids.get('shared')?.length, 1);
      const shared = all.slice(50);
      assert.equal(shared[0]!.commit, shared[1]!.commit);
      assert.deepEqual(new Set(shared.map((r) => r.status)), new Set(['committed', 'already-committed']));
      assert.equal((await git(remote, ['rev-list', '--min-parents=2', 'main'])).trim(), '');
      const onBranch = new Set((await git(remote, ['rev-list', 'main'])).split('\n'));
      for (const r of all) assert.ok(onBranch.has(r.commit), r.commit);
    } finally {
      await Promise.all([w1.close(), w2.close()]);
    }
  });

  test('remote temporarily unavailable: submit waits and succeeds; gives up after maxElapsedMs', async () => {
    const remote = await makeRemote();
    const w = await newWriter(remote);
    try {
      await w.submit(change('down-0', 'staging/x', { 'a.yaml': '0\n' }));
      await rename(remote, remote + '.away');
      const started = Date.now();
      const pending = w.submit(change('down-1', 'staging/x', { 'a.yaml': '1\n' }));
      await new Promise((r) => setTimeout(r, 1000));
      await rename(remote + '.away', remote);
      const r = await pending;
      assert.equal(r.status, 'committed');
      assert.ok(Date.now() - started >= 1000);
      assert.equal(await tip(remote), r.commit);
      assert.deepEqual((await releaseIdsOnRemote(remote)).get('down-1'), [r.commit]);
    } finally {
      await w.close();
    }

    const w2 = await newWriter(remote, { retry: { maxElapsedMs: 400, initialDelayMs: 20, maxDelayMs: 100 } });
    try {
      await rename(remote, remote + '.away');
      await assert.rejects(w2.submit(change('down-2', 'staging/y', { 'a.yaml': '2\n' })), (e: unknown) => {
        assert.ok(e instanceof GitopsUnavailableError);
        assert.match(e.message, /could not write to .* within 400 ms/);
        return true;
      });
      await rename(remote + '.away', remote);
      // the caller's retry later succeeds
      assert.equal((await w2.submit(change('down-2', 'staging/y', { 'a.yaml': '2\n' }))).status, 'committed');
    } finally {
      await w2.close();
    }
  });

  test('a push that times out after the remote updated the branch is recognised as committed', async () => {
    const remote = await makeRemote();
    const w = await newWriter(remote, { pushTimeoutMs: 1500 });
    try {
      await w.submit(change('slow-0', 'staging/a', { f: '0' }));
      // post-receive runs after the ref update: the client gives up while the commit is already on the remote
      const hook = await installUpdateHook(remote, direct, 'after', 'cat >/dev/null\nsleep 5');
      const r = await w.submit(change('slow-1', 'staging/b', { f: '1' }));
      await rm(hook);
      assert.equal(r.status, 'committed');
      assert.equal(await tip(remote), r.commit);
      assert.deepEqual((await releaseIdsOnRemote(remote)).get('slow-1'), [r.commit]);
      // At least the timed-out attempt and its follow-up; a loaded machine may time out the first push too.
      assert.ok(w.stats.pushAttempts >= 2, `pushAttempts ${w.stats.pushAttempts}`);
      assert.equal(await countCommits(remote), 2);
    } finally {
      await w.close();
    }
  });

  if (direct) {
    test('a branch lock left by a crashed update is removed at start once it is old; a fresh one is respected', async () => {
      const remote = await makeRemote();
      const first = await newWriter(remote);
      await first.submit(change('lk-0', 'staging/a', { f: '0' }));
      await first.close();
      const lock = path.join(remote, 'refs', 'heads', 'main.lock');
      await writeFile(lock, '');
      const w = await newWriter(remote, { retry: { maxElapsedMs: 300, initialDelayMs: 20, maxDelayMs: 50 } });
      try {
        // a fresh lock may belong to a live update: the writer waits it out and then gives up, changing nothing
        await assert.rejects(w.submit(change('lk-1', 'staging/b', { f: '1' })), GitopsUnavailableError);
        assert.equal(await countCommits(remote), 1);
      } finally {
        await w.close();
      }
      const old = new Date(Date.now() - 11 * 60_000);
      await utimes(lock, old, old);
      const w2 = await newWriter(remote);
      try {
        assert.equal((await w2.submit(change('lk-1', 'staging/b', { f: '1' }))).status, 'committed');
        assert.equal(await countCommits(remote), 2);
      } finally {
        await w2.close();
      }
    });
  }

  test('isAncestor', async () => {
    const remote = await makeRemote();
    const w = await newWriter(remote);
    const foreign = await makeForeignClone(remote);
    try {
      const a = (await w.submit(change('anc-1', 'staging/a', { 'f': '1' }))).commit;
      const b = (await w.submit(change('anc-2', 'staging/b', { 'f': '2' }))).commit;
      assert.equal(await w.isAncestor(a, b), true);
      assert.equal(await w.isAncestor(a, a), true);
      assert.equal(await w.isAncestor(b, a), false);
      // commits the writer has never seen: fetched on demand
      const c = await foreign.commit({ 'infra/c.txt': 'c' }, 'foreign c');
      assert.equal(await w.isAncestor(b, c), true);
      assert.equal(await w.isAncestor(c, b), false);
      assert.equal(await w.isAncestor('f'.repeat(40), c), false);
      await assert.rejects(w.isAncestor('not-a-sha', c), /not a commit id/);
    } finally {
      await w.close();
    }
  });

  test('input guard and lifecycle', async () => {
    const remote = await makeRemote();
    const w = await newWriter(remote);
    try {
      for (const dir of ['/etc', 'a/../b', 'a//b', 'a\\b', 'a\0b', '']) {
        await assert.rejects(w.submit(change('g', dir, { f: 'x' })), Error, JSON.stringify(dir));
      }
      for (const file of ['/abs', '../up', 'x//y', 'x\\y', 'nul\0']) {
        await assert.rejects(w.submit(change('g', 'staging/a', { [file]: 'x' })), Error, JSON.stringify(file));
      }
      await assert.rejects(w.submit(change('g', 'staging/a', { f: 'x' }, { notBefore: 'yesterday-ish' })), /notBefore/);
      await assert.rejects(w.submit(change('bad id', 'staging/a', { f: 'x' })), /releaseId/);
      assert.equal(w.stats.batches, 0);
      // a second writer on the same cache directory is refused
      const cacheDir = (w as unknown as { cacheDir: string }).cacheDir;
      const clash = new GitopsWriter({ remote, branch: 'main', cacheDir, committer: COMMITTER, directLocalWrite: direct });
      await assert.rejects(clash.init(), /already used/);
    } finally {
      await w.close();
    }
    await assert.rejects(w.submit(change('late', 'staging/a', { f: 'x' })), /init|closed/);
  });
});
