// The idle-lane claims that run as local activities (enterIdleLane, exitIdleLane) against a real PostgreSQL. A local
// activity holds a workflow task slot, so these must never wait: not for a lane's row lock, not for a session of the
// lane pool (whose sessions may all be joins waiting on lane workflows). Anything but an idle lane answers "not idle"
// having written nothing, and the workflow falls back to the enterLane/exitLane activity tasks.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Client } from '@temporalio/client';
import type pg from 'pg';
import { createLaneActivities } from '../activities/lane-activities';
import { ArtifactInputSchema, normalizeArtifact } from '../src/artifact/schema';
import { laneWorkflowId, type ReleaseState } from '../src/release/types';
import { systemPrincipal } from '../src/auth/authorize';
import { saveArtifact } from '../src/store/artifacts';
import { createPool, type Db } from '../src/store/db';
import { withLaneClaims } from '../src/store/lane-claims';
import { getRelease } from '../src/store/releases';
import { openTestDatabase, type TestDatabase } from './support/database';
import { makeArtifact } from './support/stack';

let testDb: TestDatabase;
let databaseUrl: string;
let db: Db;
let artifactId: string;

before(async () => {
  testDb = await openTestDatabase('ferry-idle-lanes-');
  ({ databaseUrl, db } = testDb);
  // Release rows name a stored artifact.
  artifactId = (await saveArtifact(db, normalizeArtifact(ArtifactInputSchema.parse(makeArtifact({ apps: [{ app: 'calm', env: 'idle' }] }))), { actor: 'admin', pusher: systemPrincipal('test') })).artifact.id;
});
after(async () => {
  await testDb?.close();
});

// The idle paths need no Temporal call: a client that was never connected proves it (any call would fail).
const lanesOn = (pool: Db) => createLaneActivities({ temporal: new Client(), db: pool, taskQueue: 'unused' });


function stateOf(app: string, n: number, status: ReleaseState['status'], seq: number): ReleaseState {
  const at = new Date().toISOString();
  return {
    id: `release:${app}:idle:${n}`, app, env: 'idle', artifactId, sha: 'a'.repeat(40), branch: 'main', trigger: 'manual',
    releasedBy: 'admin', status, gitopsCommit: null, fluxStatus: null, error: null, timeline: [{ status, at }], createdAt: at, updatedAt: at,
    runId: `run-${n}`, seq, rollbackOf: null, promotedFrom: null,
  };
}
const ticketOf = (s: ReleaseState) => ({ app: s.app, env: s.env, releaseId: s.id, runId: s.runId ?? '', ordering: 'queue' as const });
const members = async (app: string) => (await db.query('SELECT release_id FROM lane_members WHERE lane = $1 ORDER BY seq', [laneWorkflowId(app, 'idle')])).rows.map((r) => r.release_id);
/** A lane PostgreSQL knows, with nobody in it: what a lane looks like after its first release. */
const known = (app: string) => db.query('INSERT INTO lanes (lane) VALUES ($1) ON CONFLICT DO NOTHING', [laneWorkflowId(app, 'idle')]);

