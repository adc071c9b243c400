import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import express, { Router } from 'express';
import { z } from 'zod';
import { AuthRejection, type Principal } from './auth';
import type { ApiContext } from './context';
import { asyncRoute, HttpError, parseBody } from './errors';
import { clearSessionCookies, csrfRefusal, readCookies, SESSION_COOKIE, setSessionCookies } from './session-cookie';

/**
 * The console's own files: plain ES modules, served as they are (no build step, nothing fetched from elsewhere).
 * `npm run build` copies them beside the compiled API (dist/console), so this path holds in both forms.
 */
const CONSOLE_DIR = path.resolve(__dirname, '..', 'console');

/** Preact and htm, served from Ferry's own node_modules under fixed names; the import map below points at them. */
const VENDOR: Record<string, string> = {
  'preact.mjs': require.resolve('preact'),
  'hooks.mjs': require.resolve('preact/hooks'),
  // htm's main entry is CommonJS; its ES module sits next to it.
  'htm.mjs': path.join(path.dirname(require.resolve('htm')), 'htm.mjs'),
};

const IMPORT_MAP = JSON.stringify({
  imports: { preact: '/console/vendor/preact.mjs', 'preact/hooks': '/console/vendor/hooks.mjs', htm: '/console/vendor/htm.mjs' },
});

function page(): { html: string; csp: string } {
  const template = fs.readFileSync(path.join(CONSOLE_DIR, 'index.html'), 'utf8');
  const importMap = `<script type="importmap">${IMPORT_MAP}</script>`;
  const hash = createHash('sha256').update(IMPORT_MAP).digest('base64');
  // Only Ferry's own origin: no CDN, no inline script but the import map, no framing.
  const csp = [
    "default-src 'none'",
    `script-src 'self' 'sha256-${hash}'`,
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
  return { html: template.replace('<!-- import-map -->', importMap), csp };
}

export const SignInSchema = z.strictObject({ token: z.string().min(1, 'required').max(8192) });

function securityHeaders(res: express.Response, csp?: string): void {
  res.set({
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'x-frame-options': 'DENY',
    'cache-control': 'no-store',
    ...(csp ? { 'content-security-policy': csp } : {}),
  });
}

/**
 * The web console at `/`: the page, its modules, and signing in and out. Everything it shows comes from the same
 * `/api` routes, with the same tokens and roles, through the session cookie (api/session-cookie.ts).
 */
export function consoleRoutes(ctx: ApiContext): Router {
  const r = Router();
  const { html, csp } = page();
  const httpsOnly = ctx.publicUrl?.startsWith('https:') ?? false;

  r.get(['/', '/index.html'], (_req, res) => {
    securityHeaders(res, csp);
    res.type('html').send(html);
  });

  r.get('/console/vendor/:file', (req, res, next) => {
    const file = VENDOR[String(req.params.file)];
    if (!file) return next();
    securityHeaders(res);
    res.type('text/javascript').sendFile(file);
  });

  r.use('/console', (_req, res, next) => {
    securityHeaders(res);
    next();
  }, express.static(CONSOLE_DIR, { index: false, dotfiles: 'deny', redirect: false, fallthrough: true }));

  r.post('/console/session', express.json({ limit: '16kb', strict: true }), asyncRoute(async (req, res) => {
    securityHeaders(res);
    // Signing in from another site would sign the victim into the attacker's account (login CSRF).
    const origin = req.get('origin');
    if (origin !== undefined && (origin === 'null' || safeHost(origin) !== req.get('host'))) throw new HttpError(403, `forbidden: cross-origin sign-in from ${origin}`);
    const { token } = parseBody(SignInSchema, req.body);
    const principal = await signInPrincipal(ctx, token, 'unknown token');
    setSessionCookies(req, res, token, httpsOnly);
    ctx.log.info('console sign-in', { principal: principal.actor });
    res.json({ name: principal.name, actor: principal.actor });
  }));

  // Whether this browser is signed in, without a 401 for the page to log when it is not.
  r.get('/console/session', asyncRoute(async (req, res) => {
    securityHeaders(res);
    const token = readCookies(req).get(SESSION_COOKIE);
    const principal = token ? await ctx.authenticate(token).catch(() => null) : null;
    res.json(principal && principal.grants.length > 0 ? { signedIn: true, name: principal.name } : { signedIn: false, oidc: Boolean(ctx.oidcSignIn) });
  }));

  r.delete('/console/session', (req, res) => {
    securityHeaders(res);
    const refusal = csrfRefusal(req, readCookies(req));
    if (refusal) throw new HttpError(403, `forbidden: ${refusal}`);
    clearSessionCookies(req, res, httpsOnly);
    res.status(204).end();
  });

  return r;
}

/** The principal a console session would act as: refused (401, 403) like a bearer token with no role. */
export async function signInPrincipal(ctx: ApiContext, token: string, unknown: string): Promise<Principal> {
  let principal;
  try {
    principal = await ctx.authenticate(token);
  } catch (err) {
    if (err instanceof AuthRejection) throw new HttpError(401, err.message);
    throw err;
  }
  if (!principal) throw new HttpError(401, unknown);
  if (principal.grants.length === 0) throw new HttpError(403, `forbidden: ${principal.actor} has no Ferry role`);
  return principal;
}

function safeHost(origin: string): string | null {
  try {
    return new URL(origin).host;
  } catch {
    return null;
  }
}
