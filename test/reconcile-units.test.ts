import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { loadConfig } from '../src/config';
import { githubStatus, grafanaAnnotation, type NotifyInput, slackMessage } from '../src/notify/format';
import { reconcileSettingsFor } from '../src/reconcile/config';
import { combineKustomizations, evaluateKustomization } from '../src/reconcile/kustomization-status';
import { fluxSetupManifests } from '../src/reconcile/manifests';
import { VerdictBook } from '../src/reconcile/verdicts';
import { kustomization } from './support/fake-servers';

const X = 'a'.repeat(40);
const CHILD = 'b'.repeat(40);
const OTHER = 'c'.repeat(40);
// CHILD descends from X; OTHER is unrelated (or older).
const covers = async (sha: string) => sha === X || sha === CHILD;

describe('evaluateKustomization (reference §7)', () => {
  const rows: Array<[string, Parameters<typeof kustomization>[2], string, string?]> = [
    ['Ready=True at X', { ready: ['True', 'ReconciliationSucceeded'], applied: `main@sha1:${X}` }, 'succeeded'],
    ['Ready=True at a descendant', { ready: ['True', 'ReconciliationSucceeded'], applied: `main/${CHILD}` }, 'succeeded'],
    ['Ready=True at an unrelated commit', { ready: ['True', 'ReconciliationSucceeded'], applied: `main@sha1:${OTHER}` }, 'pending'],
    ['generation not yet observed', { generation: 2, observed: 1, ready: ['True', 'ReconciliationSucceeded'], applied: `main@sha1:${X}` }, 'pending'],
    ['Ready=False BuildFailed on X', { ready: ['False', 'BuildFailed'], attempted: `main@sha1:${X}` }, 'failed', 'BuildFailed'],
    ['Ready=False HealthCheckFailed on X', { ready: ['False', 'HealthCheckFailed'], attempted: `main@sha1:${X}`, applied: `main@sha1:${OTHER}` }, 'unhealthy', 'HealthCheckFailed'],
    ['Ready=False on an older commit', { ready: ['False', 'ReconciliationFailed'], attempted: `main@sha1:${OTHER}` }, 'pending'],
    ['DependencyNotReady', { ready: ['False', 'DependencyNotReady'], attempted: `main@sha1:${X}` }, 'pending'],
    // Flux retries these on its own; they are the release's state, not its verdict.
    ['Ready=False ArtifactFailed on X (source)', { ready: ['False', 'ArtifactFailed'], attempted: `main@sha1:${X}` }, 'pending'],
    ['Ready=False AccessDenied on X', { ready: ['False', 'AccessDenied'], attempted: `main@sha1:${X}` }, 'pending'],
    ['Ready=False PruneFailed on X', { ready: ['False', 'PruneFailed'], attempted: `main@sha1:${X}` }, 'pending'],
    ['Ready=False ReconciliationFailed on X (apply)', { ready: ['False', 'ReconciliationFailed'], attempted: `main@sha1:${X}` }, 'failed', 'ReconciliationFailed'],
    ['Stalled=True', { ready: ['Unknown', 'Progressing'], stalled: true, attempted: `main@sha1:${CHILD}` }, 'failed', 'InvalidCELExpression'],
    ['still Progressing', { ready: ['Unknown', 'Progressing'], attempted: `main@sha1:${X}` }, 'pending'],
    ['OCI digest revision', { ready: ['True', 'ReconciliationSucceeded'], applied: `v1@sha256:${'d'.repeat(64)}` }, 'pending'],
  ];
  for (const [name, status, outcome, reason] of rows) {
    it(`${name} → ${outcome}`, async () => {
      const v = await evaluateKustomization(kustomization('flux-system', 'apps', status), covers);
      assert.equal(v.outcome, outcome, v.message);
      if (reason) assert.equal(v.reason, reason);
    });
  }
  it('one failing Kustomization fails the cluster; all must succeed', () => {
    const ok = { outcome: 'succeeded' as const, reason: 'ReconciliationSucceeded', message: 'a', revision: X };
    const pending = { outcome: 'pending' as const, reason: 'Progressing', message: 'b', revision: null };
    const bad = { outcome: 'failed' as const, reason: 'BuildFailed', message: 'c', revision: X };
    assert.equal(combineKustomizations([ok, pending]).outcome, 'pending');
    assert.equal(combineKustomizations([ok, pending, bad]).outcome, 'failed');
    assert.equal(combineKustomizations([ok, ok]).outcome, 'succeeded');
  });
});