describe('idle-lane claims', () => {
  test('an idle lane is claimed and its release recorded in one go, and left with the final state', async () => {
    const lanes = lanesOn(db);
    await known('calm');
    const pending = stateOf('calm', 1, 'pending', 1);
    assert.deepEqual(await lanes.enterIdleLane({ ...ticketOf(pending), record: pending }), { granted: true, ahead: 0 });
    assert.equal((await getRelease(db, pending.id))?.status, 'pending');
    assert.deepEqual(await members('calm'), [pending.id]);
    // Repeated, as after a worker crash before the workflow task completed: the same claim, nothing added.
    assert.deepEqual(await lanes.enterIdleLane({ ...ticketOf(pending), record: pending }), { granted: true, ahead: 0 });
    assert.deepEqual(await members('calm'), [pending.id]);

    const done = { ...stateOf('calm', 1, 'committed', 4), finishedAt: new Date().toISOString() };
    assert.equal(await lanes.exitIdleLane({ ...ticketOf(done), record: done }), true);
    assert.equal((await getRelease(db, done.id))?.status, 'committed');
    assert.deepEqual(await members('calm'), []);
  });

  test('a busy lane and an escalated one are not idle, and nothing is written', async () => {
    const lanes = lanesOn(db);
    await known('busy');
    const first = stateOf('busy', 3, 'pending', 1);
    assert.ok(await lanes.enterIdleLane({ ...ticketOf(first), record: first }));
    const second = stateOf('busy', 4, 'pending', 1);
    assert.equal(await lanes.enterIdleLane({ ...ticketOf(second), record: second }), null);
    assert.equal(await getRelease(db, second.id), null);
    assert.deepEqual(await members('busy'), [first.id]);

    await db.query('UPDATE lanes SET escalated = true WHERE lane = $1', [laneWorkflowId('busy', 'idle')]);
    const final = { ...stateOf('busy', 3, 'committed', 4), finishedAt: new Date().toISOString() };
    assert.equal(await lanes.exitIdleLane({ ...ticketOf(final), record: final }), false);
    assert.equal((await getRelease(db, first.id))?.status, 'pending');
    assert.deepEqual(await members('busy'), [first.id]);
  });

  test('a lane whose row is locked by a join answers at once instead of waiting for the lock', async () => {
    const lanes = lanesOn(db);
    await known('locked');
    const holder = await db.connect();
    try {
      // What an escalating join does while it talks to the lane workflow: hold the lane's row lock.
      await holder.query('BEGIN');
      await holder.query('SELECT 1 FROM lanes WHERE lane = $1 FOR UPDATE', [laneWorkflowId('locked', 'idle')]);
      const s = stateOf('locked', 5, 'pending', 1);
      assert.equal(await lanes.enterIdleLane({ ...ticketOf(s), record: s }), null);
      assert.equal(await lanes.exitIdleLane({ ...ticketOf(s) }), false);
      assert.equal(await getRelease(db, s.id), null);
    } finally {
      await holder.query('ROLLBACK');
      holder.release();
    }
  });

  // What crashed the release worker in the PostgreSQL outage test: an escalation waits on Temporal while holding the
  // lane's session, PostgreSQL drops the session, and pg emits 'error' on a client nobody listened to.
  test('a lane session that dies while its holder waits fails that join, not the process, and leaves the pool', async () => {
    const pool = createPool(databaseUrl, 2);
    try {
      await known('doomed');
      await assert.rejects(withLaneClaims(pool, laneWorkflowId('doomed', 'idle'), async (claims) => {
        const { pid } = (await claims.client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!;
        await db.query('SELECT pg_terminate_backend($1)', [pid]);
        await new Promise((r) => setTimeout(r, 500));
        await claims.setEscalated(true);
      }));
      assert.equal(pool.totalCount, 0, 'the dead session went back into the pool');
      assert.equal((await pool.query<{ one: number }>('SELECT 1 AS one')).rows[0]!.one, 1);
      assert.equal((await db.query('SELECT escalated FROM lanes WHERE lane = $1', [laneWorkflowId('doomed', 'idle')])).rows[0].escalated, false);
    } finally {
      await pool.end();
    }
  });

  test('with every session of the lane pool taken, the claim answers "not idle" instead of queueing for one', async () => {
    const small = createPool(databaseUrl, 2);
    const held: pg.PoolClient[] = [await small.connect(), await small.connect()];
    try {
      await known('starved');
      const s = stateOf('starved', 6, 'pending', 1);
      // Were it to queue, it would fail after the pool's 5 s connection timeout with an error, not answer null.
      assert.equal(await lanesOn(small).enterIdleLane({ ...ticketOf(s), record: s }), null);
      assert.equal(await lanesOn(small).exitIdleLane({ ...ticketOf(s) }), false);
      assert.equal(small.waitingCount, 0);
      assert.equal(await getRelease(db, s.id), null);
    } finally {
      for (const c of held) c.release();
      await small.end();
    }
  });
});
