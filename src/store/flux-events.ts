import { FERRY_ENV_KEY } from '../flux/attribution';
import type { Db } from './db';

export interface FluxEventRecord {
  bodyHash: string;
  cluster: string | null;
  kind: string;
  namespace: string;
  name: string;
  severity: string;
  reason: string;
  revision: string | null;
  commitSha: string | null;
  outcome: string;
  message: string;
  eventTime: string | null;
  body: unknown;
}

/** Stores an event once; a replayed body (same bytes) is recognised and reported as a duplicate. */
export async function saveFluxEvent(db: Db, e: FluxEventRecord): Promise<{ id: string; duplicate: boolean }> {
  const r = await db.query<{ id: string }>(
    `INSERT INTO flux_events (body_hash, cluster, kind, namespace, name, severity, reason, revision, commit_sha, outcome, message, event_time, body)
     VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13) ON CONFLICT (body_hash) DO NOTHING RETURNING id`,
    [e.bodyHash, e.cluster, e.kind, e.namespace, e.name, e.severity, e.reason, e.revision, e.commitSha, e.outcome, e.message.slice(0, 40_000), e.eventTime, JSON.stringify(e.body)],
  );
  if (r.rows[0]) return { id: String(r.rows[0].id), duplicate: false };
  const existing = await db.query<{ id: string }>('SELECT id FROM flux_events WHERE body_hash = $1', [e.bodyHash]);
  return { id: String(existing.rows[0].id), duplicate: true };
}

export async function getFluxEvent(db: Db, id: string): Promise<FluxEventRecord & { id: string; receivedAt: string } | null> {
  const r = await db.query('SELECT * FROM flux_events WHERE id = $1', [id]);
  const x = r.rows[0];
  if (!x) return null;
  return {
    id: String(x.id), bodyHash: x.body_hash, cluster: x.cluster, kind: x.kind, namespace: x.namespace, name: x.name,
    severity: x.severity, reason: x.reason, revision: x.revision, commitSha: x.commit_sha, outcome: x.outcome,
    message: x.message, eventTime: x.event_time ? new Date(x.event_time).toISOString() : null, body: x.body,
    receivedAt: new Date(x.received_at).toISOString(),
  };
}

/**
 * Terminal outcomes Flux reported since `since` for environment `scope.env`, one per (cluster, commit, outcome),
 * oldest first: the first final word about a commit wins, so the order of arrival matters. Only events that speak
 * for the environment count (src/flux/attribution.ts): with `scope.from` (an app's own Kustomization, in
 * environments with per-app Kustomizations) that object's events unless they name another environment, otherwise
 * events naming `scope.env`.
 */
export async function recentFluxOutcomes(
  db: Db,
  since: string,
  scope: { env: string; from?: { kind: string; namespace: string; name: string }; ownBranch?: boolean },
  limit = 500,
): Promise<Array<{ cluster: string | null; commitSha: string; outcome: string; reason: string; message: string; revision: string | null; env: string | null }>> {
  const params: unknown[] = [since, limit, scope.env];
  const envKey = `body->'metadata'->>'${FERRY_ENV_KEY}'`;
  // Events naming no environment may still speak for it through the branch their revision names (the caller checks).
  let only = scope.ownBranch ? `AND (${envKey} = $3 OR ${envKey} IS NULL)` : `AND ${envKey} = $3`;
  if (scope.from) {
    params.push(scope.from.kind, scope.from.namespace, scope.from.name);
    only = `AND kind = $4 AND namespace = $5 AND name = $6 AND (${envKey} IS NULL OR ${envKey} = $3)`;
  }
  const r = await db.query<{ cluster: string | null; commit_sha: string; outcome: string; reason: string; message: string; revision: string | null; env: string | null; received_at: Date }>(
    `SELECT * FROM (
       SELECT DISTINCT ON (cluster, commit_sha, outcome, revision) cluster, commit_sha, outcome, reason, message, revision, ${envKey} AS env, received_at FROM flux_events
       WHERE commit_sha IS NOT NULL AND outcome IN ('succeeded', 'failed', 'unhealthy') AND received_at >= $1 ${only}
       ORDER BY cluster, commit_sha, outcome, revision, received_at ASC, id ASC
     ) first ORDER BY received_at ASC LIMIT $2`,
    params,
  );
  return r.rows.map((x) => ({ cluster: x.cluster, commitSha: x.commit_sha, outcome: x.outcome, reason: x.reason, message: x.message, revision: x.revision, env: x.env }));
}
