// The web console in a real browser (Debian's Chromium through playwright-core) against a whole Ferry: sign in with
// a token, read the board, approve a gated release and watch it commit without reloading, roll back, and see that a
// principal without deploy rights gets no deploy buttons. Plus the session cookie's and CSRF protection's edges.
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { after, before, describe, test } from 'node:test';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { consoleRoutes } from '../api/console';
import type { ApiContext } from '../api/context';
import { listen } from '../server/ferry';
import { type Logger, silentLogger } from '../src/log';
import { configEnv, enc, PEOPLE, pushArtifact } from './support/gates';
import { makeArtifact, startStack, stopSharedTemporal, type Stack } from './support/stack';

const CHROMIUM = process.env.FERRY_CHROMIUM ?? '/usr/bin/chromium';
// Without the networking flags Chromium tries to reach Google's services and hangs on a closed network.
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

let stack: Stack;
let browser: Browser;
const logged: string[] = [];
const capture: Logger = {
  debug: (m, f) => logged.push(`${m} ${JSON.stringify(f ?? {})}`),
  info: (m, f) => logged.push(`${m} ${JSON.stringify(f ?? {})}`),
  warn: (m, f) => logged.push(`${m} ${JSON.stringify(f ?? {})}`),
  error: (m, f) => logged.push(`${m} ${JSON.stringify(f ?? {})}`),
} as Logger;
let approverOnly: string;

async function releaseAndWait(app: string, env: string, status = 'committed'): Promise<{ artifactId: string; releaseId: string; sha: string }> {
  // Every artifact carries both environments' files, so it can later be released or promoted to production.
  const body = makeArtifact({ apps: [{ app, env: 'staging' }, { app, env: 'production' }] });
  const pushed = await stack.api('POST', '/api/artifacts', body);
  assert.equal(pushed.status, 201, JSON.stringify(pushed.body));
  const started = await stack.api('POST', '/api/releases', { artifactId: pushed.body.id, env });
  assert.equal(started.status, 202, JSON.stringify(started.body));
  await stack.waitForRelease(started.body.id, [status]);
  return { artifactId: pushed.body.id, releaseId: started.body.id, sha: body.version.sha };
}

async function openPage(): Promise<{ context: BrowserContext; page: Page; problems: string[] }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push(`console error: ${msg.text()}`);
  });
  page.on('request', (req) => {
    if (!req.url().startsWith(stack.url)) problems.push(`request outside Ferry: ${req.url()}`);
  });
  await page.goto(`${stack.url}/`);
  return { context, page, problems };
}

