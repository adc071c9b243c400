import type { Db } from './db';

export interface StoredRender {
  files: Record<string, string>;
  digest: string;
}

/** Rendering is deterministic, so a retried render of the same release simply replaces the row. */
export async function saveRender(db: Db, releaseId: string, render: StoredRender): Promise<void> {
  await db.query(
    `INSERT INTO release_renders (release_id, files, digest) VALUES ($1, $2, $3)
     ON CONFLICT (release_id) DO UPDATE SET files = EXCLUDED.files, digest = EXCLUDED.digest, created_at = now()`,
    [releaseId, JSON.stringify(render.files), render.digest],
  );
}

export async function loadRender(db: Db, releaseId: string): Promise<StoredRender | null> {
  const r = await db.query<{ files: Record<string, string>; digest: string }>(
    'SELECT files, digest FROM release_renders WHERE release_id = $1',
    [releaseId],
  );
  return r.rows[0] ?? null;
}
