/**
 * Many writer replicas on one repository+branch: separate processes, serialised by the PostgreSQL write lease
 * (advisory lock + growing fencing token), with the non-force push as the final guard.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import type { WriteLease } from '../src/gitops/fence';
import type { AppChange } from '../src/gitops/writer';
import type { Db } from '../src/store/db';
import { pgWriteFence } from '../src/store/writer-lease';
import { openTestDatabase, type TestDatabase } from './support/database';
import { gitSync, makeHookedRemote, pushForeign, releaseCounts, spawnWriter } from './support/git-remote';

let testDb: TestDatabase;
let root: string;
let databaseUrl: string;
let db: Db;

before(async () => {
  testDb = await openTestDatabase('ferry-replicas-');
  ({ root, databaseUrl, db } = testDb);
});
after(async () => {
  await testDb?.close();
});

describe('write lease', () => {
  test('a second holder waits; tokens grow by one; a lease whose session died is reported lost', async (t) => {
    const fence = pgWriteFence(db, 'test');
    // A lease holds a pool client; one left held when an assertion fails would make db.end() in after() wait forever.
    const held: WriteLease[] = [];
    t.after(() => Promise.all(held.map((l) => l.release().catch(() => undefined))));
    const acquire = (key: string) => fence.acquire(key).then((l) => (held.push(l), l));
    const a = await acquire('repo-a#main');
    let bGranted = false;
    const bP = acquire('repo-a#main').then((l) => ((bGranted = true), l));
    const other = await acquire('repo-b#main'); // other keys are independent
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(bGranted, false, 'second holder of the same key waits');
    await a.check();
    await a.release();
    const b = await bP;
    assert.equal(b.token, a.token + 1n);
    await other.release();

    // the session holding b dies (a crashed process, a dropped connection): check() must not pass
    // Only the session holding the advisory lock (b's): killing idle pool sessions too would break this pool.
    // pg_locks spans the whole server, and other test files hold advisory locks in their own databases on it.
    const pid = (await db.query<{ pid: number }>(
      `SELECT DISTINCT l.pid FROM pg_locks l JOIN pg_database d ON d.oid = l.database
        WHERE l.locktype = 'advisory' AND l.granted AND l.pid <> pg_backend_pid() AND d.datname = current_database()`,
    )).rows.map((r) => r.pid);
    assert.equal(pid.length, 1, 'exactly one session holds the lease');
    for (const p of pid) await db.query('SELECT pg_terminate_backend($1)', [p]);
    await assert.rejects(b.check());
    await b.release();
    const c = await acquire('repo-a#main');
    assert.equal(c.token, b.token + 1n);
    await c.release();
  });
});

describe('two writer processes on one repo', () => {
  for (const direct of [false, true]) {
    test(`50 concurrent releases from two replicas while a human pushes: 50 commits, each once, linear, foreign kept, pushes ordered by token${direct ? ' (direct local write)' : ''}`, async () => {
      const base = path.join(root, direct ? 'direct' : 'push');
      const remote = await makeHookedRemote(path.join(base, 'remote.git'), { direct });
      const seed = await pushForeign(remote, path.join(base, 'human'), { 'README.md': 'gitops\n' }, 'seed');
      const notBefore = new Date().toISOString();
      const all: AppChange[] = Array.from({ length: 50 }, (_, i) => ({
        releaseId: `rel-${i}`,
        dir: `production/app${i % 20}`, // several releases per app: per-directory order matters
        files: { 'deploy.yaml': `image: app${i % 20}:${i}\n` },
        title: `release ${i}`,
        trailers: { 'Ferry-App': `app${i % 20}` },
        notBefore,
      }));
      const jobs = [0, 1].map((r) => ({
        remote: remote.dir,
        branch: 'main',
        cacheDir: path.join(base, `cache-${r}`),
        // same-app releases go to the same replica (as a per-app ordered release flow would); apps interleave
        changes: all.filter((c) => (Number(c.trailers['Ferry-App']!.slice(3)) % 2) === r),
        waves: 5,
        gapMs: 40,
        databaseUrl,
        directLocalWrite: direct,
      }));
      const replicas = await Promise.all(jobs.map((j, i) => spawnWriter(j, path.join(base, `job-${i}.json`))));
      const foreign: string[] = [];
      for (let i = 0; i < 5; i++) {
        foreign.push(await pushForeign(remote, path.join(base, 'human'), { [`docs/note-${i}.md`]: `${i}\n` }, `human note ${i}`));
      }
      const done = await Promise.all(replicas.map((r) => r.waitFor((e) => e.event === 'done', 90_000)));
      for (const r of replicas) {
        const errors = r.events.filter((e) => e.event === 'error');
        assert.deepEqual(errors, []);
      }

      const counts = releaseCounts(remote.dir);
      for (const c of all) assert.equal(counts.get(c.releaseId), 1, `${c.releaseId} once`);
      assert.equal(gitSync(remote.dir, 'rev-list', '--merges', 'main'), '');
      for (const sha of [seed, ...foreign]) gitSync(remote.dir, 'merge-base', '--is-ancestor', sha, 'main');
      assert.equal(gitSync(remote.dir, 'rev-list', '--count', 'main'), String(50 + 6));
      // last release per app wins
      for (let a = 0; a < 20; a++) {
        const last = Math.max(...all.map((_, i) => i).filter((i) => i % 20 === a));
        assert.equal(gitSync(remote.dir, 'show', `main:production/app${a}/deploy.yaml`), `image: app${a}:${last}`);
      }
      // the pushes of both processes, ordered by fencing token, follow each other in the history
      const pushes = replicas.flatMap((r) => r.events.filter((e) => e.event === 'pushed')).sort((x, y) => Number(BigInt(x.token) - BigInt(y.token)));
      for (let i = 1; i < pushes.length; i++) {
        gitSync(remote.dir, 'merge-base', '--is-ancestor', pushes[i - 1].tip, pushes[i].tip);
      }
      const stats = done.map((d) => d.stats);
      assert.ok(stats.every((s) => s.leases > 0 && s.commits > 0), JSON.stringify(stats));
      assert.equal(stats[0].commits + stats[1].commits, 50);
    });
  }
});
