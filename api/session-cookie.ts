import { randomBytes } from 'node:crypto';
import type { Request, Response } from 'express';
import { secretsEqual } from '../src/auth/tokens';

/**
 * The console keeps its sign-in in cookies instead of in the page: `ferry_session` holds the API token (HttpOnly,
 * so no script of the page can read it, and it never appears in a URL or a log line), `ferry_csrf` a random value
 * the page must echo in the `X-Ferry-CSRF` header of every request that changes something (double submit: another
 * site can make the browser send the cookies, but cannot read `ferry_csrf` to echo it). Both are SameSite=Strict,
 * and Secure when the request came over HTTPS or people reach Ferry at an https FERRY_PUBLIC_URL. The token is authenticated on every request exactly like a bearer
 * token, so revoking it signs the browser out at once.
 */
export const SESSION_COOKIE = 'ferry_session';
export const CSRF_COOKIE = 'ferry_csrf';
export const CSRF_HEADER = 'x-ferry-csrf';
/** A browser session lasts at most this long; the token's own expiry still applies within it. */
const SESSION_MAX_AGE_S = 12 * 60 * 60;

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export function readCookies(req: Request): Map<string, string> {
  const out = new Map<string, string>();
  const header = req.headers.cookie;
  if (!header) return out;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const name = part.slice(0, eq).trim();
    const raw = part.slice(eq + 1).trim();
    if (out.has(name)) continue;
    try {
      out.set(name, decodeURIComponent(raw));
    } catch {
      // A malformed value is treated as absent rather than failing the request.
    }
  }
  return out;
}

function cookie(name: string, value: string, opts: { httpOnly: boolean; secure: boolean; maxAge: number }): string {
  return [
    `${name}=${encodeURIComponent(value)}`,
    'Path=/',
    `Max-Age=${opts.maxAge}`,
    'SameSite=Strict',
    ...(opts.httpOnly ? ['HttpOnly'] : []),
    ...(opts.secure ? ['Secure'] : []),
  ].join('; ');
}

export function setSessionCookies(req: Request, res: Response, token: string, httpsOnly = false): string {
  const csrf = randomBytes(32).toString('base64url');
  const secure = req.secure || httpsOnly;
  res.append('Set-Cookie', cookie(SESSION_COOKIE, token, { httpOnly: true, secure, maxAge: SESSION_MAX_AGE_S }));
  res.append('Set-Cookie', cookie(CSRF_COOKIE, csrf, { httpOnly: false, secure, maxAge: SESSION_MAX_AGE_S }));
  return csrf;
}

export function clearSessionCookies(req: Request, res: Response, httpsOnly = false): void {
  const secure = req.secure || httpsOnly;
  res.append('Set-Cookie', cookie(SESSION_COOKIE, '', { httpOnly: true, secure, maxAge: 0 }));
  res.append('Set-Cookie', cookie(CSRF_COOKIE, '', { httpOnly: false, secure, maxAge: 0 }));
}

/**
 * Why a request that authenticates with the session cookie may not change anything, or null when it may: safe
 * methods always may; others must echo the CSRF cookie in the header and, when the browser names an Origin, come
 * from this very host.
 */
export function csrfRefusal(req: Request, cookies: Map<string, string>): string | null {
  if (SAFE_METHODS.has(req.method)) return null;
  const expected = cookies.get(CSRF_COOKIE);
  const sent = req.get(CSRF_HEADER);
  if (!expected || !sent || !secretsEqual(expected, sent)) return `missing or wrong ${CSRF_HEADER} header for a cookie-authenticated request`;
  const origin = req.get('origin');
  if (origin !== undefined && origin !== 'null') {
    let host: string;
    try {
      host = new URL(origin).host;
    } catch {
      return 'malformed Origin header';
    }
    if (host !== req.get('host')) return `cross-origin request from ${origin}`;
  } else if (origin === 'null') {
    return 'opaque Origin';
  }
  return null;
}