describe('VerdictBook', () => {
  const v = (cluster: string | null, outcome: 'succeeded' | 'failed' | 'progressing' | 'unhealthy') => ({ outcome, reason: outcome, message: '', revision: X, cluster });
  it('waits for every named cluster and ignores others', () => {
    const b = new VerdictBook(['eu', 'us']);
    assert.equal(b.accept(v('asia', 'succeeded')), false);
    b.accept(v('eu', 'succeeded'));
    assert.equal(b.decided(), undefined);
    assert.deepEqual(b.pending(), ['us']);
    b.accept(v('us', 'succeeded'));
    assert.equal(b.decided()?.outcome, 'succeeded');
  });
  it('fails at the first failing cluster; a cluster\'s final word is never overwritten', () => {
    const b = new VerdictBook(['eu', 'us']);
    b.accept(v('eu', 'unhealthy'));
    assert.equal(b.accept(v('eu', 'succeeded')), false);
    assert.equal(b.decided()?.outcome, 'unhealthy');
  });
  it('without named clusters the first final verdict from anywhere decides', () => {
    const b = new VerdictBook([]);
    b.accept(v(null, 'progressing'));
    assert.equal(b.decided(), undefined);
    b.accept(v('x', 'failed'));
    b.accept(v(null, 'succeeded'));
    assert.equal(b.decided()?.outcome, 'failed');
  });
});

describe('reconcile config', () => {
  /** The reconcile view of a FERRY_CONFIG file holding `yaml`, with secrets resolved from `env`. */
  const parse = (yaml: string, env: Record<string, string>) => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-reconcile-units-')), 'ferry.yaml');
    fs.writeFileSync(file, yaml);
    return loadConfig({ FERRY_CONFIG: file, ...env }).reconcile;
  };
  const yaml = `
clusters:
  prod-eu: {webhookSecret: {env: EU_SECRET}, kubeconfig: /etc/kube/eu, requestReconcile: annotate}
environments:
  prod: {clusters: [prod-eu], autoRollback: true, notifications: [{type: slack, url: {env: SLACK}, channel: "#releases-prod"}, {type: github, token: {env: GH}}]}
`;
  it('resolves secret references and gives workflows settings without secrets', () => {
    const cfg = parse(yaml, { EU_SECRET: 's3', SLACK: 'https://hooks.slack.test/x', GH: 'ghp' });
    assert.equal(cfg.clusterSecret('prod-eu'), 's3');
    assert.equal(cfg.clusterSecret('nope'), undefined);
    const s = reconcileSettingsFor(cfg, 'prod');
    assert.deepEqual(s.clusters, [{ name: 'prod-eu', poll: true, requestReconcile: true }]);
    assert.equal(s.autoRollback, true);
    assert.deepEqual(s.notifications, [{ id: 'prod#0', type: 'slack' }, { id: 'prod#1', type: 'github' }]);
    assert.ok(!JSON.stringify(s).includes('s3') && !JSON.stringify(s).includes('hooks.slack'));
    assert.equal(cfg.target('prod#0')?.type, 'slack');
    assert.deepEqual(reconcileSettingsFor(cfg, 'dev').clusters, []);
  });
  it('names the missing variable, never a value, and refuses unknown clusters', () => {
    assert.throws(() => parse(yaml, { SLACK: 'x', GH: 'y' }), /EU_SECRET is not set/);
    assert.throws(() => parse('environments: {prod: {clusters: [ghost]}}', {}), /environments\.prod\.clusters\.0: unknown cluster "ghost"/);
    assert.throws(() => parse('clusters: {a: {webhookSecret: x, requestReconcile: annotate}}', {}), /annotate needs a kubeconfig/);
  });
  it('prints setup manifests with a placeholder secret', () => {
    const cfg = parse(yaml, { EU_SECRET: 's3', SLACK: 'x', GH: 'y' });
    const text = fluxSetupManifests({ cluster: 'prod-eu', webhookSecret: cfg.file.clusters['prod-eu']!.webhookSecret, publicUrl: 'https://ferry.test/', envs: [] });
    assert.match(text, /address: https:\/\/ferry.test\/api\/flux\/events\/prod-eu/);
    assert.match(text, /<value of EU_SECRET on the Ferry server>/);
    assert.ok(!text.includes('s3'));
  });
});

describe('notification formats', () => {
  const n: NotifyInput = {
    event: 'finished',
    release: { id: 'r', app: 'shop', env: 'prod', status: 'timed-out', artifactId: 'a', gitopsCommit: X, fluxStatus: null, error: 'timed out', releasedBy: 'ada', trigger: 'manual', createdAt: '2026-01-01T00:00:00Z', updatedAt: '2026-01-01T00:02:05Z' },
    source: { sha: X, repositoryName: 'acme/shop', tag: 'v1.2.0', authorName: 'Ada' },
  };
  it('Slack shows version, duration and a GitHub commit link', () => {
    const text = JSON.stringify(slackMessage(n, '#releases-prod'));
    for (const want of ['v1.2.0', '2m 5s', `https://github.com/acme/shop/commit/${X}`, '#releases-prod', 'timed out']) assert.ok(text.includes(want), want);
  });
  it('GitHub: pending at start, error when timed out, context ferry/<env>', () => {
    assert.equal(githubStatus({ ...n, event: 'started' })?.body.state, 'pending');
    assert.deepEqual(githubStatus(n)?.body.context, 'ferry/prod');
    assert.equal(githubStatus(n)?.body.state, 'error');
    assert.equal(githubStatus({ ...n, source: { ...n.source, repositoryName: 'not a repo' } }), null);
  });
  it('Grafana spans the release', () => {
    const a = grafanaAnnotation(n);
    assert.equal((a.timeEnd as number) - (a.time as number), 125_000);
  });
});
