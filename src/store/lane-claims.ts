import type pg from 'pg';
import { type Db, DEFAULT_POOL_SIZE, holdSession } from './db';

export type LaneOrdering = 'queue' | 'supersede';

const LOCK_TIMEOUT = '30s';
// PostgreSQL has no NOWAIT for an upsert's row lock; a lock wait this short is the same thing.
const NO_WAIT = '1ms';

/** The lane's row was locked, or the pool had no free session, and the caller asked not to wait (`{ wait: false }`). */
export class LaneBusyError extends Error {
  constructor(lane: string) {
    super(`lane ${lane} is locked by another join or leave, or no session is free`);
    this.name = 'LaneBusyError';
  }
}

export interface LaneMember {
  releaseId: string;
  runId: string;
  ordering: LaneOrdering;
  /** The lane workflow knows this member. */
  enqueued: boolean;
}

/** One lane's rows, read and changed under the lane's row lock. */
export interface LaneClaims {
  /** The transaction's session: what is written through it commits or rolls back with the lane's changes. */
  readonly client: pg.PoolClient;
  readonly escalated: boolean;
  /** Oldest first. */
  readonly members: readonly LaneMember[];
  add(m: Omit<LaneMember, 'enqueued'>): Promise<void>;
  remove(releaseId: string): Promise<void>;
  setEscalated(escalated: boolean): Promise<void>;
  markEnqueued(releaseId: string): Promise<void>;
}

/**
 * Runs `fn` in one transaction that holds the lane's row lock, so joins and leaves of one lane never interleave.
 * `fn` may call Temporal while it holds the lock: an escalation must hand the members over before anyone else joins.
 * Anything `fn` throws rolls every change back. With `{ wait: false }` a lane locked by someone else throws
 * LaneBusyError at once instead of waiting for the lock.
 */
export async function withLaneClaims<T>(db: Db, lane: string, fn: (claims: LaneClaims) => Promise<T>, opts: { wait?: boolean } = {}): Promise<T> {
  // Not waiting includes not queueing for a session: the pool may be full of joins waiting on a lane workflow.
  if (opts.wait === false && (db.waitingCount > 0 || (db.idleCount === 0 && db.totalCount >= (db.options.max ?? DEFAULT_POOL_SIZE)))) throw new LaneBusyError(lane);
  const session = await holdSession(db);
  const client: pg.PoolClient = session.client;
  try {
    // A join or leave stuck behind an escalation whose Temporal calls hang gives up and is retried as an activity,
    // rather than piling up sessions. One round trip for both statements (simple query protocol).
    await client.query(`BEGIN; SET LOCAL lock_timeout = '${opts.wait === false ? NO_WAIT : LOCK_TIMEOUT}'`);
    // The upsert takes the row lock as SELECT ... FOR UPDATE would.
    const row = await client.query<{ escalated: boolean }>(
      'INSERT INTO lanes (lane) VALUES ($1) ON CONFLICT (lane) DO UPDATE SET lane = EXCLUDED.lane RETURNING escalated', [lane],
    );
    let escalated = row.rows[0]!.escalated;
    // A statement of its own, so that its snapshot is taken after the lock was granted and sees the last holder's rows.
    const members = (await client.query<{ release_id: string; run_id: string; ordering: LaneOrdering; enqueued: boolean }>(
      'SELECT release_id, run_id, ordering, enqueued FROM lane_members WHERE lane = $1 ORDER BY seq', [lane],
    )).rows.map((r) => ({ releaseId: r.release_id, runId: r.run_id, ordering: r.ordering, enqueued: r.enqueued }));
    const claims: LaneClaims = {
      client,
      get escalated() { return escalated; },
      members,
      async add(m) {
        await client.query('INSERT INTO lane_members (lane, release_id, run_id, ordering) VALUES ($1, $2, $3, $4)', [lane, m.releaseId, m.runId, m.ordering]);
        members.push({ ...m, enqueued: false });
      },
      async remove(releaseId) {
        await client.query('DELETE FROM lane_members WHERE lane = $1 AND release_id = $2', [lane, releaseId]);
        const at = members.findIndex((m) => m.releaseId === releaseId);
        if (at >= 0) members.splice(at, 1);
      },
      async setEscalated(value) {
        await client.query('UPDATE lanes SET escalated = $2 WHERE lane = $1', [lane, value]);
        escalated = value;
      },
      async markEnqueued(releaseId) {
        await client.query('UPDATE lane_members SET enqueued = true WHERE lane = $1 AND release_id = $2', [lane, releaseId]);
        const m = members.find((x) => x.releaseId === releaseId);
        if (m) m.enqueued = true;
      },
    };
    const result = await fn(claims);
    await client.query('COMMIT');
    session.release();
    return result;
  } catch (err) {
    // A session that cannot even roll back is broken: it leaves the pool instead of going back to it.
    const broken = await client.query('ROLLBACK').then(() => undefined, (e: Error) => e);
    session.release(broken);
    if (opts.wait === false && (err as { code?: string }).code === '55P03') throw new LaneBusyError(lane);
    throw err;
  }
}
