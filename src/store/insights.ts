/**
 * DORA's four keys computed from the releases themselves (definitions: docs/insights.md): one statement over the
 * releases that finished in the window, which carry their source commit's time (migration 009); the indexes of
 * migration 009 keep it to range scans.
 */
import { type Db, holdSession } from './db';

export interface DoraQuery {
  app?: string;
  env?: string;
  from: Date;
  to: Date;
  /** One row per environment instead of one over everything (for /metrics). */
  byEnv?: boolean;
}

export interface DoraFigures {
  /** The environment with `byEnv`, else null. */
  env: string | null;
  deploymentFrequency: { deployments: number; perDay: number };
  leadTime: { deployments: number; medianSeconds: number | null; p90Seconds: number | null };
  changeFailureRate: { committed: number; failed: number; fluxFailed: number; rolledBack: number; autoRolledBack: number; rate: number | null };
  timeToRestore: { failures: number; restored: number; medianSeconds: number | null; p90Seconds: number | null };
}

/** Who starts automatic rollbacks (workflows/definitions.ts AUTO_ROLLBACK_BY); repeated to keep src/ free of workflows. */
const AUTO_ROLLBACK_BY = 'ferry:auto-rollback';
const SUCCEEDED = `(status = 'succeeded' OR status = 'committed')`;

interface Raw {
  grp: string; deployments: string; lead_n: string; lead_p50: number | null; lead_p90: number | null;
  committed: string | null; failed: string | null; flux_failed: string | null; rolled_back: string | null; auto_rolled_back: string | null;
  failures: string | null; restored: string | null; ttr_p50: number | null; ttr_p90: number | null;
}

/** The statement and its parameters (exported for the benchmark's EXPLAIN). */
export function doraStatement(q: DoraQuery): { sql: string; params: unknown[] } {
  const params: unknown[] = [q.from.toISOString(), q.to.toISOString(), AUTO_ROLLBACK_BY];
  const where = ['r.finished_at IS NOT NULL', 'r.finished_at >= $1', 'r.finished_at < $2'];
  if (q.app !== undefined) where.push(`r.app = $${params.push(q.app)}`);
  if (q.env !== undefined) where.push(`r.env = $${params.push(q.env)}`);
  const grp = q.byEnv ? 'r.env' : `''::text`;
  // A rollback is a release of the same app into the same environment, so the app and env filters narrow them too.
  const rbWhere = ['rollback_of IS NOT NULL', ...where.slice(3).map((w) => w.replace('r.', ''))];
  return {
    sql: `WITH w AS (
       -- Every release that finished in the window. A finished 'committed' release is a success where Flux is not awaited.
       SELECT ${grp} AS grp, r.id, r.app, r.env, r.status, r.flux_outcome, r.changed, r.finished_at, r.source_created_at,
              ${SUCCEEDED.replace(/status/g, 'r.status')} AS ok
       FROM releases r
       WHERE ${where.join(' AND ')}
     ),
     rb AS (
       -- Releases someone (or Ferry) rolled back, with the first time that was asked for.
       SELECT rollback_of, min(created_at) AS first_rollback, bool_or(released_by = $3) AS auto
       -- All of them (a partial index holds only rollbacks): hashing a few thousand beats probing once per release.
       FROM releases WHERE ${rbWhere.join(' AND ')} GROUP BY rollback_of
     ),
     c AS (
       -- Changes: the releases that committed to their environment.
       SELECT w.*, (w.status = 'failed' AND w.flux_outcome IN ('failed', 'unhealthy')) AS flux_failed, rb.first_rollback, coalesce(rb.auto, false) AS auto
       FROM w LEFT JOIN rb ON rb.rollback_of = w.id WHERE w.changed
     ),
     fail AS (
       SELECT grp, app, env, CASE WHEN flux_failed THEN finished_at ELSE first_rollback END AS failed_at
       FROM c WHERE flux_failed OR first_rollback IS NOT NULL
     ),
     ttr AS MATERIALIZED (
       -- Materialized: three aggregates read it, and each would otherwise repeat the lookups. From the failure to the next release of the same app that changed the same environment and succeeded.
       SELECT fail.grp, extract(epoch FROM (
         SELECT min(s.finished_at) FROM releases s
         WHERE s.app = fail.app AND s.env = fail.env AND ${SUCCEEDED.replace(/status/g, 's.status')} AND s.finished_at IS NOT NULL
           AND s.changed AND s.finished_at > fail.failed_at
       ) - fail.failed_at)::float8 AS secs
       FROM fail
     )
     SELECT d.grp, d.deployments, d.lead_n, d.lead_p50, d.lead_p90,
            cf.committed, cf.failed, cf.flux_failed, cf.rolled_back, cf.auto_rolled_back,
            t.failures, t.restored, t.ttr_p50, t.ttr_p90
     FROM (
       SELECT grp, count(*) FILTER (WHERE ok AND changed) AS deployments,
              count(*) FILTER (WHERE ok AND changed AND source_created_at IS NOT NULL) AS lead_n,
              percentile_cont(0.5) WITHIN GROUP (ORDER BY greatest(0, extract(epoch FROM finished_at - source_created_at))::float8)
                FILTER (WHERE ok AND changed AND source_created_at IS NOT NULL) AS lead_p50,
              percentile_cont(0.9) WITHIN GROUP (ORDER BY greatest(0, extract(epoch FROM finished_at - source_created_at))::float8)
                FILTER (WHERE ok AND changed AND source_created_at IS NOT NULL) AS lead_p90
       FROM w GROUP BY grp
     ) d
     LEFT JOIN (
       SELECT grp, count(*) AS committed, count(*) FILTER (WHERE flux_failed OR first_rollback IS NOT NULL) AS failed,
              count(*) FILTER (WHERE flux_failed) AS flux_failed, count(*) FILTER (WHERE first_rollback IS NOT NULL) AS rolled_back,
              count(*) FILTER (WHERE auto) AS auto_rolled_back
       FROM c GROUP BY grp
     ) cf USING (grp)
     LEFT JOIN (
       SELECT grp, count(*) AS failures, count(secs) AS restored,
              percentile_cont(0.5) WITHIN GROUP (ORDER BY secs) AS ttr_p50, percentile_cont(0.9) WITHIN GROUP (ORDER BY secs) AS ttr_p90
       FROM ttr GROUP BY grp
     ) t USING (grp)
     ORDER BY d.grp`,
    params,
  };
}

