/**
 * The authorization decision for everything that can end in a GitOps commit or change what a later release does.
 * Routes check early for a quick 403, but the places every path goes through (the release starter, the cleanup
 * activity, the artifact store, token/policy/variable writes) ask this module again, with the principal carried
 * in the request, so no path gets around it.
 */
import type { ReleaseTrigger } from '../release/types';
import { deny, type Denial, type Grant, type Principal, type Role } from './roles';
import { inScope, scopeWithin } from './scopes';

/** Where an action lands. `repository` is the artifact's; `app` is the environment file's app (not a preview's name). */
export interface Target {
  env?: string;
  app?: string;
  repository?: string;
}

/**
 * Roles a release needs, by how it began. A promotion or rollback asked for by a person is a deployer's call; an
 * automatic promotion acts for the principal behind the release it promotes, who needs the right to release there
 * (ci or deployer), exactly as if they had released it themselves.
 */
export function rolesForRelease(trigger: ReleaseTrigger, automatic = false): Role[] {
  if (trigger === 'manual' || trigger === 'auto') return ['ci', 'deployer'];
  if (trigger === 'promote' && automatic) return ['ci', 'deployer'];
  return ['deployer'];
}

function scopeDenial(p: Principal, t: Target): Denial | null {
  if (t.repository !== undefined && !inScope(p.repos, t.repository)) {
    return { missing: 'scope', scope: 'repository', value: t.repository, allowed: p.repos ?? [], message: `${p.actor} may act on repositories ${(p.repos ?? []).join(', ')} only, not "${t.repository}"` };
  }
  if (t.app !== undefined && !inScope(p.apps, t.app)) {
    return { missing: 'scope', scope: 'app', value: t.app, allowed: p.apps ?? [], message: `${p.actor} may act on apps ${(p.apps ?? []).join(', ')} only, not "${t.app}"` };
  }
  return null;
}

/** Null when `p` holds one of `roles` for `t.env` and `t` lies within its repository and app scopes. */
export function denial(p: Principal, roles: readonly Role[], t: Target = {}): Denial | null {
  return deny(p, roles, t.env) ?? scopeDenial(p, t);
}

export function releaseDenial(p: Principal, trigger: ReleaseTrigger, t: Required<Pick<Target, 'env' | 'app'>> & Target, automatic = false): Denial | null {
  return denial(p, rolesForRelease(trigger, automatic), t);
}

/** The rights a token (or anything else granted) would carry. */
export interface Rights {
  role: Role;
  envs: string[] | null;
  repos: string[] | null;
  apps: string[] | null;
}

const covers = (g: Grant, role: Role, env: string | null) =>
  (g.role === role || g.role === 'admin') && (g.envs === null || (env !== null && g.envs.includes(env)));

/**
 * Null when `p` may hand out (or take back) `r`: an admin grant of its own covering every environment `r` covers,
 * the role itself held for each of them (an admin grant holds every role), and repository and app scopes no
 * wider than its own. So a token's rights can only shrink along a chain of tokens that create tokens.
 */
export function grantDenial(p: Principal, r: Rights): Denial | null {
  const admins = p.grants.filter((g) => g.role === 'admin');
  if (admins.length === 0) return deny(p, ['admin']);
  const envs = r.envs ?? [null];
  for (const env of envs) {
    if (!admins.some((g) => covers(g, 'admin', env))) {
      const allowed = [...new Set(admins.flatMap((g) => g.envs ?? []))].sort();
      return env === null
        ? { missing: 'env', env: '*', allowed, message: `${p.actor} may grant rights in environment${allowed.length === 1 ? '' : 's'} ${allowed.join(', ')} only; name them in "envs"` }
        : { missing: 'env', env, allowed, message: `${p.actor} may grant rights in environment${allowed.length === 1 ? '' : 's'} ${allowed.join(', ')} only, not "${env}"` };
    }
    if (!p.grants.some((g) => covers(g, r.role, env))) return deny(p, [r.role], env ?? undefined);
  }
  if (!scopeWithin(r.repos, p.repos)) {
    return { missing: 'scope', scope: 'repository', value: (r.repos ?? ['*']).join(', '), allowed: p.repos ?? [], message: `${p.actor} may grant repositories ${(p.repos ?? []).join(', ')} only; name them in "repos"` };
  }
  if (!scopeWithin(r.apps, p.apps)) {
    return { missing: 'scope', scope: 'app', value: (r.apps ?? ['*']).join(', '), allowed: p.apps ?? [], message: `${p.actor} may grant apps ${(p.apps ?? []).join(', ')} only; name them in "apps"` };
  }
  return null;
}

/** Every right there is: the bootstrap admin, or an admin token without environment, repository or app limits. */
export const isUnlimitedAdmin = (p: Principal): boolean =>
  p.repos === null && p.apps === null && p.grants.some((g) => g.role === 'admin' && g.envs === null);

/**
 * Ferry's own automatic actions configured by the operator in FERRY_CONFIG (an automatic rollback to what ran
 * before). They act with every right, under an id nobody can sign in as.
 */
export function systemPrincipal(what: string): Principal {
  return { id: `ferry:${what}`, name: `ferry:${what}`, actor: `ferry:${what}`, role: 'admin', grants: [{ role: 'admin', envs: null }], repos: null, apps: null, via: 'system' };
}
