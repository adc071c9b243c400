import type { Request, RequestHandler } from 'express';
import { createOidcVerifier, looksLikeJwt, OidcRejection, type OidcConfig } from '../src/auth/oidc';
import { databaseTokenPrincipal, tokensFilePrincipal } from '../src/auth/principals';
import { type Denial, deny, type Principal, type Role } from '../src/auth/roles';
import { parseToken, secretMatches, secretsEqual } from '../src/auth/tokens';
import type { Logger } from '../src/log';
import type { Db } from '../src/store/db';
import { getRelease } from '../src/store/releases';
import { tokenForAuth, touchToken } from '../src/store/tokens';
import { HttpError } from './errors';
import { csrfRefusal, readCookies, SESSION_COOKIE } from './session-cookie';
import type { NamedToken } from '../src/config-files';

export type { Principal, Role } from '../src/auth/roles';

/** Resolves a bearer token to a principal; null (or a thrown AuthRejection) means 401. */
export type Authenticator = (token: string) => Promise<Principal | null>;

/** A 401 with a reason the caller can act on ("expired", "revoked"). */
export class AuthRejection extends Error {}

/** Kept for callers comparing configured secrets: constant-time whatever the lengths. */
export const tokensEqual = secretsEqual;

/** Only the bootstrap admin token (from FERRY_ADMIN_TOKEN or the data folder). */
export function adminTokenAuthenticator(adminToken: string): Authenticator {
  return async (token) => (secretsEqual(token, adminToken) ? bootstrapAdmin() : null);
}

const bootstrapAdmin = (): Principal => ({
  id: 'bootstrap:admin', name: 'admin', actor: 'admin', role: 'admin', grants: [{ role: 'admin', envs: null }], repos: null, apps: null, via: 'bootstrap',
});

/**
 * The bootstrap admin token, then API tokens from PostgreSQL (read on every request, so a revocation takes effect
 * at once), then, when configured, OIDC JWTs for people.
 */
export function createAuthenticator(opts: { db: Db; adminToken: string; oidc?: OidcConfig; log?: Logger; staticTokens?: NamedToken[] }): Authenticator {
  const verifyJwt = opts.oidc ? createOidcVerifier(opts.oidc) : undefined;
  return async (token) => {
    if (secretsEqual(token, opts.adminToken)) return bootstrapAdmin();
    // Every static token is compared, so the time taken does not tell which one matched.
    let fromFile: NamedToken | undefined;
    for (const t of opts.staticTokens ?? []) if (secretsEqual(token, t.token) && !fromFile) fromFile = t;
    if (fromFile) return tokensFilePrincipal(fromFile);
    const parsed = parseToken(token);
    if (parsed) {
      const row = await tokenForAuth(opts.db, parsed.id);
      if (!row || !secretMatches(parsed.secret, row.secretHash)) return null;
      if (row.revokedAt) throw new AuthRejection(`token "${row.name}" was revoked at ${row.revokedAt}`);
      if (row.expiresAt && Date.parse(row.expiresAt) <= Date.now()) throw new AuthRejection(`token "${row.name}" expired at ${row.expiresAt}`);
      touchToken(opts.db, row.id).catch((err) => opts.log?.warn('could not record token use', { tokenId: row.id, error: String(err) }));
      return databaseTokenPrincipal(row);
    }
    if (verifyJwt && looksLikeJwt(token)) {
      try {
        return await verifyJwt(token);
      } catch (err) {
        if (err instanceof OidcRejection) throw new AuthRejection(err.message);
        throw err;
      }
    }
    return null;
  };
}

/** The credential each request authenticated with, kept off the request object so no serializer ever prints it. */
const credentials = new WeakMap<Request, string>();

/**
 * Whether the credential a request came with would still be accepted now. Most requests end within a second of
 * being authenticated; a long-lived response (the console's event stream) asks this again and again so that a
 * revoked or expired token, or a JWT past its `exp`, stops being served instead of living on until it disconnects.
 */
export async function stillAuthenticated(req: Request, authenticate: Authenticator): Promise<boolean> {
  const token = credentials.get(req);
  if (token === undefined) return false;
  try {
    const principal = await authenticate(token);
    return principal !== null && principal.grants.length > 0;
  } catch {
    // Whatever the reason (revoked, expired, the database unreachable), the caller reconnects and is asked again.
    return false;
  }
}

declare module 'express-serve-static-core' {
  interface Request {
    principal?: Principal;
  }
}

