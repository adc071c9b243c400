/**
 * Release history and "what runs where", answered from PostgreSQL indexes alone (never by walking git). Every query
 * here is one index range scan; see migration 003 for the index each one uses.
 */
import type { Db } from './db';
import { RELEASE_COLUMNS, type RawReleaseRow, type ReleaseRow, toReleaseRow } from './releases';
import type { ReleaseStatus } from '../release/types';

const SUCCESSFUL = `(status = 'succeeded' OR (status = 'committed' AND finished_at IS NOT NULL))`;

export interface HistoryQuery {
  app?: string;
  env?: string;
  status?: ReleaseStatus;
  limit: number;
  /** Opaque cursor from a previous page's `nextBefore`. */
  before?: string;
  /** Created at or after this instant (ISO 8601). */
  since?: string;
  /** Created before this instant (ISO 8601). */
  until?: string;
}

export class BadCursorError extends Error {}
export class AmbiguousCommitError extends Error {}

/** (created_at as PostgreSQL prints it, id): exact, unlike a JS Date, which drops microseconds. */
function encodeCursor(ts: string, id: string): string {
  return Buffer.from(JSON.stringify([ts, id])).toString('base64url');
}

function decodeCursor(cursor: string): [string, string] {
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(v) && v.length === 2 && typeof v[0] === 'string' && typeof v[1] === 'string' && !Number.isNaN(Date.parse(v[0]))) return [v[0], v[1]];
  } catch {
    // fall through
  }
  throw new BadCursorError('must be a nextBefore value from an earlier page');
}

/** Newest first; keyset pagination on (created_at, id), so page 500 costs what page 1 costs. */
export async function listReleases(db: Db, q: HistoryQuery): Promise<{ items: ReleaseRow[]; nextBefore: string | null }> {
  const where: string[] = [];
  const params: unknown[] = [];
  const add = (sql: string, ...values: unknown[]) => {
    where.push(sql.replace(/\$(\d)/g, (_, n) => `$${params.length + Number(n)}`));
    params.push(...values);
  };
  if (q.app) add('app = $1', q.app);
  if (q.env) add('env = $1', q.env);
  if (q.status) add('status = $1', q.status);
  if (q.since) add('created_at >= $1::timestamptz', q.since);
  if (q.until) add('created_at < $1::timestamptz', q.until);
  if (q.before) {
    const [ts, id] = decodeCursor(q.before);
    add('(created_at, id) < ($1::timestamptz, $2::text)', ts, id);
  }
  params.push(q.limit + 1);
  const r = await db.query<RawReleaseRow & { cursor_ts: string }>(
    `SELECT ${RELEASE_COLUMNS}, created_at::text AS cursor_ts FROM releases
     ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
     ORDER BY created_at DESC, id DESC LIMIT $${params.length}`,
    params,
  );
  const rows = r.rows.slice(0, q.limit);
  const last = rows.at(-1);
  return { items: rows.map(toReleaseRow), nextBefore: r.rows.length > q.limit && last ? encodeCursor(last.cursor_ts, last.id) : null };
}

/** The release whose artifact runs in app/env: the last one to finish successfully. */
export async function currentRelease(db: Db, app: string, env: string): Promise<ReleaseRow | null> {
  const r = await db.query<RawReleaseRow>(
    `SELECT ${RELEASE_COLUMNS} FROM releases WHERE app = $1 AND env = $2 AND ${SUCCESSFUL}
     ORDER BY finished_at DESC, id DESC LIMIT 1`,
    [app, env],
  );
  return r.rows[0] ? toReleaseRow(r.rows[0]) : null;
}

/**
 * The newest successful release of an artifact other than `excludeArtifactId`: what ran before the release that is
 * in the GitOps repository now (releases of one app/env run one at a time, so it finished before that one).
 */
export async function previousRelease(db: Db, app: string, env: string, excludeArtifactId: string): Promise<ReleaseRow | null> {
  const r = await db.query<RawReleaseRow>(
    `SELECT ${RELEASE_COLUMNS} FROM releases WHERE app = $1 AND env = $2 AND ${SUCCESSFUL} AND artifact_id <> $3
     ORDER BY finished_at DESC, id DESC LIMIT 1`,
    [app, env, excludeArtifactId],
  );
  return r.rows[0] ? toReleaseRow(r.rows[0]) : null;
}

/** The newest release that wrote a GitOps commit, whatever its outcome: "last released" when nothing succeeded. */
export async function lastCommittedRelease(db: Db, app: string, env: string): Promise<ReleaseRow | null> {
  const r = await db.query<RawReleaseRow>(
    `SELECT ${RELEASE_COLUMNS} FROM releases WHERE app = $1 AND env = $2 AND gitops_commit IS NOT NULL
     ORDER BY created_at DESC, id DESC LIMIT 1`,
    [app, env],
  );
  return r.rows[0] ? toReleaseRow(r.rows[0]) : null;
}

export async function inFlightReleases(db: Db, app: string, env: string, limit = 100): Promise<ReleaseRow[]> {
  const r = await db.query<RawReleaseRow>(
    `SELECT ${RELEASE_COLUMNS} FROM releases WHERE app = $1 AND env = $2 AND finished_at IS NULL ORDER BY created_at, id LIMIT $3`,
    [app, env, limit],
  );
  return r.rows.map(toReleaseRow);
}

/** Distinct envs an app was ever released to: a loose index scan, one probe per env rather than one row per release. */
export async function environmentsOfApp(db: Db, app: string): Promise<string[]> {
  const r = await db.query<{ env: string }>(
    `WITH RECURSIVE e(env) AS (
       (SELECT env FROM releases WHERE app = $1 ORDER BY env LIMIT 1)
       UNION ALL
       SELECT (SELECT r.env FROM releases r WHERE r.app = $1 AND r.env > e.env ORDER BY r.env LIMIT 1) FROM e WHERE e.env IS NOT NULL
     ) SELECT env FROM e WHERE env IS NOT NULL`,
    [app],
  );
  return r.rows.map((x) => x.env);
}

/** A release of app/env by its GitOps commit (full id or a prefix of at least 7 hex digits). */
export async function releaseByCommit(db: Db, app: string, env: string, commit: string): Promise<ReleaseRow | null> {
  const prefix = commit.toLowerCase();
  const r = await db.query<RawReleaseRow>(
    `SELECT ${RELEASE_COLUMNS} FROM releases
     WHERE gitops_commit >= $3 AND gitops_commit < $3 || 'z' AND app = $1 AND env = $2
     ORDER BY created_at DESC LIMIT 2`,
    [app, env, prefix],
  );
  const found = r.rows.filter((x) => x.gitops_commit?.startsWith(prefix));
  if (found.length > 1 && new Set(found.map((x) => x.gitops_commit)).size > 1) throw new AmbiguousCommitError(`commit prefix "${commit}" is ambiguous`);
  return found[0] ? toReleaseRow(found[0]) : null;
}