async function signIn(page: Page, token: string): Promise<void> {
  await page.getByLabel('API token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByTestId('who').waitFor();
}

const cell = (page: Page, app: string, env: string) => page.locator(`td[data-app="${app}"][data-env="${env}"]`);

before(async () => {
  const env = await configEnv({
    staging: {},
    production: { promotion: { from: 'staging' }, approvals: { required: 1, approvers: ['alice', 'dave'], timeout: '30m' } },
  }, { FERRY_AWAIT_FLUX: 'false' });
  stack = await startStack({ env, log: capture });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  const created = await stack.api('POST', '/api/tokens', { name: 'dave-approves', owner: 'dave', role: 'approver' });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  approverOnly = created.body.token;
});
after(async () => {
  await browser?.close();
  await stack?.stop();
  await stopSharedTemporal();
});

describe('console in a browser', () => {
  test('sign in, see what runs where, approve a gated release and watch it commit on the board, roll back', async () => {
    const first = await releaseAndWait('shop', 'staging');
    const second = await releaseAndWait('shop', 'staging');
    const gated = await stack.api('POST', '/api/releases', { artifactId: second.artifactId, env: 'production' }, { token: PEOPLE.bob });
    assert.equal(gated.status, 202, JSON.stringify(gated.body));
    await stack.waitForRelease(gated.body.id, ['awaiting-approval']);

    const { context, page, problems } = await openPage();
    await signIn(page, PEOPLE.alice);
    assert.ok(!page.url().includes(PEOPLE.alice), 'the token must never be in the URL');
    const cookies = await context.cookies();
    const session = cookies.find((c) => c.name === 'ferry_session');
    assert.ok(session, 'a session cookie is set');
    assert.equal(session.httpOnly, true);
    assert.equal(session.sameSite, 'Strict');
    assert.equal(await page.evaluate('document.cookie.includes("ferry_session")'), false, 'page scripts cannot read the session');

    // The board: staging runs the second artifact, production waits for approval.
    await cell(page, 'shop', 'staging').getByText(second.sha.slice(0, 7)).first().waitFor();
    const production = cell(page, 'shop', 'production');
    await production.getByText('awaiting-approval').waitFor();
    await production.getByText(/needs 1 approval from alice, dave/).waitFor();
    assert.equal(await production.getByText('not released').count(), 1);

    // Approve with the button; the board shows the commit without a reload (live stream).
    await production.getByRole('button', { name: 'Approve' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByText(/Ferry commits the release to production\/shop\//).waitFor();
    await dialog.getByLabel(/Comment/).fill('looks good');
    await dialog.getByRole('button', { name: 'Approve' }).click();
    await production.locator('.version .sha', { hasText: second.sha.slice(0, 7) }).waitFor({ timeout: 60_000 });
    // The board shows the commit as soon as the writer has pushed it; the workflow records 'committed' a moment later.
    const approved = await stack.waitForRelease(gated.body.id, ['committed']);
    assert.deepEqual(approved.approvals.map((a: { by: string }) => a.by), ['alice']);
    assert.equal(approved.approvals[0].comment, 'looks good');

    // The release page: timeline, decision, the commit with its trailers, the files it changed.
    await production.locator('.version .sha').click();
    await page.getByRole('heading', { name: /shop → production/ }).waitFor();
    await page.getByText(/approve by alice/).waitFor();
    await page.getByText(`Ferry-Release-Id: ${gated.body.id}`).waitFor();
    await page.getByText('[production/shop] release', { exact: false }).first().waitFor();
    await page.locator('.diff summary code', { hasText: 'production/shop/' }).first().waitFor();
    assert.ok(await page.locator('.diff .add').count() > 0, 'a first release shows its files as added lines');

    // Roll staging back to the first artifact through the dialog.
    await page.goto(`${stack.url}/#/`);
    const staging = cell(page, 'shop', 'staging');
    await staging.getByRole('button', { name: 'Roll back…' }).click();
    await page.getByRole('dialog').getByText(/Ferry commits the manifests of/).waitFor();
    await page.getByRole('dialog').getByRole('button', { name: 'Roll back' }).click();
    await staging.locator('.version .sha', { hasText: first.sha.slice(0, 7) }).waitFor({ timeout: 60_000 });

    assert.deepEqual(problems, []);
    await context.close();
  });

  test('an approver without deploy rights sees approve buttons but no promote or roll back', async () => {
    await releaseAndWait('cart', 'staging');
    const pending = await pushArtifact(stack, [{ app: 'cart', env: 'staging' }, { app: 'cart', env: 'production' }]);
    const gated = await stack.api('POST', '/api/releases', { artifactId: pending, env: 'production' });
    assert.equal(gated.status, 202);
    await stack.waitForRelease(gated.body.id, ['awaiting-approval']);

    const { context, page, problems } = await openPage();
    await signIn(page, approverOnly);
    const production = cell(page, 'cart', 'production');
    await production.getByRole('button', { name: 'Approve' }).waitFor();
    assert.equal(await page.getByRole('button', { name: /Promote/ }).count(), 0);
    assert.equal(await page.getByRole('button', { name: /Roll back/ }).count(), 0);
    // An approver may stop the line where they hold the role (a freeze is theirs to call), so that button stays.
    assert.ok(await page.getByRole('button', { name: 'Stop the line' }).count() > 0);

    // The same principal through the API is refused, so hiding the buttons is not the protection.
    const refused = await stack.api('POST', '/api/rollback', { app: 'cart', env: 'staging' }, { token: approverOnly });
    assert.equal(refused.status, 403);

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('API token').waitFor();
    assert.equal((await context.cookies()).find((c) => c.name === 'ferry_session'), undefined);
    assert.deepEqual(problems, []);
    await context.close();
  });

  test('stop the line from the board, see it, lift it; DORA figures per environment', async () => {
    const { context, page, problems } = await openPage();
    await signIn(page, PEOPLE.alice);
    const header = page.locator('th[data-env="production"]');
    await header.getByRole('button', { name: 'Stop the line' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByText(/Every release into production waits/).waitFor();
    await dialog.getByLabel(/Reason/).fill('incident 42');
    await dialog.getByRole('button', { name: 'Freeze' }).click();
    await header.getByText('Frozen by alice: incident 42').waitFor();
    const held = (await stack.api('GET', '/api/freezes')).body.items;
    assert.deepEqual(held.map((f: { env: string; reason: string }) => [f.env, f.reason]), [['production', 'incident 42']]);

    await header.getByRole('button', { name: 'Lift' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Lift' }).click();
    await header.getByText('Frozen by alice').waitFor({ state: 'detached' });
    assert.deepEqual((await stack.api('GET', '/api/freezes')).body.items, []);

    await page.getByRole('link', { name: 'Insights' }).click();
    const staging = page.locator('table.insights tr[data-env="staging"]');
    await staging.waitFor();
    const dora = (await stack.api('GET', '/api/insights/dora?env=staging&days=30')).body;
    assert.equal(await staging.locator('td').first().textContent(), String(dora.deploymentFrequency.deployments));
    await page.getByRole('img', { name: 'Change failure rate' }).waitFor();
    assert.deepEqual(problems, []);
    await context.close();
  });

  test('an open page whose token is revoked goes back to sign-in by itself', async () => {
    const created = await stack.api('POST', '/api/tokens', { name: 'board-watcher', owner: 'frank', role: 'approver' });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const { context, page, problems } = await openPage();
    await signIn(page, created.body.token);
    assert.equal((await stack.api('DELETE', `/api/tokens/${created.body.id}`)).status, 204);
    // The server ends the live stream at its next check, the browser's reconnect is refused, the page asks again.
    await page.getByLabel('API token').waitFor({ timeout: 20_000 });
    assert.equal(await page.getByTestId('who').count(), 0);
    // Chromium reports the refused reconnect and the refused /api/me as failed loads; nothing else may go wrong.
    assert.deepEqual(problems.filter((p) => !/401/.test(p)), []);
    await context.close();
  });

  test('a phone-sized screen shows each app as a card naming its environments', async () => {
    const context = await browser.newContext({ viewport: { width: 390, height: 800 } });
    const page = await context.newPage();
    await page.goto(`${stack.url}/`);
    await signIn(page, PEOPLE.alice);
    const staging = cell(page, 'shop', 'staging');
    await staging.waitFor();
    const box = await staging.boundingBox();
    assert.ok(box && box.width <= 390, `a cell fits the screen (${box?.width}px)`);
    const label = await staging.evaluate((el) => (globalThis as any).getComputedStyle(el, '::before').content);
    assert.equal(label, '"staging"');
    await context.close();
  });
});

describe('console session: abuse', () => {
  const signInCookies = async (token: string) => {
    const res = await fetch(`${stack.url}/console/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token }) });
    assert.equal(res.status, 200);
    const set = res.headers.getSetCookie();
    const jar = Object.fromEntries(set.map((c) => c.split(';')[0]!.split('=') as [string, string]));
    return { set, cookie: `ferry_session=${jar.ferry_session}; ferry_csrf=${jar.ferry_csrf}`, csrf: decodeURIComponent(jar.ferry_csrf!) };
  };

  test('cookies are HttpOnly (session), SameSite=Strict, and not Secure over plain HTTP', async () => {
    const { set } = await signInCookies(PEOPLE.carol);
    const session = set.find((c) => c.startsWith('ferry_session='))!;
    assert.match(session, /HttpOnly/);
    assert.match(session, /SameSite=Strict/);
    assert.doesNotMatch(session, /Secure/);
    assert.doesNotMatch(set.find((c) => c.startsWith('ferry_csrf='))!, /HttpOnly/);
    assert.ok(!logged.some((l) => l.includes(PEOPLE.carol)), 'the token is never logged');
  });

  test('a change through the cookie needs the CSRF header and this origin', async () => {
    const { cookie, csrf } = await signInCookies(PEOPLE.carol);
    const artifact = makeArtifact({ apps: [{ app: 'csrf', env: 'staging' }] });
    const post = (headers: Record<string, string>) => fetch(`${stack.url}/api/artifacts`, { method: 'POST', headers: { cookie, 'content-type': 'application/json', ...headers }, body: JSON.stringify(artifact) });
    const without = await post({});
    assert.equal(without.status, 403);
    assert.match(((await without.json()) as { error: string }).error, /x-ferry-csrf/);
    assert.equal((await post({ 'x-ferry-csrf': 'guess' })).status, 403);
    assert.equal((await post({ 'x-ferry-csrf': csrf, origin: 'https://evil.example' })).status, 403);
    assert.equal((await post({ 'x-ferry-csrf': csrf, origin: 'null' })).status, 403);
    const listed = await stack.api('GET', `/api/artifacts?sha=${artifact.version.sha}`);
    assert.deepEqual(listed.body, [], 'nothing was stored by the refused requests');
    // Reads need no CSRF header; the right header from this origin may change things.
    assert.equal((await fetch(`${stack.url}/api/me`, { headers: { cookie } })).status, 200);
    assert.equal((await post({ 'x-ferry-csrf': csrf, origin: stack.url })).status, 201);
  });

  test('sign-in refuses bad tokens, other origins and junk bodies, and sets no cookie', async () => {
    const attempt = (body: string, headers: Record<string, string> = {}) => fetch(`${stack.url}/console/session`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
    for (const [res, status] of [
      [await attempt(JSON.stringify({ token: 'not-a-token' })), 401],
      [await attempt(JSON.stringify({ token: PEOPLE.alice }), { origin: 'https://evil.example' }), 403],
      [await attempt(JSON.stringify({ token: PEOPLE.alice, extra: 1 })), 400],
      [await attempt('{"token":'), 400],
    ] as const) {
      assert.equal(res.status, status, await res.text());
      assert.deepEqual(res.headers.getSetCookie(), []);
    }
    const revoked = await stack.api('POST', '/api/tokens', { name: 'soon-revoked', owner: 'erin', role: 'approver' });
    const { cookie } = await signInCookies(revoked.body.token);
    assert.equal((await stack.api('DELETE', `/api/tokens/${revoked.body.id}`)).status, 204);
    assert.equal((await fetch(`${stack.url}/api/me`, { headers: { cookie } })).status, 401, 'revoking the token signs the browser out');
  });

  test('the page allows only its own origin, and the console serves only its own files', async () => {
    const page = await fetch(`${stack.url}/`);
    const csp = page.headers.get('content-security-policy') ?? '';
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self' 'sha256-/);
    assert.match(csp, /frame-ancestors 'none'/);
    for (const path of ['/console/vendor/..%2f..%2fpackage.json', '/console/..%2fpackage.json', '/console/vendor/fs.mjs', '/console/.env']) {
      const res = await fetch(`${stack.url}${path}`);
      assert.ok(res.status === 404 || res.status === 403, `${path}: ${res.status}`);
    }
  });
});

describe('console session behind a TLS-terminating proxy', () => {
  test('an https FERRY_PUBLIC_URL marks both cookies Secure; a forged X-Forwarded-Proto does not matter', async () => {
    const app = express();
    const principal = { name: 'alice', actor: 'alice', role: 'approver' as const, grants: [{ role: 'approver' as const, envs: null }], via: 'token' as const };
    app.use(consoleRoutes({ authenticate: async (t: string) => (t === 'good-token' ? principal : null), log: silentLogger, publicUrl: 'https://ferry.example.com' } as unknown as ApiContext));
    const server = await listen(app, 0, '127.0.0.1');
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const res = await fetch(`${url}/console/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: 'good-token' }) });
      assert.equal(res.status, 200);
      for (const c of res.headers.getSetCookie()) assert.match(c, /; Secure/);
      const plain = express();
      plain.use(consoleRoutes({ authenticate: async () => principal, log: silentLogger } as unknown as ApiContext));
      const other = await listen(plain, 0, '127.0.0.1');
      const forged = await fetch(`http://127.0.0.1:${(other.address() as AddressInfo).port}/console/session`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-forwarded-proto': 'https' }, body: JSON.stringify({ token: 'x' }) });
      for (const c of forged.headers.getSetCookie()) assert.doesNotMatch(c, /Secure/);
      other.close();
    } finally {
      server.close();
    }
  });
});
