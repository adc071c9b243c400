import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  classifyFluxEvent,
  fluxEventCluster,
  fluxEventCommitSha,
  fluxEventOriginRevision,
  fluxEventRevision,
  FluxEventSchema,
  type FluxEvent,
  type FluxEventOutcome,
} from '../src/flux/event';

const SHA = '9c0e1f3a5b7d9e1f2a4c6e8b0d2f4a6c8e0b2d4f';

function event(over: Partial<FluxEvent> & { kind?: string } = {}): FluxEvent {
  const { kind = 'Kustomization', ...rest } = over;
  return FluxEventSchema.parse({
    involvedObject: {
      kind,
      namespace: 'flux-system',
      name: 'orders',
      uid: '1b7e4c2a-0000-4000-8000-000000000001',
      apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
      resourceVersion: '1001',
    },
    severity: 'info',
    timestamp: '2026-03-02T11:00:00Z',
    reason: 'ReconciliationSucceeded',
    message: 'Reconciliation finished in 2.1s, next run in 10m0s',
    metadata: { revision: `trunk@sha1:${SHA}` },
    reportingController: 'kustomize-controller',
    reportingInstance: 'kustomize-controller-abc-123',
    ...rest,
  });
}

describe('FluxEventSchema', () => {
  it('parses a current notification-controller payload and keeps unknown fields', () => {
    const raw = {
      involvedObject: { kind: 'Kustomization', namespace: 'flux-system', name: 'orders', fieldPath: 'x' },
      severity: 'error',
      timestamp: '2026-03-02T11:00:00+02:00',
      reason: 'HealthCheckFailed',
      message: 'health check failed after 5m0s',
      metadata: { revision: `trunk@sha1:${SHA}`, cluster: 'prod-eu-1' },
      reportingController: 'kustomize-controller',
      futureField: { nested: true },
    };
    const parsed = FluxEventSchema.parse(raw) as FluxEvent & { futureField?: unknown };
    assert.deepEqual(parsed.futureField, { nested: true });
    assert.equal((parsed.involvedObject as { fieldPath?: string }).fieldPath, 'x');
    assert.equal(parsed.reportingInstance, undefined);
  });
  it('accepts a payload without metadata and a trace severity', () => {
    const e = event({ severity: 'trace' });
    const { metadata: _drop, ...rest } = e;
    assert.equal(FluxEventSchema.safeParse(rest).success, true);
  });
  const broken: Array<[string, (e: Record<string, unknown>) => void]> = [
    ['unknown severity', (e) => (e.severity = 'warning')],
    ['missing involvedObject', (e) => delete e.involvedObject],
    ['involvedObject without kind', (e) => delete (e.involvedObject as Record<string, unknown>).kind],
    ['non-string metadata value', (e) => (e.metadata = { revision: 42 })],
    ['garbled timestamp', (e) => (e.timestamp = 'yesterday')],
    ['missing reason', (e) => delete e.reason],
    ['missing message', (e) => delete e.message],
    ['missing reportingController', (e) => delete e.reportingController],
    ['array body', () => undefined],
  ];
  for (const [label, mutate] of broken) {
    it(`rejects ${label}`, () => {
      const raw: Record<string, unknown> = JSON.parse(JSON.stringify(event()));
      mutate(raw);
      assert.equal(FluxEventSchema.safeParse(label === 'array body' ? [raw] : raw).success, false);
    });
  }
});

describe('fluxEventRevision / fluxEventOriginRevision / fluxEventCommitSha', () => {
  const cases: Array<[string, Record<string, string> | undefined, string | undefined, string | null]> = [
    ['stripped key, RFC-0005 value', { revision: `trunk@sha1:${SHA}` }, `trunk@sha1:${SHA}`, SHA],
    [
      'legacy prefixed key and value',
      { 'kustomize.toolkit.fluxcd.io/revision': `main/${SHA}` },
      `main/${SHA}`,
      SHA,
    ],
    ['source prefixed key', { 'source.toolkit.fluxcd.io/revision': `sha1:${SHA}` }, `sha1:${SHA}`, SHA],
    [
      'stripped key wins over prefixed',
      { 'kustomize.toolkit.fluxcd.io/revision': 'main/old', revision: `trunk@sha1:${SHA}` },
      `trunk@sha1:${SHA}`,
      SHA,
    ],
    ['empty revision is absent', { revision: '' }, undefined, null],
    ['no metadata', undefined, undefined, null],
    [
      'OCI digest with originRevision',
      { revision: `v3@sha256:${'ab'.repeat(32)}`, originRevision: `main@sha1:${SHA}` },
      `v3@sha256:${'ab'.repeat(32)}`,
      SHA,
    ],
    ['OCI digest without originRevision', { revision: `sha256:${'ab'.repeat(32)}` }, `sha256:${'ab'.repeat(32)}`, null],
  ];
  for (const [label, metadata, revision, sha] of cases) {
    it(label, () => {
      const e = event();
      if (metadata === undefined) delete e.metadata;
      else e.metadata = metadata;
      assert.equal(fluxEventRevision(e), revision);
      assert.equal(fluxEventCommitSha(e), sha);
    });
  }
  it('reads originRevision', () => {
    const e = event({ metadata: { revision: 'sha256:x', originRevision: SHA } });
    assert.equal(fluxEventOriginRevision(e), SHA);
  });
});

