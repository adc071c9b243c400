import type { Db, Queryable } from './db';
import type { ClusterVerdict } from '../reconcile/verdicts';
import type { Decision, ReleaseState, ReleaseStatus, ReleaseTrigger, TimelineEntry, Waiting } from '../release/types';

/**
 * A release as PostgreSQL mirrors it and the API shows it: the workflow's state without its run bookkeeping, with
 * every field present (null when unset), plus the approvals picked out of `decisions`.
 */
export type ReleaseRow = Required<Omit<ReleaseState, 'runId' | 'seq'>> & {
  /** The approvals among `decisions`. */
  approvals: Array<{ by: string; at: string; comment?: string }>;
};

export const RELEASE_COLUMNS = `id, app, env, artifact_id, sha, branch, trigger, released_by, status, gitops_commit, flux_status, flux_outcome, flux_clusters,
  error, timeline, created_at, updated_at, decisions, waiting, rollback_of, promoted_from, finished_at`;
const COLUMNS = RELEASE_COLUMNS;

export interface RawReleaseRow {
  id: string; app: string; env: string; artifact_id: string; sha: string; branch: string; trigger: ReleaseTrigger; released_by: string;
  status: ReleaseStatus; gitops_commit: string | null; flux_status: string | null;
  flux_outcome: ReleaseRow['fluxOutcome']; flux_clusters: Record<string, ClusterVerdict> | null; error: string | null;
  timeline: TimelineEntry[]; created_at: Date; updated_at: Date;
  decisions: Decision[]; waiting: Waiting | null; rollback_of: string | null; promoted_from: string | null; finished_at: Date | null;
}
type RawRow = RawReleaseRow;

export function toReleaseRow(r: RawRow): ReleaseRow {
  const decisions = r.decisions ?? [];
  return {
    id: r.id, app: r.app, env: r.env, artifactId: r.artifact_id, sha: r.sha, branch: r.branch, trigger: r.trigger,
    releasedBy: r.released_by, status: r.status, gitopsCommit: r.gitops_commit, fluxStatus: r.flux_status,
    fluxOutcome: r.flux_outcome, clusters: r.flux_clusters, error: r.error,
    timeline: r.timeline, createdAt: r.created_at.toISOString(), updatedAt: r.updated_at.toISOString(),
    approvals: decisions.filter((d) => d.kind === 'approve').map(({ by, at, comment }) => ({ by, at, ...(comment ? { comment } : {}) })),
    decisions, waiting: r.waiting, rollbackOf: r.rollback_of, promotedFrom: r.promoted_from,
    finishedAt: r.finished_at ? r.finished_at.toISOString() : null,
  };
}
const toRow = toReleaseRow;

/** Statuses after which a new run of the same release may take the row over. */
const ENDED = `('succeeded', 'failed', 'timed-out', 'rejected', 'expired', 'superseded')`;

/**
 * Writes the workflow's state. Within one run the seq guard keeps writes monotonic (a retried activity carrying
 * an older state never overwrites a newer one); a new run of the same release (a failed release started again)
 * takes the row over only once the previous run has ended.
 */
