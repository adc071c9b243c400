import { createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import { type Grant, mergeGrants, parseGrant, type Principal, strongestRole } from './roles';

export interface OidcConfig {
  issuer: string;
  audience: string;
  jwksUrl: string;
  /** Claim holding the person's Ferry roles: a list (or space/comma separated string) of `role` or `role:env+env`. */
  rolesClaim: string;
  /** Claim naming the person in audit records; `sub` when it is missing. */
  nameClaim: string;
}

export class OidcRejection extends Error {}

/** A compact JWS has three base64url parts; Ferry's own tokens never do, so the two kinds cannot be confused. */
export const looksLikeJwt = (token: string) => /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(token);

/**
 * Verifies people's JWTs against the identity provider's keys (fetched once, refetched when an unknown key id
 * shows up, so key rotation needs no restart) and turns the roles claim into grants.
 */
export function createOidcVerifier(cfg: OidcConfig): (token: string) => Promise<Principal> {
  const jwks = createRemoteJWKSet(new URL(cfg.jwksUrl), { timeoutDuration: 5_000, cooldownDuration: 30_000 });
  return async (token) => {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, jwks, { issuer: cfg.issuer, audience: cfg.audience, clockTolerance: 30 }));
    } catch (err) {
      throw new OidcRejection(`OIDC token rejected: ${describe(err)}`);
    }
    if (typeof payload.sub !== 'string' || payload.sub === '') throw new OidcRejection('OIDC token rejected: claim "sub" missing');
    const grants = mergeGrants(claimValues(payload[cfg.rolesClaim]).map(parseGrant).filter((g): g is Grant => g !== null));
    const named = payload[cfg.nameClaim];
    const name = typeof named === 'string' && named ? named : payload.sub;
    // The subject is unique only within its issuer; the name claim (often an email) need not be unique at all.
    const id = `oidc:${cfg.issuer}#${payload.sub}`;
    return { id, name, actor: `${name} (oidc)`, role: strongestRole(grants), grants, repos: null, apps: null, via: 'oidc' };
  };
}

function claimValues(v: unknown): string[] {
  if (Array.isArray(v)) return v.filter((x): x is string => typeof x === 'string');
  if (typeof v === 'string') return v.split(/[\s,]+/).filter(Boolean);
  return [];
}

function describe(err: unknown): string {
  if (err instanceof joseErrors.JWTExpired) return 'expired';
  if (err instanceof joseErrors.JWTClaimValidationFailed) return `claim "${err.claim}" ${err.reason === 'check_failed' ? 'does not match' : err.reason}`;
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return 'bad signature';
  if (err instanceof joseErrors.JWKSNoMatchingKey) return 'signed by an unknown key';
  if (err instanceof joseErrors.JOSEError) return err.code;
  return 'cannot verify';
}