export async function doraFigures(db: Db, q: DoraQuery): Promise<DoraFigures[]> {
  const { sql, params } = doraStatement(q);
  // The planner's cost for the per-failure lookups crosses jit_above_cost, and compiling the plan takes longer than
  // running it (0.5 s of 0.7 s at 20k releases): JIT is switched off for this statement alone.
  const session = await holdSession(db);
  let r;
  try {
    await session.client.query('BEGIN READ ONLY; SET LOCAL jit = off');
    r = await session.client.query<Raw>(sql, params);
    await session.client.query('COMMIT');
    session.release();
  } catch (err) {
    await session.client.query('ROLLBACK').catch(() => undefined);
    session.release(err as Error);
    throw err;
  }
  const days = (q.to.getTime() - q.from.getTime()) / 86_400_000;
  const n = (v: string | null) => Number(v ?? 0);
  const rows = r.rows.length || q.byEnv ? r.rows : [{ grp: '', deployments: '0', lead_n: '0' } as Raw];
  return rows.map((x) => {
    const committed = n(x.committed);
    const failed = n(x.failed);
    return {
      env: q.byEnv ? x.grp : null,
      deploymentFrequency: { deployments: n(x.deployments), perDay: days > 0 ? n(x.deployments) / days : 0 },
      leadTime: { deployments: n(x.lead_n), medianSeconds: x.lead_p50 ?? null, p90Seconds: x.lead_p90 ?? null },
      changeFailureRate: {
        committed, failed, fluxFailed: n(x.flux_failed), rolledBack: n(x.rolled_back), autoRolledBack: n(x.auto_rolled_back),
        rate: committed > 0 ? failed / committed : null,
      },
      timeToRestore: { failures: n(x.failures), restored: n(x.restored), medianSeconds: x.ttr_p50 ?? null, p90Seconds: x.ttr_p90 ?? null },
    };
  });
}
