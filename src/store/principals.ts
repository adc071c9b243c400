import { databaseTokenPrincipal, principalFromRecord } from '../auth/principals';
import type { Principal } from '../auth/roles';
import type { Db, Queryable } from './db';
import { tokenForAuth } from './tokens';

/** The principal behind a release, recorded when it starts (a restart of a failed release by someone else replaces it). */
export async function recordReleasePrincipal(db: Queryable, releaseId: string, p: Principal): Promise<void> {
  await db.query(
    `INSERT INTO release_principals (release_id, principal) VALUES ($1, $2)
     ON CONFLICT (release_id) DO UPDATE SET principal = EXCLUDED.principal, recorded_at = now()`,
    [releaseId, JSON.stringify(p)],
  );
}

export async function releasePrincipal(db: Db, releaseId: string): Promise<Principal | null> {
  const r = await db.query<{ principal: unknown }>('SELECT principal FROM release_principals WHERE release_id = $1', [releaseId]);
  return principalFromRecord(r.rows[0]?.principal);
}

/**
 * A recorded principal as it stands now, for actions taken later on its behalf (an auto-release, an automatic
 * promotion): a database token is read again, so a revoked or expired token, or one whose rights shrank, acts
 * with what it has now. Other principals keep the rights they had when recorded.
 */
export async function currentRights(db: Db, p: Principal): Promise<{ principal: Principal } | { refused: string }> {
  if (p.via !== 'token' || !p.tokenId) return { principal: p };
  const row = await tokenForAuth(db, p.tokenId);
  if (!row) return { refused: `${p.actor} no longer exists` };
  if (row.revokedAt) return { refused: `${p.actor} was revoked at ${row.revokedAt}` };
  if (row.expiresAt && Date.parse(row.expiresAt) <= Date.now()) return { refused: `${p.actor} expired at ${row.expiresAt}` };
  return { principal: databaseTokenPrincipal(row) };
}
