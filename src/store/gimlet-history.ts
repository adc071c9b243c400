// The release history Gimlet's `release list` and `release status` show, from the releases table: what was written
// to an environment's GitOps repository (releases with a commit), newest first.
import type { Db } from './db';
import { RELEASE_COLUMNS, type RawReleaseRow, type ReleaseRow, toReleaseRow } from './releases';

export interface WrittenReleasesQuery {
  env: string;
  app?: string;
  /** Artifact repository, `owner/name` (Gimlet's `git-repo`). */
  repository?: string;
  since?: Date;
  until?: Date;
  limit: number;
  offset: number;
}

const columns = RELEASE_COLUMNS.split(',').map((c) => `r.${c.trim()}`).join(', ');

export async function writtenReleases(db: Db, q: WrittenReleasesQuery): Promise<ReleaseRow[]> {
  const where = ['r.env = $1', 'r.gitops_commit IS NOT NULL'];
  const args: unknown[] = [q.env];
  const add = (sql: string, v: unknown) => {
    args.push(v);
    where.push(sql.replace('?', `$${args.length}`));
  };
  if (q.app) add('r.app = ?', q.app);
  if (q.repository) add('r.artifact_id IN (SELECT id FROM artifacts WHERE repository = ?)', q.repository);
  if (q.since) add('r.created_at >= ?', q.since);
  if (q.until) add('r.created_at <= ?', q.until);
  args.push(q.limit, q.offset);
  const r = await db.query<RawReleaseRow>(
    `SELECT ${columns} FROM releases r WHERE ${where.join(' AND ')}
     ORDER BY r.created_at DESC, r.id DESC LIMIT $${args.length - 1} OFFSET $${args.length}`,
    args,
  );
  return r.rows.map(toReleaseRow);
}

/** Per app in `env` (or just `app`): the release last written to the GitOps repository. */
export async function latestWrittenPerApp(db: Db, env: string, app?: string): Promise<ReleaseRow[]> {
  const r = await db.query<RawReleaseRow>(
    `SELECT DISTINCT ON (r.app) ${columns} FROM releases r
     WHERE r.env = $1 AND r.gitops_commit IS NOT NULL AND ($2::text IS NULL OR r.app = $2)
     ORDER BY r.app, r.created_at DESC, r.id DESC LIMIT 1000`,
    [env, app ?? null],
  );
  return r.rows.map(toReleaseRow);
}

/** Which of these releases a later rollback went back from. */
export async function rolledBackIds(db: Db, ids: string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const r = await db.query<{ rollback_of: string }>('SELECT DISTINCT rollback_of FROM releases WHERE rollback_of = ANY($1::text[])', [ids]);
  return new Set(r.rows.map((x) => x.rollback_of));
}
