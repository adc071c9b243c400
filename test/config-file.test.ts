// FERRY_CONFIG as the one server-side file: gates and promotion next to clusters, reconciliation and
// notifications, checked together and with secrets resolved at start-up.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { ConfigError, loadConfig } from '../src/config';
import { gateConfigOf, resolveGates } from '../src/gates/environments';
import { reconcileSettingsFor } from '../src/reconcile/config';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-config-file-'));
let n = 0;
function file(yaml: string): string {
  const f = path.join(dir, `f${(n += 1)}.yaml`);
  fs.writeFileSync(f, yaml);
  return f;
}

/** The start-up error for a file, which must name FERRY_CONFIG and the file; returns the message. */
function configError(yaml: string, env: Record<string, string> = {}): string {
  const f = file(yaml);
  try {
    loadConfig({ FERRY_CONFIG: f, ...env });
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    assert.ok(err.message.includes(`FERRY_CONFIG (${f})`), err.message);
    return err.message;
  }
  assert.fail('config was accepted');
}

const FULL = `
reconcile: {pollInterval: 5s, publicUrl: "https://ferry.example.com"}
clusters:
  eu: {webhookSecret: {env: EU_SECRET}, kubeconfig: kube/eu.yaml, requestReconcile: annotate}
  us: {webhookSecret: inline-us-secret}
environments:
  staging: {}
  production:
    promotion: {from: staging}
    approvals: {required: 1, approvers: [alice]}
    clusters: [eu, us]
    autoRollback: true
    notifications:
      - {type: slack, url: "https://hooks.slack.test/inline", channel: "#prod"}
      - {type: github, token: {env: GH_TOKEN}}
`;

describe('one file for gates and reconciliation', () => {
  test('an environment carries its gates and its clusters, rollback and notifications side by side', () => {
    const f = file(FULL);
    const c = loadConfig({ FERRY_CONFIG: f, EU_SECRET: 'eu-s3cret', GH_TOKEN: 'ghp_x' });
    assert.equal(resolveGates(c.environments, 'production', { rollback: false }).approvals?.required, 1);
    const s = reconcileSettingsFor(c.reconcile, 'production');
    assert.deepEqual(s, {
      clusters: [{ name: 'eu', poll: true, requestReconcile: true }, { name: 'us', poll: false, requestReconcile: false }],
      autoRollback: true,
      notifications: [{ id: 'production#0', type: 'slack' }, { id: 'production#1', type: 'github' }],
      pollInterval: '5s',
    });
    assert.equal(c.reconcile.clusterSecret('eu'), 'eu-s3cret');
    assert.equal(c.reconcile.clusterSecret('us'), 'inline-us-secret');
    // Relative kubeconfig paths are relative to the file, not to the working directory.
    assert.equal(c.reconcile.file.clusters.eu.kubeconfig, path.join(dir, 'kube/eu.yaml'));
    assert.deepEqual(reconcileSettingsFor(c.reconcile, 'staging'), { clusters: [], autoRollback: false, notifications: [], pollInterval: '5s' });
  });

  test('the gate view that GET /api/environments shows holds no reconcile keys, so no secrets', () => {
    const c = loadConfig({ FERRY_CONFIG: file(FULL), EU_SECRET: 'eu-s3cret', GH_TOKEN: 'ghp_x' });
    const shown = gateConfigOf(c.environments, 'production');
    assert.deepEqual(Object.keys(shown).sort(), ['approvals', 'freezes', 'ordering', 'promotion', 'rollback']);
    assert.ok(!JSON.stringify(shown).includes('hooks.slack.test'));
  });

  test('without FERRY_CONFIG there are no clusters and no notifications', () => {
    const c = loadConfig({});
    assert.deepEqual(c.reconcile.file.clusters, {});
    assert.deepEqual(reconcileSettingsFor(c.reconcile, 'production'), { clusters: [], autoRollback: false, notifications: [], pollInterval: '15s' });
  });
});

describe('bad input stops start-up naming the field', () => {
  test('an environment naming a cluster the file does not define', () => {
    assert.match(configError('environments: {production: {clusters: [eu, ghost]}}\nclusters: {eu: {webhookSecret: x}}'), /environments\.production\.clusters\.1: unknown cluster "ghost"/);
  });

  test('a misspelt reconcile key is refused like a misspelt gate key', () => {
    assert.match(configError('environments: {production: {autoRollbak: true}}'), /environments\.production: .*autoRollbak/);
    assert.match(configError('clusters: {eu: {webhookSecret: x, kubeconfg: k}}'), /clusters\.eu: .*kubeconfg/);
    assert.match(configError('reconcile: {pollInterval: soon}'), /reconcile\.pollInterval: must be a duration/);
    assert.match(configError('environments: {production: {notifications: [{type: pager, url: x}]}}'), /environments\.production\.notifications\.0\.type/);
    // A malformed list is reported as such; the cross-checks do not run over it.
    assert.match(configError('environments: {production: {clusters: eu}}'), /environments\.production\.clusters: /);
  });

  test('cluster settings that cannot work', () => {
    assert.match(configError('clusters: {eu: {webhookSecret: x, requestReconcile: annotate}}'), /clusters\.eu\.requestReconcile: annotate needs a kubeconfig/);
    assert.match(configError('clusters: {eu: {webhookSecret: x, requestReconcile: receiver}}'), /clusters\.eu\.requestReconcile: receiver needs receiverUrl/);
  });

  test('gate and reconcile problems of one file are reported together', () => {
    const msg = configError('environments: {production: {promotion: {from: nowhere}, clusters: [ghost]}}');
    assert.match(msg, /environments\.production\.promotion\.from: environment "nowhere" is not configured/);
    assert.match(msg, /environments\.production\.clusters\.0: unknown cluster "ghost"/);
  });

  test('a secret variable that is not set is named, and no secret value appears', () => {
    const msg = configError(FULL, { GH_TOKEN: 'ghp_x' });
    assert.match(msg, /clusters\.eu: environment variable EU_SECRET is not set/);
    const notify = configError(FULL, { EU_SECRET: 'eu-s3cret' });
    assert.match(notify, /environments\.production\.notifications\.1: environment variable GH_TOKEN is not set/);
    for (const m of [msg, notify]) for (const secret of ['eu-s3cret', 'ghp_x', 'inline-us-secret', 'hooks.slack.test']) assert.ok(!m.includes(secret), m);
  });

  test('FERRY_RECONCILE_CONFIG, folded into FERRY_CONFIG, is refused rather than silently ignored', () => {
    assert.throws(() => loadConfig({ FERRY_RECONCILE_CONFIG: file('clusters: {}') }), (e: Error) => e instanceof ConfigError && /FERRY_RECONCILE_CONFIG .*FERRY_CONFIG/.test(e.message));
  });
});
