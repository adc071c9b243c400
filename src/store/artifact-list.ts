import type { Artifact } from '../artifact/schema';
import type { ReleaseStatus } from '../release/types';
import type { Db } from './db';
import type { ReleaseRow } from './releases';

export interface ArtifactFilter {
  repository?: string;
  branch?: string;
  event?: string;
  sourceBranch?: string;
  sha?: string[];
  app?: string;
  env?: string;
  since?: Date;
  until?: Date;
  limit: number;
  offset: number;
}

export interface ListedArtifact {
  artifact: Artifact;
  createdAt: string;
  createdBy: string | null;
}

/** Newest first. `sha` matches full ids or prefixes of at least 7 characters. */
export async function listArtifacts(db: Db, f: ArtifactFilter): Promise<ListedArtifact[]> {
  const where: string[] = [];
  const args: unknown[] = [];
  const add = (sql: string, v: unknown) => {
    args.push(v);
    where.push(sql.replace('?', `$${args.length}`));
  };
  if (f.repository) add('repository = ?', f.repository);
  if (f.branch) add('branch = ?', f.branch);
  if (f.event) add('event = ?', f.event);
  if (f.sourceBranch) add("body -> 'version' ->> 'sourceBranch' = ?", f.sourceBranch);
  if (f.sha?.length) {
    args.push(f.sha.map((s) => `${s.toLowerCase()}%`));
    where.push(`sha LIKE ANY ($${args.length}::text[])`);
  }
  const envMatch: Record<string, string> = {};
  if (f.app) envMatch.app = f.app;
  if (f.env) envMatch.env = f.env;
  if (Object.keys(envMatch).length) add("body -> 'environments' @> ?::jsonb", JSON.stringify([envMatch]));
  if (f.since) add('created_at >= ?', f.since);
  if (f.until) add('created_at <= ?', f.until);
  args.push(f.limit, f.offset);
  const r = await db.query<{ body: Artifact; created_at: Date; created_by: string | null }>(
    `SELECT body, created_at, created_by FROM artifacts ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
     ORDER BY created_at DESC, id DESC LIMIT $${args.length - 1} OFFSET $${args.length}`,
    args,
  );
  return r.rows.map((x) => ({ artifact: x.body, createdAt: x.created_at.toISOString(), createdBy: x.created_by }));
}

export type ArtifactReleaseRow = Pick<ReleaseRow, 'id' | 'app' | 'env' | 'status' | 'gitopsCommit' | 'fluxStatus' | 'error' | 'createdAt'>;

/** Every release of one artifact, oldest first (the order they were asked for). */
export async function releasesOfArtifact(db: Db, artifactId: string): Promise<ArtifactReleaseRow[]> {
  const r = await db.query<{ id: string; app: string; env: string; status: ReleaseStatus; gitops_commit: string | null; flux_status: string | null; error: string | null; created_at: Date }>(
    `SELECT id, app, env, status, gitops_commit, flux_status, error, created_at FROM releases
     WHERE artifact_id = $1 ORDER BY created_at, id LIMIT 500`,
    [artifactId],
  );
  return r.rows.map((x) => ({
    id: x.id, app: x.app, env: x.env, status: x.status, gitopsCommit: x.gitops_commit, fluxStatus: x.flux_status, error: x.error,
    createdAt: x.created_at.toISOString(),
  }));
}
