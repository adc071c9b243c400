// `npm run console:screenshots`: the console's pages as docs/console.md shows them, taken in Debian's Chromium
// against a whole Ferry (the test stack) with a few releases, one of them waiting for approval.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { configEnv, PEOPLE } from '../test/support/gates';
import { makeArtifact, startStack, stopSharedTemporal, type Stack } from '../test/support/stack';

const OUT = path.resolve(__dirname, '..', 'docs', 'console');
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

async function ship(stack: Stack, app: string, env: string, message: string, wait: string[] = ['committed']): Promise<string> {
  const body = makeArtifact({ apps: [{ app, env: 'staging' }, { app, env: 'production' }], sha: randomBytes(20).toString('hex') });
  body.version.message = message;
  const pushed = await stack.api('POST', '/api/artifacts', body);
  const started = await stack.api('POST', '/api/releases', { artifactId: pushed.body.id, env }, { token: PEOPLE.bob });
  await stack.waitForRelease(started.body.id, wait);
  return started.body.id;
}

async function main(): Promise<void> {
  const env = await configEnv({
    staging: {},
    production: { promotion: { from: 'staging' }, approvals: { required: 1, approvers: ['alice', 'carol'], timeout: '72h' } },
  }, { FERRY_AWAIT_FLUX: 'false' });
  const stack = await startStack({ env });
  const browser = await chromium.launch({ executablePath: process.env.FERRY_CHROMIUM ?? '/usr/bin/chromium', args: ARGS });
  try {
    await ship(stack, 'shop', 'staging', 'Show prices with tax');
    await ship(stack, 'cart', 'staging', 'Retry payment once');
    await ship(stack, 'shop', 'staging', 'Faster checkout');
    const gated = await ship(stack, 'shop', 'production', 'Faster checkout', ['awaiting-approval']);
    await fs.mkdir(OUT, { recursive: true });

    for (const [name, viewport] of [['desktop', { width: 1280, height: 760 }], ['phone', { width: 390, height: 844 }]] as const) {
      const page = await (await browser.newContext({ viewport, colorScheme: name === 'phone' ? 'dark' : 'light' })).newPage();
      await page.goto(`${stack.url}/`);
      if (name === 'desktop') await page.screenshot({ path: path.join(OUT, 'sign-in.png') });
      await page.getByLabel('API token').fill(PEOPLE.alice);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.locator('td[data-app="shop"][data-env="production"]').getByRole('button', { name: 'Approve' }).waitFor();
      await page.screenshot({ path: path.join(OUT, `board-${name}.png`), fullPage: name === 'phone' });
      if (name === 'phone') continue;
      await page.goto(`${stack.url}/#/release/${encodeURIComponent(gated)}`);
      await page.getByRole('heading', { name: /shop → production/ }).waitFor();
      await page.screenshot({ path: path.join(OUT, 'release.png'), fullPage: true });
      await page.goto(`${stack.url}/#/history`);
      await page.locator('table.history tbody tr').first().waitFor();
      await page.screenshot({ path: path.join(OUT, 'history.png') });
      await page.goto(`${stack.url}/#/`);
      await page.locator('td[data-app="shop"][data-env="production"]').getByRole('button', { name: 'Approve' }).click();
      await page.getByRole('dialog').waitFor();
      await page.screenshot({ path: path.join(OUT, 'approve.png') });
    }
    process.stdout.write(`screenshots in ${OUT}\n`);
  } finally {
    await browser.close();
    await stack.stop();
    await stopSharedTemporal();
  }
}

main().then(() => process.exit(0), (err) => {
  process.stderr.write(`${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
