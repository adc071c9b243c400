import type { Db } from './db';

/**
 * Every (app, env) pair that ever had a release, in order: a loose index scan over `releases_successful`'s leading
 * columns (app, env), one probe per pair rather than one row per release, so the board costs the same at 100,000
 * releases as at 100.
 */
export async function appEnvPairs(db: Db): Promise<Array<{ app: string; env: string }>> {
  const r = await db.query<{ app: string; env: string }>(
    `WITH RECURSIVE p(app, env) AS (
       (SELECT app, env FROM releases ORDER BY app, env LIMIT 1)
       UNION ALL
       SELECT n.app, n.env FROM p, LATERAL (
         SELECT r.app, r.env FROM releases r WHERE (r.app, r.env) > (p.app, p.env) ORDER BY r.app, r.env LIMIT 1
       ) n
     ) SELECT app, env FROM p`,
  );
  return r.rows;
}
