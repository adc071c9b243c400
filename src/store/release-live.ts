import type { Db } from './db';

/**
 * The newest Flux reason for a commit since `since`. The release workflow records only the verdict that settles
 * it; this fills in what Flux says meanwhile (Progressing, DependencyNotReady), so people following a release
 * see it move.
 */
export async function latestFluxReason(db: Db, commit: string, since: string): Promise<string | null> {
  const r = await db.query<{ reason: string }>(
    `SELECT reason FROM flux_events WHERE commit_sha = $1 AND received_at >= $2 AND outcome <> 'ignored'
     ORDER BY received_at DESC, id DESC LIMIT 1`,
    [commit, since],
  );
  return r.rows[0]?.reason ?? null;
}
