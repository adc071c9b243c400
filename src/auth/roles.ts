import { z } from 'zod';
import { NAME_RE } from '../names';

/**
 * Roles are sets of rights, not a ladder: an approver cannot deploy and a deployer cannot approve, so four-eyes
 * rules stay meaningful. `admin` holds every right.
 */
export const ROLES = ['ci', 'deployer', 'approver', 'admin'] as const;
export type Role = (typeof ROLES)[number];
export const RoleSchema = z.enum(ROLES);

/** One role, optionally limited to some environments (null = every environment). */
export interface Grant {
  role: Role;
  envs: string[] | null;
}

/**
 * Who is calling. `id` is the stable identity that four-eyes compares; `name` is the person or bot as approver
 * lists and commit trailers spell it; `actor` is for audit.
 */
export interface Principal {
  /**
   * Stable and unique per identity source: `token-owner:<owner>` (every database token of one owner is one
   * person), `tokens-file:<name>`, `oidc:<issuer>#<subject>`, `bootstrap:admin`, or `ferry:<what>` for Ferry's own
   * automatic actions.
   */
  id: string;
  /** The person or bot as approver lists name them (a token's owner, the OIDC name claim). */
  name: string;
  /** What writes record: the owner plus the token it used, e.g. `ci-bot (token shop-ci)`. */
  actor: string;
  /** The strongest grant, kept for callers that only need one role. */
  role: Role;
  grants: Grant[];
  /** Repositories (`acme/*`) whose artifacts this principal may push and release; null = any. */
  repos: string[] | null;
  /** Apps this principal may release, clean up and configure; null = any. */
  apps: string[] | null;
  via: 'bootstrap' | 'token' | 'oidc' | 'system';
  tokenId?: string;
  tokenName?: string;
}

export const isRole = (v: unknown): v is Role => typeof v === 'string' && (ROLES as readonly string[]).includes(v);

const STRENGTH: Record<Role, number> = { ci: 0, approver: 1, deployer: 2, admin: 3 };
export function strongestRole(grants: Grant[]): Role {
  return grants.reduce<Role>((best, g) => (STRENGTH[g.role] > STRENGTH[best] ? g.role : best), grants[0]?.role ?? 'ci');
}

export type Denial =
  | { missing: 'role'; needed: Role[]; message: string }
  | { missing: 'env'; env: string; allowed: string[]; message: string }
  | { missing: 'scope'; scope: 'repository' | 'app'; value: string; allowed: string[]; message: string }
  | { missing: 'owner'; message: string };

/**
 * Null when one of the principal's grants has one of `roles` (admin always counts) and, when the action targets an
 * environment, covers that environment. Otherwise the reason, worded for the caller.
 */
export function deny(p: Principal, roles: readonly Role[], env?: string): Denial | null {
  const wanted = new Set<Role>([...roles, 'admin']);
  const matching = p.grants.filter((g) => wanted.has(g.role));
  const needed = [...wanted];
  if (matching.length === 0) {
    const have = p.grants.map((g) => g.role).join(', ') || 'none';
    return { missing: 'role', needed, message: `needs role ${needed.join(' or ')}; ${p.actor} has ${have}` };
  }
  if (env === undefined) return null;
  if (matching.some((g) => g.envs === null || g.envs.includes(env))) return null;
  const allowed = [...new Set(matching.flatMap((g) => g.envs ?? []))].sort();
  return { missing: 'env', env, allowed, message: `${p.actor} may act on environment${allowed.length === 1 ? '' : 's'} ${allowed.join(', ')} only, not "${env}"` };
}

/** `deployer`, `deployer:staging`, `deployer:staging+prod`: how OIDC claims (and the CLI) spell a grant. */
export function parseGrant(text: string): Grant | null {
  const [role, envList] = text.trim().split(':', 2);
  if (!isRole(role)) return null;
  if (envList === undefined || envList === '' || envList === '*') return { role, envs: null };
  const envs = envList.split(/[+,]/).map((e) => e.trim()).filter(Boolean);
  if (envs.length === 0 || !envs.every((e) => NAME_RE.test(e))) return null;
  return { role, envs };
}

/** Grants of the same role merge; an unlimited grant wins over a limited one. */
export function mergeGrants(grants: Grant[]): Grant[] {
  const byRole = new Map<Role, Grant>();
  for (const g of grants) {
    const seen = byRole.get(g.role);
    if (!seen) byRole.set(g.role, { role: g.role, envs: g.envs ? [...g.envs] : null });
    else if (seen.envs !== null) seen.envs = g.envs === null ? null : [...new Set([...seen.envs, ...g.envs])].sort();
  }
  return [...byRole.values()];
}
