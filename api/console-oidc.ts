import { createHash, randomBytes } from 'node:crypto';
import type { Request, Response } from 'express';
import { Router } from 'express';
import type { ApiContext } from './context';
import { asyncRoute, HttpError } from './errors';
import { signInPrincipal } from './console';
import { readCookies, setSessionCookies } from './session-cookie';

/** The sign-in in progress: state, PKCE verifier and nonce, in a short-lived cookie of its own. */
const FLOW_COOKIE = 'ferry_oidc';
const FLOW_MAX_AGE_S = 600;
const CALLBACK = '/console/oidc/callback';

export interface OidcSignInConfig {
  issuer: string;
  clientId: string;
  clientSecret?: string;
  authorizationUrl?: string;
  tokenUrl?: string;
  scopes: string;
}

interface Endpoints {
  authorization: string;
  token: string;
}

const b64url = (b: Buffer) => b.toString('base64url');

/**
 * The console's sign-in through the identity provider: the authorization code flow with PKCE (S256), a `state`
 * bound to this browser and a `nonce` bound to the ID token. The ID token it gets is what the console's session
 * cookie then holds, verified on every request by the same OIDC verifier as any bearer JWT, so the roles claim
 * decides what the person may do. The endpoints come from server configuration or the issuer's discovery document,
 * never from the request.
 */
export function consoleOidcRoutes(ctx: ApiContext): Router {
  const r = Router();
  const configured = ctx.oidcSignIn;
  if (!configured) {
    r.get(['/console/oidc/start', CALLBACK], (_req, _res) => {
      throw new HttpError(404, 'sign-in through an identity provider is not configured (FERRY_OIDC_CLIENT_ID)');
    });
    return r;
  }
  const cfg: OidcSignInConfig = configured;
  let endpoints: Promise<Endpoints> | undefined;
  const discover = (): Promise<Endpoints> => {
    endpoints ??= (async () => {
      if (cfg.authorizationUrl && cfg.tokenUrl) return { authorization: cfg.authorizationUrl, token: cfg.tokenUrl };
      const res = await fetch(`${cfg.issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`, { signal: AbortSignal.timeout(5_000), redirect: 'error' });
      if (!res.ok) throw new Error(`OIDC discovery answered ${res.status}`);
      const doc = (await res.json()) as { authorization_endpoint?: unknown; token_endpoint?: unknown };
      const authorization = cfg.authorizationUrl ?? doc.authorization_endpoint;
      const token = cfg.tokenUrl ?? doc.token_endpoint;
      if (typeof authorization !== 'string' || typeof token !== 'string') throw new Error('OIDC discovery names no authorization or token endpoint');
      return { authorization, token };
    })().catch((err) => {
      endpoints = undefined;
      throw err;
    });
    return endpoints;
  };
  const redirectUri = (req: Request) => `${ctx.publicUrl ?? `${req.protocol}://${req.get('host')}`}${CALLBACK}`;
  const secure = (req: Request) => req.secure || (ctx.publicUrl?.startsWith('https:') ?? false);
  const flowCookie = (req: Request, res: Response, value: string, maxAge: number) => {
    // Lax, not Strict: the identity provider's redirect back to Ferry is a cross-site navigation.
    res.append('Set-Cookie', [`${FLOW_COOKIE}=${value}`, `Path=${CALLBACK}`, `Max-Age=${maxAge}`, 'SameSite=Lax', 'HttpOnly', ...(secure(req) ? ['Secure'] : [])].join('; '));
  };

  r.get('/console/oidc/start', asyncRoute(async (req, res) => {
    const { authorization } = await discover();
    const state = b64url(randomBytes(24));
    const verifier = b64url(randomBytes(32));
    const nonce = b64url(randomBytes(24));
    flowCookie(req, res, `${state}.${verifier}.${nonce}`, FLOW_MAX_AGE_S);
    const url = new URL(authorization);
    url.search = new URLSearchParams({
      response_type: 'code', client_id: cfg.clientId, redirect_uri: redirectUri(req), scope: cfg.scopes, state, nonce,
      code_challenge: b64url(createHash('sha256').update(verifier).digest()), code_challenge_method: 'S256',
    }).toString();
    res.set('cache-control', 'no-store').redirect(302, url.toString());
  }));

  r.get(CALLBACK, asyncRoute(async (req, res) => {
    res.set('cache-control', 'no-store');
    const [state, verifier, nonce] = (readCookies(req).get(FLOW_COOKIE) ?? '').split('.');
    flowCookie(req, res, '', 0);
    if (typeof req.query.error === 'string') throw new HttpError(401, `the identity provider refused the sign-in: ${req.query.error}`);
    if (!state || !verifier || !nonce) throw new HttpError(400, 'no sign-in in progress in this browser (start again from the console)');
    if (typeof req.query.state !== 'string' || req.query.state !== state) throw new HttpError(400, 'state does not match the sign-in this browser started');
    if (typeof req.query.code !== 'string' || req.query.code === '') throw new HttpError(400, 'invalid request', { issues: [{ path: 'code', message: 'required' }] });
    const { token: tokenUrl } = await discover();
    const form = new URLSearchParams({ grant_type: 'authorization_code', code: req.query.code, redirect_uri: redirectUri(req), client_id: cfg.clientId, code_verifier: verifier });
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
    if (cfg.clientSecret) headers.authorization = `Basic ${Buffer.from(`${encodeURIComponent(cfg.clientId)}:${encodeURIComponent(cfg.clientSecret)}`).toString('base64')}`;
    const answer = await fetch(tokenUrl, { method: 'POST', headers, body: form, signal: AbortSignal.timeout(10_000), redirect: 'error' });
    const body = (await answer.json().catch(() => ({}))) as { id_token?: unknown; error?: unknown };
    if (!answer.ok || typeof body.id_token !== 'string') throw new HttpError(401, `the identity provider did not issue an ID token${typeof body.error === 'string' ? `: ${body.error}` : ''}`);
    const idToken = body.id_token;
    const principal = await signInPrincipal(ctx, idToken, 'the ID token is not accepted (check FERRY_OIDC_ISSUER, FERRY_OIDC_AUDIENCE and the JWKS)');
    // The token verified; its nonce must be the one this browser's sign-in asked for (no replayed token).
    const claims = JSON.parse(Buffer.from(idToken.split('.')[1] ?? '', 'base64url').toString('utf8')) as { nonce?: unknown };
    if (claims.nonce !== nonce) throw new HttpError(401, 'the ID token was not issued for this sign-in (nonce)');
    setSessionCookies(req, res, idToken, secure(req));
    ctx.log.info('console sign-in', { principal: principal.actor, via: 'oidc' });
    // A same-site navigation from here on, so the browser sends the Strict session cookie with the console's page.
    res.type('html').set('content-security-policy', "default-src 'none'").send('<!doctype html><meta http-equiv="refresh" content="0;url=/"><a href="/">Continue to Ferry</a>');
  }));

  return r;
}
