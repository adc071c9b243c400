// The console's sign-in through an identity provider (authorization code with PKCE) in Debian's Chromium, against a
// whole Ferry and a local stand-in for the identity provider that records what Ferry sends it.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { exportJWK, generateKeyPair, type KeyLike, SignJWT } from 'jose';
import { type Browser, chromium } from 'playwright-core';
import { startStack, stopSharedTemporal, type Stack } from './support/stack';

const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
const CLIENT_ID = 'ferry-console';

let stack: Stack;
let browser: Browser;
let idp: http.Server;
let idpUrl: string;
let key: KeyLike;
/** What the identity provider saw: authorization requests and token requests. */
const seen: { authorize: URLSearchParams[]; token: URLSearchParams[] } = { authorize: [], token: [] };
/** Codes the stand-in issued: the PKCE challenge and nonce each was issued for. */
const codes = new Map<string, { challenge: string; nonce: string; redirectUri: string }>();
let nextClaims: Record<string, unknown> = { email: 'ada@example.com', ferry_roles: ['approver'] };
let nonceOverride: string | undefined;

async function idToken(nonce: string): Promise<string> {
  return new SignJWT({ ...nextClaims, nonce: nonceOverride ?? nonce })
    .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
    .setIssuer(idpUrl).setAudience(CLIENT_ID).setSubject('user-ada')
    .setIssuedAt().setExpirationTime('10m')
    .sign(key);
}

before(async () => {
  const pair = await generateKeyPair('RS256');
  key = pair.privateKey;
  const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
  idp = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', idpUrl);
    if (url.pathname === '/.well-known/openid-configuration') {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ issuer: idpUrl, authorization_endpoint: `${idpUrl}/authorize`, token_endpoint: `${idpUrl}/token`, jwks_uri: `${idpUrl}/jwks.json` }));
    } else if (url.pathname === '/jwks.json') {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys: [jwk] }));
    } else if (url.pathname === '/authorize') {
      // The person "signs in" at once: back to Ferry with a code.
      seen.authorize.push(url.searchParams);
      const code = `code-${codes.size + 1}`;
      codes.set(code, { challenge: url.searchParams.get('code_challenge') ?? '', nonce: url.searchParams.get('nonce') ?? '', redirectUri: url.searchParams.get('redirect_uri') ?? '' });
      const back = new URL(url.searchParams.get('redirect_uri') ?? '');
      back.searchParams.set('code', code);
      back.searchParams.set('state', url.searchParams.get('state') ?? '');
      res.writeHead(302, { location: back.toString() }).end();
    } else if (url.pathname === '/token' && req.method === 'POST') {
      let raw = '';
      req.on('data', (c) => (raw += c));
      req.on('end', async () => {
        const form = new URLSearchParams(raw);
        seen.token.push(form);
        const issued = codes.get(form.get('code') ?? '');
        const verifier = form.get('code_verifier') ?? '';
        const ok = issued && createHash('sha256').update(verifier).digest('base64url') === issued.challenge && form.get('redirect_uri') === issued.redirectUri;
        res.setHeader('content-type', 'application/json');
        if (!ok) {
          res.statusCode = 400;
          res.end(JSON.stringify({ error: 'invalid_grant' }));
          return;
        }
        codes.delete(form.get('code') ?? '');
        res.end(JSON.stringify({ id_token: await idToken(issued.nonce), token_type: 'Bearer' }));
      });
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((r) => idp.listen(0, '127.0.0.1', r));
  idpUrl = `http://127.0.0.1:${(idp.address() as AddressInfo).port}`;
  stack = await startStack({
    env: {
      FERRY_OIDC_ISSUER: idpUrl,
      FERRY_OIDC_AUDIENCE: CLIENT_ID,
      FERRY_OIDC_JWKS_URL: `${idpUrl}/jwks.json`,
      FERRY_OIDC_CLIENT_ID: CLIENT_ID,
    },
  });
  browser = await chromium.launch({ executablePath: process.env.FERRY_CHROMIUM ?? '/usr/bin/chromium', args: ARGS });
});
after(async () => {
  await browser?.close();
  await stack?.stop();
  idp?.close();
  await stopSharedTemporal();
});

