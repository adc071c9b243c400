import type { Db } from './db';
import { type Artifact, artifactDigest } from '../artifact/schema';
import { principalFromRecord } from '../auth/principals';
import type { Principal } from '../auth/roles';
import { inScope } from '../auth/scopes';

export class ArtifactConflictError extends Error {
  constructor(readonly id: string) {
    super(`artifact "${id}" already exists with a different body`);
  }
}

/** The pusher may not store this artifact; `status` is the HTTP answer (403 scope, 409 squatting). */
export class ArtifactRefusedError extends Error {
  constructor(readonly status: 403 | 409, message: string, readonly details: Record<string, unknown> = {}) {
    super(message);
  }
}

/**
 * Stores an artifact once. Re-pushing the identical body returns the stored one (created=false);
 * a different body under the same id is a conflict. ON CONFLICT keeps this race-free between API replicas.
 *
 * The pusher's principal is kept beside the artifact, because an auto-release acts with exactly its rights. Refused
 * before anything is written: a repository outside the pusher's repository scope, and a commit already stored for
 * another repository the pusher may not act on (someone claiming that commit under another name, so that a lookup
 * by sha finds theirs).
 */
export interface SavedArtifact {
  artifact: Artifact;
  created: boolean;
  createdAt: string;
}

export async function saveArtifact(
  db: Db,
  artifact: Artifact,
  by: { actor: string; tokenId?: string; pusher: Principal },
): Promise<SavedArtifact> {
  const hash = artifactDigest(artifact);
  const v = artifact.version;
  const sha = v.sha.toLowerCase();
  const p = by.pusher;
  if (!inScope(p.repos, v.repositoryName)) {
    throw new ArtifactRefusedError(403, `forbidden: ${p.actor} may push artifacts of repositories ${(p.repos ?? []).join(', ')} only, not "${v.repositoryName}"`, {
      missing: { repository: v.repositoryName }, allowed: p.repos ?? [],
    });
  }
  const others = await db.query<{ repository: string }>(
    'SELECT DISTINCT repository FROM artifacts WHERE sha = $1 AND repository <> $2 LIMIT 100',
    [sha, v.repositoryName],
  );
  const foreign = others.rows.map((r) => r.repository).filter((repo) => !inScope(p.repos, repo));
  if (foreign.length > 0) {
    throw new ArtifactRefusedError(409, `commit ${sha} is already stored for repository ${foreign.join(', ')}, which ${p.actor} may not act on`, {
      issues: [{ path: 'version.sha', message: `already stored for ${foreign.join(', ')}` }],
    });
  }
  // Who pushed is kept beside the body, not in it: the same artifact pushed by two pipelines is still one artifact.
  const inserted = await db.query<{ created_at: Date }>(
    `INSERT INTO artifacts (id, repository, sha, branch, event, tag, body, body_hash, created_by, created_by_token, pushed_by, source_created_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT (id) DO NOTHING RETURNING created_at`,
    [artifact.id, v.repositoryName, sha, v.branch ?? '', v.event, v.tag ?? null, artifact, hash, by.actor, by.tokenId ?? null, JSON.stringify(p), sourceCommitTime(v.created)],
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

/**
 * The source commit's time from `version.created`: unix seconds as Gimlet's clients send it, milliseconds, or an ISO
 * date-time. Anything else leaves the artifact without one (and its releases without a lead time).
 */
export function sourceCommitTime(created: string | number | undefined): string | null {
  if (created === undefined) return null;
  let ms: number;
  if (typeof created === 'number' || /^\d+(\.\d+)?$/.test(created)) {
    const n = Number(created);
    ms = n > 1e11 ? n : n * 1000;
  } else {
    ms = /^\d{4}-\d{2}-\d{2}T/.test(created) ? Date.parse(created) : Number.NaN;
  }
  // Year 2000 to a day ahead of now: outside that it is not a commit time but a mistake.
  if (!Number.isFinite(ms) || ms < 946_684_800_000 || ms > Date.now() + 86_400_000) return null;
  return new Date(ms).toISOString();
}

export async function getArtifact(db: Db, id: string): Promise<{ artifact: Artifact; createdAt: string } | null> {
  const r = await db.query<{ body: Artifact; created_at: Date }>('SELECT body, created_at FROM artifacts WHERE id = $1', [id]);
  return r.rows[0] ? { artifact: r.rows[0].body, createdAt: r.rows[0].created_at.toISOString() } : null;
}

/** The principal that first stored the artifact; null for artifacts stored before pushers were recorded. */
export async function artifactPusher(db: Db, id: string): Promise<Principal | null> {
  const r = await db.query<{ pushed_by: unknown }>('SELECT pushed_by FROM artifacts WHERE id = $1', [id]);
  return principalFromRecord(r.rows[0]?.pushed_by);
}
