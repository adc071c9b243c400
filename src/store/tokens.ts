import type { Role } from '../auth/roles';
import type { Db } from './db';

export interface TokenRow {
  id: string;
  name: string;
  owner: string;
  role: Role;
  envs: string[] | null;
  repos: string[] | null;
  apps: string[] | null;
  createdBy: string;
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
  revokedBy: string | null;
  lastUsedAt: string | null;
}

interface Raw {
  id: string; name: string; owner: string; role: Role; envs: string[] | null; repos: string[] | null; apps: string[] | null; secret_hash: string; created_by: string;
  created_at: Date; expires_at: Date | null; revoked_at: Date | null; revoked_by: string | null; last_used_at: Date | null;
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);
const toRow = (r: Raw): TokenRow => ({
  id: r.id, name: r.name, owner: r.owner, role: r.role, envs: r.envs, repos: r.repos, apps: r.apps, createdBy: r.created_by, createdAt: r.created_at.toISOString(),
  expiresAt: iso(r.expires_at), revokedAt: iso(r.revoked_at), revokedBy: r.revoked_by, lastUsedAt: iso(r.last_used_at),
});

export class TokenNameTakenError extends Error {
  constructor(readonly tokenName: string) {
    super(`a live token named "${tokenName}" already exists; revoke it first or pick another name`);
  }
}

export async function insertToken(
  db: Db,
  t: {
    id: string; name: string; owner: string; role: Role; envs: string[] | null; repos: string[] | null; apps: string[] | null;
    secretHash: string; createdBy: string; expiresAt: Date | null;
  },
): Promise<TokenRow> {
  try {
    const r = await db.query<Raw>(
      `INSERT INTO api_tokens (id, name, owner, role, envs, repos, apps, secret_hash, created_by, expires_at)
       VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10) RETURNING *`,
      [t.id, t.name, t.owner, t.role, t.envs, t.repos, t.apps, t.secretHash, t.createdBy, t.expiresAt],
    );
    return toRow(r.rows[0]);
  } catch (err) {
    if ((err as { code?: string }).code === '23505') throw new TokenNameTakenError(t.name);
    throw err;
  }
}

/** The row and its secret digest, for authentication only. */
export async function tokenForAuth(db: Db, id: string): Promise<(TokenRow & { secretHash: string }) | null> {
  const r = await db.query<Raw>('SELECT * FROM api_tokens WHERE id = $1', [id]);
  return r.rows[0] ? { ...toRow(r.rows[0]), secretHash: r.rows[0].secret_hash } : null;
}

export async function listTokens(db: Db, opts: { includeRevoked?: boolean } = {}): Promise<TokenRow[]> {
  const r = await db.query<Raw>(
    `SELECT * FROM api_tokens ${opts.includeRevoked ? '' : 'WHERE revoked_at IS NULL'} ORDER BY created_at DESC, id LIMIT 1000`,
  );
  return r.rows.map(toRow);
}

/** The live token with this id or name, if any. */
export async function liveToken(db: Db, idOrName: string): Promise<TokenRow | null> {
  const r = await db.query<Raw>('SELECT * FROM api_tokens WHERE revoked_at IS NULL AND (id = $1 OR name = $1) ORDER BY (id = $1) DESC LIMIT 1', [idOrName]);
  return r.rows[0] ? toRow(r.rows[0]) : null;
}

/** Revokes one token by id; null when it is no longer live. */
export async function revokeToken(db: Db, id: string, by: string): Promise<TokenRow | null> {
  const r = await db.query<Raw>(
    `UPDATE api_tokens SET revoked_at = now(), revoked_by = $2 WHERE revoked_at IS NULL AND id = $1 RETURNING *`,
    [id, by],
  );
  return r.rows[0] ? toRow(r.rows[0]) : null;
}

/** At most one write a minute per token: enough to see stale tokens, cheap on every request. */
export async function touchToken(db: Db, id: string): Promise<void> {
  await db.query(
    `UPDATE api_tokens SET last_used_at = now() WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')`,
    [id],
  );
}
