import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';

export interface Principal {
  name: string;
  role: 'admin' | 'deployer' | 'approver' | 'ci';
}

export type Authenticator = (token: string) => Promise<Principal | null>;

/** Equal-length digests make the comparison constant-time whatever the token's length. */
export function tokensEqual(a: string, b: string): boolean {
  const da = createHash('sha256').update(a).digest();
  const db = createHash('sha256').update(b).digest();
  return timingSafeEqual(da, db);
}

/**
 * The admin token, plus (stopgap until tokens with roles exist, issue 7) named tokens from FERRY_TOKENS_FILE, so
 * approvals, four-eyes checks and trailers see distinct people. Every token is compared, in constant time.
 */
export function adminTokenAuthenticator(adminToken: string, named: Array<{ name: string; token: string }> = []): Authenticator {
  return async (token) => {
    let found: Principal | null = tokensEqual(token, adminToken) ? { name: 'admin', role: 'admin' } : null;
    for (const t of named) if (tokensEqual(token, t.token) && !found) found = { name: t.name, role: 'deployer' };
    return found;
  };
}

declare module 'express-serve-static-core' {
  interface Request {
    principal?: Principal;
  }
}

export function requireToken(authenticate: Authenticator): RequestHandler {
  return (req, res, next) => {
    const header = req.get('authorization') ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match) {
      res.status(401).json({ error: 'missing bearer token (Authorization: Bearer <token>)' });
      return;
    }
    authenticate(match[1]).then(
      (principal) => {
        if (!principal) {
          res.status(401).json({ error: 'unknown or revoked token' });
          return;
        }
        req.principal = principal;
        next();
      },
      next,
    );
  };
}
