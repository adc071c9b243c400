import type { Db } from './db';

export interface PreviewApp {
  env: string;
  /** The preview's own app name, `<app>-<branch>`. */
  app: string;
  repository: string;
  branch: string;
  /** The environment file's app it was made from. */
  sourceApp: string;
  artifactId: string;
  releaseId: string;
  /** The principal id that started it. */
  createdBy: string;
}

/** Recorded when a preview release starts: what a later branch deletion may remove. */
export async function recordPreview(db: Db, p: PreviewApp): Promise<void> {
  await db.query(
    `INSERT INTO preview_apps (env, app, repository, branch, source_app, artifact_id, release_id, created_by)
     VALUES ($1,$2,$3,$4,$5,$6,$7,$8) ON CONFLICT (repository, branch, env, app) DO NOTHING`,
    [p.env, p.app, p.repository, p.branch, p.sourceApp, p.artifactId, p.releaseId, p.createdBy],
  );
}

/** The previews that artifacts of this repository and branch created. */
export async function previewsOf(db: Db, repository: string, branch: string): Promise<PreviewApp[]> {
  const r = await db.query<{ env: string; app: string; repository: string; branch: string; source_app: string; artifact_id: string; release_id: string; created_by: string }>(
    'SELECT * FROM preview_apps WHERE repository = $1 AND branch = $2 ORDER BY env, app',
    [repository, branch],
  );
  return r.rows.map((x) => ({
    env: x.env, app: x.app, repository: x.repository, branch: x.branch, sourceApp: x.source_app, artifactId: x.artifact_id, releaseId: x.release_id, createdBy: x.created_by,
  }));
}

/**
 * Why a preview of this repository and branch may not take the name `app` in `env`: an app released there that
 * no preview created (a real app whose name the branch happens to produce), or another repository's or branch's
 * preview. Null when the name is free or already this branch's preview.
 */
export async function previewClash(db: Db, p: { env: string; app: string; repository: string; branch: string }): Promise<string | null> {
  const owners = await db.query<{ repository: string; branch: string }>('SELECT repository, branch FROM preview_apps WHERE env = $1 AND app = $2', [p.env, p.app]);
  const other = owners.rows.find((o) => o.repository !== p.repository || o.branch !== p.branch);
  if (other) return `preview "${p.app}" in ${p.env} belongs to branch "${other.branch}" of ${other.repository}`;
  if (owners.rows.length > 0) return null;
  const released = await db.query('SELECT 1 FROM releases WHERE app = $1 AND env = $2 LIMIT 1', [p.app, p.env]);
  if ((released.rowCount ?? 0) > 0) return `"${p.app}" in ${p.env} is an app that is not a preview; a preview may not take its name`;
  return null;
}
