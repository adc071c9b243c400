import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { ConfigError, loadConfig } from '../src/config';
import { createLogger } from '../src/log';

test('configuration has documented defaults', () => {
  const c = loadConfig({});
  assert.equal(c.port, 8080);
  assert.equal(c.dataDir, path.resolve('.ferry'));
  assert.equal(c.gitopsBranch, 'main');
  assert.equal(c.awaitFlux, true);
  assert.equal(c.fluxTimeout, '15m');
  assert.equal(c.taskQueue, 'ferry-releases');
  assert.equal(c.writerTaskQueue, 'gitops-writer');
  assert.equal(c.gitopsDirectWrite, 'auto');
});

test('bad values stop start-up naming the variable', () => {
  assert.throws(() => loadConfig({ FERRY_PORT: 'eighty' }), (e: Error) => e instanceof ConfigError && /FERRY_PORT/.test(e.message));
  assert.throws(() => loadConfig({ FERRY_AWAIT_FLUX: 'maybe' }), /FERRY_AWAIT_FLUX/);
  assert.throws(() => loadConfig({ FERRY_FLUX_TIMEOUT: 'soon' }), /FERRY_FLUX_TIMEOUT/);
  assert.throws(() => loadConfig({ FERRY_ADMIN_TOKEN: 'short' }), /FERRY_ADMIN_TOKEN/);
  assert.equal(loadConfig({ FERRY_AWAIT_FLUX: 'false' }).awaitFlux, false);
  assert.throws(() => loadConfig({ FERRY_GITOPS_DIRECT_WRITE: 'yes' }), /FERRY_GITOPS_DIRECT_WRITE/);
  assert.equal(loadConfig({ FERRY_GITOPS_DIRECT_WRITE: 'false' }).gitopsDirectWrite, 'false');
  assert.equal(loadConfig({}).freezeRecheckMs, 300_000);
  assert.equal(loadConfig({ FERRY_FREEZE_RECHECK: '30s' }).freezeRecheckMs, 30_000);
  assert.throws(() => loadConfig({ FERRY_FREEZE_RECHECK: '0s' }), /FERRY_FREEZE_RECHECK/);
  assert.equal(loadConfig({}).doraWindowMs, 30 * 86_400_000);
  assert.throws(() => loadConfig({ FERRY_DORA_WINDOW: '10m' }), /FERRY_DORA_WINDOW/);
});

test('log lines are JSON and never carry secrets', () => {
  const lines: string[] = [];
  const log = createLogger({ write: (l) => lines.push(l) });
  log.info('hello', { releaseId: 'r1', token: 'abc', webhookSecret: 's', authorization: 'Bearer x' });
  const parsed = JSON.parse(lines[0]);
  assert.equal(parsed.msg, 'hello');
  assert.equal(parsed.releaseId, 'r1');
  assert.equal(parsed.token, '[redacted]');
  assert.equal(parsed.webhookSecret, '[redacted]');
  assert.ok(!lines[0].includes('abc') && !lines[0].includes('Bearer x'));
});

test('OIDC settings are all or nothing, with claim defaults', () => {
  assert.equal(loadConfig({}).oidc, undefined);
  assert.throws(() => loadConfig({ FERRY_OIDC_ISSUER: 'https://idp' }), /FERRY_OIDC_ISSUER, FERRY_OIDC_AUDIENCE and FERRY_OIDC_JWKS_URL must be set together/);
  assert.throws(() => loadConfig({ FERRY_OIDC_ISSUER: 'https://idp', FERRY_OIDC_AUDIENCE: 'ferry', FERRY_OIDC_JWKS_URL: 'not a url' }), /FERRY_OIDC_JWKS_URL/);
  const c = loadConfig({ FERRY_OIDC_ISSUER: 'https://idp', FERRY_OIDC_AUDIENCE: 'ferry', FERRY_OIDC_JWKS_URL: 'https://idp/keys' });
  assert.deepEqual(c.oidc, { issuer: 'https://idp', audience: 'ferry', jwksUrl: 'https://idp/keys', rolesClaim: 'ferry_roles', nameClaim: 'email' });
});
