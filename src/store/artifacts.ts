import type { Db } from './db';
import { type Artifact, artifactDigest } from '../artifact/schema';

export class ArtifactConflictError extends Error {
  constructor(readonly id: string) {
    super(`artifact "${id}" already exists with a different body`);
  }
}

/**
 * Stores an artifact once. Re-pushing the identical body returns the stored one (created=false);
 * a different body under the same id is a conflict. ON CONFLICT keeps this race-free between API replicas.
 */
export interface SavedArtifact {
  artifact: Artifact;
  created: boolean;
  createdAt: string;
}

export async function saveArtifact(
  db: Db,
  artifact: Artifact,
  by: { actor: string; tokenId?: string } = { actor: 'unknown' },
): Promise<SavedArtifact> {
  const hash = artifactDigest(artifact);
  const v = artifact.version;
  // Who pushed is kept beside the body, not in it: the same artifact pushed by two pipelines is still one artifact.
  const inserted = await db.query<{ created_at: Date }>(
    `INSERT INTO artifacts (id, repository, sha, branch, event, tag, body, body_hash, created_by, created_by_token)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (id) DO NOTHING RETURNING created_at`,
    [artifact.id, v.repositoryName, v.sha.toLowerCase(), v.branch ?? '', v.event, v.tag ?? null, artifact, hash, by.actor, by.tokenId ?? null],
  );
  if (inserted.rowCount === 1) return { artifact, created: true, createdAt: inserted.rows[0].created_at.toISOString() };
  const existing = await db.query<{ body: Artifact; body_hash: string; created_at: Date }>(
    'SELECT body, body_hash, created_at FROM artifacts WHERE id = $1',
    [artifact.id],
  );
  const row = existing.rows[0];
  if (!row) throw new Error(`artifact "${artifact.id}" vanished during insert`);
  if (row.body_hash !== hash) throw new ArtifactConflictError(artifact.id);
  return { artifact: row.body, created: false, createdAt: row.created_at.toISOString() };
}

export async function getArtifact(db: Db, id: string): Promise<{ artifact: Artifact; createdAt: string } | null> {
  const r = await db.query<{ body: Artifact; created_at: Date }>('SELECT body, created_at FROM artifacts WHERE id = $1', [id]);
  return r.rows[0] ? { artifact: r.rows[0].body, createdAt: r.rows[0].created_at.toISOString() } : null;
}
