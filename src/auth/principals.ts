import type { TokenRow } from '../store/tokens';
import type { Principal, Role } from './roles';
import { normaliseScope } from './scopes';

/** A token from FERRY_TOKENS_FILE, as config-files.ts reads it. */
export interface FileToken {
  name: string;
  roles: Role[];
  envs?: string[] | null;
  repos?: string[] | null;
  apps?: string[] | null;
}

export function tokensFilePrincipal(t: FileToken): Principal {
  return {
    id: `tokens-file:${t.name}`, name: t.name, actor: t.name, role: t.roles[0]!,
    grants: t.roles.map((role) => ({ role, envs: t.envs ? [...t.envs].sort() : null })), repos: normaliseScope(t.repos), apps: normaliseScope(t.apps), via: 'token',
  };
}

/** Every token of one owner is one principal: two tokens of the same person are still one pair of eyes. */
export function databaseTokenPrincipal(row: Pick<TokenRow, 'id' | 'name' | 'owner' | 'role' | 'envs' | 'repos' | 'apps'>): Principal {
  return {
    id: `token-owner:${row.owner}`, name: row.owner, actor: `${row.owner} (token ${row.name})`, role: row.role,
    grants: [{ role: row.role, envs: row.envs }], repos: row.repos, apps: row.apps, via: 'token', tokenId: row.id, tokenName: row.name,
  };
}

/** What is kept of a principal beside an artifact or a release: all of it (it holds no secret). */
export type PrincipalRecord = Principal;

/** Reads a stored record back, refusing anything that is not one (a row written by hand, a future format). */
export function principalFromRecord(v: unknown): Principal | null {
  if (!v || typeof v !== 'object') return null;
  const r = v as Partial<Principal>;
  if (typeof r.id !== 'string' || typeof r.name !== 'string' || typeof r.actor !== 'string' || !Array.isArray(r.grants)) return null;
  return {
    id: r.id, name: r.name, actor: r.actor, role: r.role ?? 'ci', grants: r.grants, repos: r.repos ?? null, apps: r.apps ?? null,
    via: r.via ?? 'token', ...(r.tokenId ? { tokenId: r.tokenId } : {}), ...(r.tokenName ? { tokenName: r.tokenName } : {}),
  };
}
