import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, durationMs, loadConfig } from '../src/config';

test('FERRY_ROLES: all roles by default, a chosen subset, unknown names refused with the variable named', () => {
  assert.deepEqual(loadConfig({}).roles, ['api', 'release-worker', 'writer']);
  assert.deepEqual(loadConfig({ FERRY_ROLES: ' writer , api,writer' }).roles, ['writer', 'api']);
  assert.throws(() => loadConfig({ FERRY_ROLES: 'api,worker' }), (e: Error) => e instanceof ConfigError && /FERRY_ROLES/.test(e.message));
  assert.throws(() => loadConfig({ FERRY_ROLES: ',' }), ConfigError);
});

test('operations settings have safe defaults and are validated', () => {
  const c = loadConfig({});
  assert.equal(c.shutdownGrace, '20s');
  assert.equal(c.allowClusterScoped, true);
  assert.equal(c.metricsPort, undefined);
  assert.equal(loadConfig({ FERRY_ALLOW_CLUSTER_SCOPED: 'false' }).allowClusterScoped, false);
  assert.throws(() => loadConfig({ FERRY_SHUTDOWN_GRACE: 'soon' }), /FERRY_SHUTDOWN_GRACE/);
  assert.throws(() => loadConfig({ FERRY_TEMPORAL_METRICS_ADDRESS: 'localhost' }), /FERRY_TEMPORAL_METRICS_ADDRESS/);
  assert.equal(durationMs('20s'), 20_000);
  assert.equal(durationMs('15m'), 900_000);
  assert.equal(durationMs('250ms'), 250);
});
