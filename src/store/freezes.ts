/**
 * Freezes started through the API ("stop the line"). They live in PostgreSQL so they survive restarts and every
 * replica of the API and the workers sees the same ones.
 */
import type { Db, Queryable } from './db';

export interface ManualFreeze {
  id: string;
  /** null: every environment. */
  env: string | null;
  reason: string;
  /** The actor who started it, as audit records name it. */
  createdBy: string;
  /** The identity who started it (a token's owner, an OIDC subject). */
  createdByName: string;
  createdAt: string;
  until: string | null;
  endedAt: string | null;
  endedBy: string | null;
  /** Holding now: not ended and not past `until`. */
  active: boolean;
}

interface Raw {
  id: string; env: string | null; reason: string; created_by: string; created_by_name: string; created_at: Date;
  until: Date | null; ended_at: Date | null; ended_by: string | null; active: boolean;
}

const COLUMNS = `id::text AS id, env, reason, created_by, created_by_name, created_at, until, ended_at, ended_by,
  (ended_at IS NULL AND (until IS NULL OR until > now())) AS active`;

const toFreeze = (r: Raw): ManualFreeze => ({
  id: r.id, env: r.env, reason: r.reason, createdBy: r.created_by, createdByName: r.created_by_name, createdAt: r.created_at.toISOString(),
  until: r.until?.toISOString() ?? null, endedAt: r.ended_at?.toISOString() ?? null, endedBy: r.ended_by, active: r.active,
});

export async function createFreeze(db: Queryable, f: { env: string | null; reason: string; createdBy: string; createdByName: string; until: string | null }): Promise<ManualFreeze> {
  const r = await db.query<Raw>(
    `INSERT INTO freezes (env, reason, created_by, created_by_name, until) VALUES ($1, $2, $3, $4, $5) RETURNING ${COLUMNS}`,
    [f.env, f.reason, f.createdBy, f.createdByName, f.until],
  );
  return toFreeze(r.rows[0]);
}

export async function getFreeze(db: Queryable, id: string): Promise<ManualFreeze | null> {
  if (!/^\d{1,18}$/.test(id)) return null;
  const r = await db.query<Raw>(`SELECT ${COLUMNS} FROM freezes WHERE id = $1`, [id]);
  return r.rows[0] ? toFreeze(r.rows[0]) : null;
}

/** Ends a freeze that still holds; null when it had already ended (or expired), so two lifts report one. */
export async function endFreeze(db: Queryable, id: string, by: string): Promise<ManualFreeze | null> {
  const r = await db.query<Raw>(
    `UPDATE freezes SET ended_at = now(), ended_by = $2 WHERE id = $1 AND ended_at IS NULL AND (until IS NULL OR until > now()) RETURNING ${COLUMNS}`,
    [id, by],
  );
  return r.rows[0] ? toFreeze(r.rows[0]) : null;
}

/** Freezes holding now, oldest first; with `env`, those that hold that environment (its own and `all` ones). */
export async function activeFreezes(db: Queryable, env?: string): Promise<ManualFreeze[]> {
  const r = await db.query<Raw>(
    `SELECT ${COLUMNS} FROM freezes WHERE ended_at IS NULL AND (until IS NULL OR until > now())
     ${env === undefined ? '' : 'AND (env = $1 OR env IS NULL)'} ORDER BY created_at, id LIMIT 1000`,
    env === undefined ? [] : [env],
  );
  return r.rows.map(toFreeze);
}

/** Holding freezes, then the most recent ended ones: what `GET /api/freezes` lists. */
export async function listFreezes(db: Db, opts: { includeEnded: boolean; limit: number }): Promise<ManualFreeze[]> {
  const active = await activeFreezes(db);
  if (!opts.includeEnded) return active;
  const r = await db.query<Raw>(
    `SELECT ${COLUMNS} FROM freezes WHERE NOT (ended_at IS NULL AND (until IS NULL OR until > now())) ORDER BY created_at DESC, id DESC LIMIT $1`,
    [opts.limit],
  );
  return [...active, ...r.rows.map(toFreeze)];
}

/** Releases waiting in a freeze, oldest first: the ones to tell when a freeze is lifted. */
export async function frozenReleases(db: Db, env: string | null): Promise<string[]> {
  const r = await db.query<{ id: string }>(
    `SELECT id FROM releases WHERE status = 'frozen' ${env === null ? '' : 'AND env = $1'} ORDER BY created_at, id LIMIT 5000`,
    env === null ? [] : [env],
  );
  return r.rows.map((x) => x.id);
}
