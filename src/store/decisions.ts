import type { Decision } from '../policy/decide';
import type { Db } from './db';

export interface StoredDecision extends Decision {
  releaseId: string | null;
  decidedAt: string;
}

/** Recorded once per artifact and environment file; a retried evaluation overwrites with the same content. */
export async function saveDecision(db: Db, artifactId: string, d: Decision, releaseId: string | null = null): Promise<void> {
  await db.query(
    `INSERT INTO artifact_decisions (artifact_id, app, env, release_app, matched, refused, source, reasons, release_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
     ON CONFLICT (artifact_id, app, env) DO UPDATE SET release_app = EXCLUDED.release_app, matched = EXCLUDED.matched,
       refused = EXCLUDED.refused, source = EXCLUDED.source, reasons = EXCLUDED.reasons,
       release_id = COALESCE(EXCLUDED.release_id, artifact_decisions.release_id), decided_at = now()`,
    [artifactId, d.app, d.env, d.releaseApp, d.matched, d.refused, d.source, JSON.stringify(d.reasons), releaseId],
  );
}

export async function listDecisions(db: Db, artifactId: string): Promise<StoredDecision[]> {
  const r = await db.query<{ app: string; env: string; release_app: string; matched: boolean; refused: boolean; source: Decision['source']; reasons: string[]; release_id: string | null; decided_at: Date }>(
    'SELECT * FROM artifact_decisions WHERE artifact_id = $1 ORDER BY env, app',
    [artifactId],
  );
  return r.rows.map((x) => ({
    app: x.app, env: x.env, releaseApp: x.release_app, matched: x.matched, refused: x.refused, source: x.source,
    reasons: x.reasons, releaseId: x.release_id, decidedAt: x.decided_at.toISOString(),
  }));
}