describe('fluxEventCluster', () => {
  it('prefers metadata.cluster (Alert eventMetadata)', () => {
    assert.equal(fluxEventCluster(event({ metadata: { cluster: 'prod-eu-1' } }), 'fallback'), 'prod-eu-1');
  });
  it('falls back when absent or empty', () => {
    assert.equal(fluxEventCluster(event({ metadata: {} }), 'staging'), 'staging');
    assert.equal(fluxEventCluster(event({ metadata: { cluster: '' } }), 'staging'), 'staging');
    assert.equal(fluxEventCluster(event({ metadata: {} })), undefined);
  });
});

describe('classifyFluxEvent', () => {
  const rows: Array<[string, string, FluxEvent['severity'], FluxEventOutcome, boolean]> = [
    // kind, reason, severity → outcome, terminal
    ['Kustomization', 'ReconciliationSucceeded', 'info', 'succeeded', true],
    ['Kustomization', 'Progressing', 'info', 'progressing', false],
    ['Kustomization', 'ProgressingWithRetry', 'info', 'progressing', false],
    ['Kustomization', 'DependencyNotReady', 'info', 'waiting', false],
    ['Kustomization', 'DependencyNotReady', 'error', 'waiting', false],
    // source, access, garbage-collection and status-patch errors: Flux retries them, the release waits
    ['Kustomization', 'ArtifactFailed', 'error', 'waiting', false],
    ['Kustomization', 'BuildFailed', 'error', 'failed', true],
    ['Kustomization', 'ReconciliationFailed', 'error', 'failed', true],
    ['Kustomization', 'PruneFailed', 'error', 'waiting', false],
    ['Kustomization', 'ValidationFailed', 'error', 'failed', true],
    ['Kustomization', 'HealthCheckFailed', 'error', 'unhealthy', true],
    ['Kustomization', 'HealthCheckCanceled', 'info', 'superseded', false],
    ['Kustomization', 'InvalidCELExpression', 'error', 'waiting', false],
    ['Kustomization', 'FeatureGateDisabled', 'error', 'waiting', false],
    ['Kustomization', 'AccessDenied', 'error', 'waiting', false],
    // an error reason not known to be final about the revision: waited out, never a verdict
    ['Kustomization', 'SomethingNew', 'error', 'waiting', false],
    // kustomize-controller's failed status patch
    ['Kustomization', 'Progressing', 'error', 'waiting', false],
    // a failure reason on an info event is a stale Ready reason (e.g. deletion notice)
    ['Kustomization', 'ArtifactFailed', 'info', 'ignored', false],
    ['Kustomization', 'HealthCheckFailed', 'info', 'ignored', false],
    ['Kustomization', 'SomethingNew', 'info', 'progressing', false],
    ['Kustomization', 'ReconciliationSucceeded', 'trace', 'ignored', false],
    ['GitRepository', 'NewArtifact', 'info', 'ignored', false],
    ['GitRepository', 'Succeeded', 'info', 'ignored', false],
    ['GitRepository', 'GitOperationFailed', 'error', 'ignored', false],
    ['OCIRepository', 'ReconciliationSucceeded', 'info', 'ignored', false],
    ['HelmRelease', 'ReconciliationSucceeded', 'info', 'succeeded', true],
    ['HelmRelease', 'TestSucceeded', 'info', 'succeeded', true],
    ['HelmRelease', 'UpgradeSucceeded', 'info', 'progressing', false],
    ['HelmRelease', 'InstallSucceeded', 'info', 'progressing', false],
    ['HelmRelease', 'UpgradeFailed', 'error', 'failed', true],
    ['HelmRelease', 'TestFailed', 'error', 'failed', true],
    ['HelmRelease', 'InstallFailed', 'error', 'failed', true],
    ['HelmRelease', 'ArtifactFailed', 'error', 'waiting', false],
    ['HelmRelease', 'GetLastReleaseFailed', 'error', 'waiting', false],
    ['HelmRelease', 'RollbackSucceeded', 'info', 'failed', true],
    ['HelmRelease', 'UpgradeFailed', 'info', 'ignored', false],
    ['HelmRelease', 'DependencyNotReady', 'info', 'waiting', false],
  ];
  for (const [kind, reason, severity, outcome, terminal] of rows) {
    it(`${kind} ${reason}/${severity} → ${outcome}${terminal ? ' (terminal)' : ''}`, () => {
      const message = `${reason} happened`;
      const got = classifyFluxEvent(event({ kind, reason, severity, message }));
      assert.deepEqual(got, { outcome, terminal, reason, message });
    });
  }
  it('is case-sensitive on kind, as Kubernetes is', () => {
    assert.equal(classifyFluxEvent(event({ kind: 'kustomization' })).outcome, 'ignored');
  });
});