export async function recordReleaseState(db: Queryable, s: ReleaseState): Promise<void> {
  await db.query(
    `INSERT INTO releases (id, app, env, artifact_id, sha, branch, trigger, released_by, status, gitops_commit, flux_status, error, timeline, run_id, seq, created_at, updated_at,
       flux_outcome, flux_clusters, decisions, waiting, rollback_of, promoted_from, finished_at)
     VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$21,$22,$23,$24)
     ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status,
       gitops_commit = CASE WHEN releases.run_id IS NOT DISTINCT FROM EXCLUDED.run_id
                            THEN COALESCE(EXCLUDED.gitops_commit, releases.gitops_commit) ELSE EXCLUDED.gitops_commit END,
       flux_status = EXCLUDED.flux_status, flux_outcome = EXCLUDED.flux_outcome, flux_clusters = EXCLUDED.flux_clusters, error = EXCLUDED.error,
       timeline = EXCLUDED.timeline, run_id = EXCLUDED.run_id, seq = EXCLUDED.seq,
       trigger = EXCLUDED.trigger, released_by = EXCLUDED.released_by, updated_at = EXCLUDED.updated_at,
       decisions = EXCLUDED.decisions, waiting = EXCLUDED.waiting, rollback_of = EXCLUDED.rollback_of,
       promoted_from = EXCLUDED.promoted_from, finished_at = EXCLUDED.finished_at
     WHERE (releases.run_id IS NOT DISTINCT FROM EXCLUDED.run_id AND releases.seq < EXCLUDED.seq)
        OR (releases.run_id IS DISTINCT FROM EXCLUDED.run_id AND releases.status IN ${ENDED})
        OR releases.run_id IS NULL`,
    [s.id, s.app, s.env, s.artifactId, s.sha, s.branch, s.trigger, s.releasedBy, s.status, s.gitopsCommit, s.fluxStatus, s.error,
      JSON.stringify(s.timeline), s.runId, s.seq, s.createdAt, s.updatedAt, s.fluxOutcome ?? null, s.clusters ? JSON.stringify(s.clusters) : null,
      JSON.stringify(s.decisions ?? []), s.waiting ? JSON.stringify(s.waiting) : null, s.rollbackOf ?? null, s.promotedFrom ?? null, s.finishedAt ?? null],
  );
}

/** The writer records the commit the moment it is pushed, so a Flux event racing the workflow still finds it. */
export async function recordGitopsCommit(db: Db, releaseId: string, commit: string, message?: string): Promise<void> {
  await db.query(
    `UPDATE releases SET gitops_commit = $2, gitops_message = COALESCE($3, gitops_message)
     WHERE id = $1 AND (gitops_commit IS DISTINCT FROM $2 OR gitops_message IS DISTINCT FROM COALESCE($3, gitops_message))`,
    [releaseId, commit, message ?? null],
  );
}

/** The GitOps commit of a release as the writer made it, message and trailers included. */
export async function gitopsCommitOf(db: Db, releaseId: string): Promise<{ sha: string; message: string | null } | null> {
  const r = await db.query<{ gitops_commit: string | null; gitops_message: string | null }>('SELECT gitops_commit, gitops_message FROM releases WHERE id = $1', [releaseId]);
  const row = r.rows[0];
  return row?.gitops_commit ? { sha: row.gitops_commit, message: row.gitops_message } : null;
}

export async function getRelease(db: Db, id: string): Promise<ReleaseRow | null> {
  const r = await db.query<RawRow>(`SELECT ${COLUMNS} FROM releases WHERE id = $1`, [id]);
  return r.rows[0] ? toRow(r.rows[0]) : null;
}

/**
 * Releases waiting for Flux. A release records `reconciling` before it looks at stored events, and an event is
 * stored before this query runs, so every event is seen by one side or the other.
 */
/** Environments any release went to, by name (bounded: a setup page, not a report). */
export async function releasedEnvironments(db: Db): Promise<string[]> {
  const r = await db.query<{ env: string }>('SELECT DISTINCT env FROM releases ORDER BY env LIMIT 200');
  return r.rows.map((x) => x.env);
}

export async function waitingReleases(db: Db): Promise<Array<{ id: string; app: string; env: string; gitopsCommit: string }>> {
  const r = await db.query<{ id: string; app: string; env: string; gitops_commit: string }>(
    `SELECT id, app, env, gitops_commit FROM releases
     WHERE status = 'reconciling' AND gitops_commit IS NOT NULL ORDER BY created_at LIMIT 5000`,
  );
  return r.rows.map((x) => ({ id: x.id, app: x.app, env: x.env, gitopsCommit: x.gitops_commit }));
}
