/**
 * Exactly once under crashes: a GitopsWriter in a child process is SIGKILLed at the moments that matter, timed
 * from outside by hooks on the bare remote (no crash switches in production code); a new process then finishes
 * the same releases. Afterwards every release is on the branch exactly once and no foreign commit is lost.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { AppChange } from '../src/gitops/writer';
import { gitSync, makeHookedRemote, pushForeign, releaseCounts, spawnWriter, type HookedRemote } from './support/git-remote';

let root: string;
let n = 0;
before(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'ferry-crash-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

function changes(prefix: string, count: number, notBefore: string): AppChange[] {
  return Array.from({ length: count }, (_, i) => ({
    releaseId: `${prefix}-${i}`,
    dir: `staging/${prefix}-app${i}`,
    files: { 'deploy.yaml': `image: ${prefix}-app${i}:1\n` },
    title: `release ${prefix}-${i}`,
    trailers: { 'Ferry-App': `${prefix}-app${i}` },
    notBefore,
  }));
}

async function setup(direct = false): Promise<{ remote: HookedRemote; dir: string }> {
  const dir = path.join(root, `case-${++n}`);
  const remote = await makeHookedRemote(path.join(dir, 'remote.git'), { direct });
  // a first commit so the branch exists (the writer never recreates a branch it has seen disappear)
  await pushForeign(remote, path.join(dir, 'seed'), { 'README.md': 'gitops\n' }, 'seed');
  return { remote, dir };
}

function assertExactlyOnce(remote: string, ids: string[], foreign: string[] = []): void {
  const counts = releaseCounts(remote);
  for (const id of ids) assert.equal(counts.get(id), 1, `release ${id} is on the branch ${counts.get(id) ?? 0} times`);
  assert.equal(gitSync(remote, 'rev-list', '--merges', 'main'), '', 'history is linear');
  for (const sha of foreign) assert.equal(gitSync(remote, 'merge-base', '--is-ancestor', sha, 'main'), '', `foreign commit ${sha} kept`);
  const all = gitSync(remote, 'rev-list', 'main').split('\n').length;
  assert.equal(all, ids.length + foreign.length + 1, 'no extra commits');
}

describe('writer killed mid-write', () => {
  for (const direct of [false, true]) {
    const suffix = direct ? ' (direct local write)' : '';
    test(`killed while its ${direct ? 'branch update waits, ref locked' : 'push waits at pre-receive'} (nothing landed): a restart on the same cacheDir commits each release once${suffix}`, async () => {
      const { remote, dir } = await setup(direct);
      const notBefore = new Date().toISOString();
      const job = { remote: remote.dir, branch: 'main', cacheDir: path.join(dir, 'cache'), changes: changes('pre', 5, notBefore), directLocalWrite: direct };
      await remote.hold('pre', true);
      const first = await spawnWriter(job, path.join(dir, 'job1.json'));
      const arrival = await remote.nextArrival('pre');
      await first.kill();
      await remote.verdict(arrival, 1); // the orphaned push is declined: nothing reached the branch
      await remote.hold('pre', false);
      assert.equal(releaseCounts(remote.dir).size, 0);

      const second = await spawnWriter(job, path.join(dir, 'job2.json'));
      const done = await second.waitFor((e) => e.event === 'done');
      const results = second.events.filter((e) => e.event === 'result');
      assert.equal(results.length, 5);
      assert.ok(results.every((r) => r.status === 'committed'), JSON.stringify(second.events));
      assert.equal(done.stats.pushes, 1);
      assertExactlyOnce(remote.dir, job.changes.map((c) => c.releaseId));
    });

    test(`killed after the branch moved but before it heard back (${direct ? 'reference-transaction committed' : 'post-receive'}): a fresh process finds the commits${suffix}`, async () => {
      const { remote, dir } = await setup(direct);
      const notBefore = new Date().toISOString();
      const landed = changes('post', 5, notBefore);
      await remote.hold('post', true);
      const first = await spawnWriter({ remote: remote.dir, branch: 'main', cacheDir: path.join(dir, 'cache-a'), changes: landed, directLocalWrite: direct }, path.join(dir, 'job1.json'));
      const arrival = await remote.nextArrival('post');
      await first.kill();
      assert.equal(first.events.filter((e) => e.event === 'result').length, 0, 'nothing was reported');
      await remote.verdict(arrival, 0);
      await remote.hold('post', false);
      const pushed = releaseCounts(remote.dir);
      assert.equal(pushed.size, 5, 'the push landed');
      const tipBefore = gitSync(remote.dir, 'rev-parse', 'main');

      // the retry brings the same five plus two new releases, on a fresh cache directory (another pod)
      const more = changes('post-new', 2, notBefore);
      const second = await spawnWriter({ remote: remote.dir, branch: 'main', cacheDir: path.join(dir, 'cache-b'), changes: [...landed, ...more], directLocalWrite: direct }, path.join(dir, 'job2.json'));
      await second.waitFor((e) => e.event === 'done');
      const results = new Map(second.events.filter((e) => e.event === 'result').map((e) => [e.releaseId, e]));
      for (const c of landed) {
        assert.equal(results.get(c.releaseId)?.status, 'already-committed');
        assert.equal(gitSync(remote.dir, 'merge-base', '--is-ancestor', results.get(c.releaseId).commit, tipBefore), '');
      }
      for (const c of more) assert.equal(results.get(c.releaseId)?.status, 'committed');
      assertExactlyOnce(remote.dir, [...landed, ...more].map((c) => c.releaseId));
    });
  }

  test('killed during the rebuild after a rejection: the rebuilt push lands later, the restart finds it; the foreign commit stays', async () => {
    const { remote, dir } = await setup();
    const notBefore = new Date().toISOString();
    const job = { remote: remote.dir, branch: 'main', cacheDir: path.join(dir, 'cache'), changes: changes('rebuild', 6, notBefore) };
    await remote.hold('pre', true);
    const first = await spawnWriter(job, path.join(dir, 'job1.json'));
    const firstPush = await remote.nextArrival('pre');
    // someone else pushes while ours waits; ours is then rejected and rebuilt on top of theirs
    const foreign = await pushForeign(remote, path.join(dir, 'human'), { 'production/other/deploy.yaml': 'x: 1\n' }, 'hotfix by hand');
    await remote.verdict(firstPush, 1);
    const rebuilt = await remote.nextArrival('pre');
    await first.kill();
    await remote.verdict(rebuilt, 0); // the orphaned push of the dead process still lands
    await remote.hold('pre', false);
    await new Promise((r) => setTimeout(r, 300));

    const second = await spawnWriter(job, path.join(dir, 'job2.json'));
    await second.waitFor((e) => e.event === 'done');
    const results = second.events.filter((e) => e.event === 'result');
    assert.equal(results.length, 6);
    assertExactlyOnce(remote.dir, job.changes.map((c) => c.releaseId), [foreign]);
  });

  test('killed during the rebuild and the rebuilt push is declined: the restart commits each release once on top of the foreign commit', async () => {
    const { remote, dir } = await setup();
    const notBefore = new Date().toISOString();
    const job = { remote: remote.dir, branch: 'main', cacheDir: path.join(dir, 'cache'), changes: changes('rebuild2', 4, notBefore) };
    await remote.hold('pre', true);
    const first = await spawnWriter(job, path.join(dir, 'job1.json'));
    const firstPush = await remote.nextArrival('pre');
    const foreign = await pushForeign(remote, path.join(dir, 'human'), { 'production/other/deploy.yaml': 'x: 2\n' }, 'hotfix by hand');
    await remote.verdict(firstPush, 1);
    const rebuilt = await remote.nextArrival('pre');
    await first.kill();
    await remote.verdict(rebuilt, 1);
    await remote.hold('pre', false);

    const second = await spawnWriter({ ...job, cacheDir: path.join(dir, 'cache-fresh') }, path.join(dir, 'job2.json'));
    await second.waitFor((e) => e.event === 'done');
    assert.ok(second.events.filter((e) => e.event === 'result').every((r) => r.status === 'committed'));
    assertExactlyOnce(remote.dir, job.changes.map((c) => c.releaseId), [foreign]);
  });
});