/**
 * `Authorization: Bearer <token>`, or Gimlet's `access_token` query parameter (kept so Gimlet pipelines work
 * unchanged; a header is preferred because URLs end up in proxy logs).
 */
export function requireToken(authenticate: Authenticator): RequestHandler {
  return (req, res, next) => {
    const header = req.get('authorization');
    let token: string | undefined;
    if (header !== undefined) {
      const match = /^Bearer\s+(\S+)$/i.exec(header);
      if (!match) {
        res.status(401).json({ error: 'malformed Authorization header (expected "Bearer <token>")' });
        return;
      }
      token = match[1];
    } else if (typeof req.query.access_token === 'string' && req.query.access_token !== '') {
      token = req.query.access_token;
    } else {
      // The console's sign-in: only ever used when the request carries no explicit credential.
      const cookies = readCookies(req);
      token = cookies.get(SESSION_COOKIE) || undefined;
      const refusal = token ? csrfRefusal(req, cookies) : null;
      if (refusal) {
        res.status(403).json({ error: `forbidden: ${refusal}` });
        return;
      }
    }
    if (!token) {
      res.status(401).json({ error: 'missing bearer token (Authorization: Bearer <token>)' });
      return;
    }
    authenticate(token).then(
      (principal) => {
        if (!principal) {
          res.status(401).json({ error: 'unknown token' });
          return;
        }
        if (principal.grants.length === 0) {
          res.status(403).json({ error: `forbidden: ${principal.actor} has no Ferry role`, missing: { role: ['ci', 'deployer', 'approver', 'admin'] } });
          return;
        }
        req.principal = principal;
        credentials.set(req, token);
        next();
      },
      (err) => {
        if (err instanceof AuthRejection) {
          res.status(401).json({ error: err.message });
          return;
        }
        next(err);
      },
    );
  };
}

/** Throws 403 naming what is missing (a role, or the environment) unless the caller may do this. */
export function authorize(req: Request, roles: readonly Role[], env?: string): Principal {
  const p = req.principal;
  if (!p) throw new HttpError(401, 'missing bearer token (Authorization: Bearer <token>)');
  const d = deny(p, roles, env);
  if (d) throw forbidden(d);
  return p;
}

/** The 403 for a refusal: what is missing (a role, the environment, a repository or app scope), machine-readable. */
export function forbidden(d: Denial, doing?: string): HttpError {
  const missing =
    d.missing === 'role' ? { role: d.needed }
    : d.missing === 'env' ? { env: d.env }
    : d.missing === 'scope' ? { [d.scope === 'repository' ? 'repository' : 'app']: d.value }
    : { owner: true };
  return new HttpError(403, `forbidden: ${doing ? `cannot ${doing}: ` : ''}${d.message}`, {
    missing,
    ...(d.missing === 'env' ? { allowedEnvs: d.allowed } : {}),
    ...(d.missing === 'scope' ? { allowed: d.allowed } : {}),
  });
}

type EnvOf = (req: Request) => string | undefined | Promise<string | undefined>;

/**
 * Route middleware: the caller needs one of `roles` (admin always passes). With `env`, the environment the request
 * acts on must be within the caller's limits; it is read after the JSON body is parsed, e.g.
 * `requireRole(['deployer'], { env: envFromBody })` or, for approvals, an async lookup of the release's env.
 */
export function requireRole(roles: readonly Role[], opts: { env?: EnvOf } = {}): RequestHandler {
  return (req, _res, next) => {
    (async () => {
      const p = authorize(req, roles);
      if (!opts.env) return;
      const limited = p.grants.some((g) => g.envs !== null);
      if (!limited) return;
      const env = await opts.env(req);
      if (typeof env !== 'string' || env === '') {
        // A limited caller must name the environment; unlimited callers get the route's own 400 instead.
        throw new HttpError(400, 'invalid request', { issues: [{ path: 'env', message: 'required to check your environment limits' }] });
      }
      authorize(req, roles, env);
    })().then(() => next(), next);
  };
}

/** Env extractors for `requireRole`. */
export const envFromBody: EnvOf = (req) => (typeof req.body?.env === 'string' ? req.body.env : undefined);
export const envFromQuery: EnvOf = (req) => (typeof req.query.env === 'string' ? req.query.env : undefined);
/** For routes on one release (`/releases/:id/approve`): the environment it deploys to. */
export const envOfRelease = (db: Db): EnvOf => async (req) => (await getRelease(db, String(req.params.id)))?.env;

/** What writes record as their author. */
export const actorOf = (req: Request): string => req.principal?.actor ?? 'unknown';