describe('console sign-in through the identity provider', () => {
  test('a person signs in with the identity provider and lands on the board under their name', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('pageerror', (err) => problems.push(err.message));
    await page.goto(`${stack.url}/`);
    await page.getByRole('link', { name: 'Sign in with your identity provider' }).click();
    await page.getByTestId('who').waitFor();
    assert.equal(await page.getByTestId('who').textContent(), 'ada@example.com');

    const asked = seen.authorize.at(-1)!;
    assert.equal(asked.get('code_challenge_method'), 'S256');
    assert.equal(asked.get('client_id'), CLIENT_ID);
    assert.equal(asked.get('redirect_uri'), `${stack.url}/console/oidc/callback`);
    assert.ok((asked.get('state') ?? '').length >= 32 && (asked.get('nonce') ?? '').length >= 32);
    assert.ok((seen.token.at(-1)?.get('code_verifier') ?? '').length >= 43, 'the code is redeemed with the PKCE verifier');
    const cookies = await context.cookies();
    assert.equal(cookies.find((c) => c.name === 'ferry_session')?.httpOnly, true);
    assert.equal(cookies.find((c) => c.name === 'ferry_oidc'), undefined, 'the sign-in flow cookie is gone');
    assert.ok(!page.url().includes('code='), 'the page does not keep the code in its URL');
    assert.deepEqual(problems, []);
    await context.close();
  });

  test('a callback that this browser did not start, or with another state, signs nobody in', async () => {
    // No flow cookie: an attacker's code pasted into a victim's browser.
    const noFlow = await fetch(`${stack.url}/console/oidc/callback?code=code-x&state=abc`);
    assert.equal(noFlow.status, 400);
    assert.ok(!noFlow.headers.getSetCookie().some((c) => c.startsWith('ferry_session=') && !c.startsWith('ferry_session=;')));

    const start = await fetch(`${stack.url}/console/oidc/start`, { redirect: 'manual' });
    assert.equal(start.status, 302);
    const flow = start.headers.getSetCookie().find((c) => c.startsWith('ferry_oidc='))!;
    assert.match(flow, /HttpOnly/);
    assert.match(flow, /SameSite=Lax/);
    const cookie = flow.split(';')[0]!;
    const wrongState = await fetch(`${stack.url}/console/oidc/callback?code=code-x&state=not-the-one`, { headers: { cookie } });
    assert.equal(wrongState.status, 400);
    assert.match(((await wrongState.json()) as { error: string }).error, /state/);
  });

  test('an ID token issued for another sign-in (nonce) or without a Ferry role is refused', async () => {
    const attempt = async () => {
      const start = await fetch(`${stack.url}/console/oidc/start`, { redirect: 'manual' });
      const cookie = start.headers.getSetCookie().find((c) => c.startsWith('ferry_oidc='))!.split(';')[0]!;
      const back = await fetch(start.headers.get('location')!, { redirect: 'manual' });
      const callback = await fetch(back.headers.get('location')!, { headers: { cookie } });
      return { status: callback.status, body: await callback.text(), sessions: callback.headers.getSetCookie().filter((c) => c.startsWith('ferry_session=')) };
    };
    nonceOverride = 'replayed-nonce';
    const replayed = await attempt();
    nonceOverride = undefined;
    assert.equal(replayed.status, 401);
    assert.match(replayed.body, /nonce/);
    assert.deepEqual(replayed.sessions, []);

    nextClaims = { email: 'visitor@example.com' };
    const roleless = await attempt();
    assert.equal(roleless.status, 403);
    assert.deepEqual(roleless.sessions, []);
    nextClaims = { email: 'ada@example.com', ferry_roles: ['approver'] };
  });
});
