// The runs behind the recorded histories in test/histories: one per workflow type and outcome. Used by
// scripts/record-histories.ts to write the fixtures, and by test/workflow-fixtures.test.ts to check that today's
// code still issues the commands a fixture holds.
import { as, configEnv, release as gatedRelease } from './gates';
import { fluxEvent, makeArtifact, startStack, type Stack } from './stack';

/** Called once per scenario with the workflow that shows it; `running` for entity workflows that never end. */
export type Keep = (workflowId: string, outcome: string, opts?: { running?: boolean }) => Promise<void>;

/**
 * production promotes automatically from staging, so a successful staging release records an auto-promotion; only
 * prod rolls back automatically; gated needs bob's approval, expiring gives up waiting for it at once.
 */
export async function startRecordingStack(): Promise<Stack> {
  return startStack({
    env: await configEnv({
      staging: {},
      production: { promotion: { from: 'staging', auto: true } },
      prod: { autoRollback: true },
      gated: { approvals: { required: 1, approvers: ['bob'], timeout: '10m' } },
      expiring: { approvals: { required: 1, approvers: ['bob'], timeout: '2s' } },
    }, { FERRY_FLUX_TIMEOUT: '3s' }),
  });
}

async function release(stack: Stack, app: string, manifests?: string, env = 'staging') {
  const pushed = await stack.api('POST', '/api/artifacts', makeArtifact({ apps: [{ app, env, manifests }] }));
  const started = await stack.api('POST', '/api/releases', { artifactId: pushed.body.id, env });
  if (started.status !== 202) throw new Error(JSON.stringify(started.body));
  return { artifactId: pushed.body.id as string, id: started.body.id as string };
}

async function decide(stack: Stack, id: string, what: 'approve' | 'reject'): Promise<void> {
  await stack.waitForRelease(id, ['awaiting-approval']);
  const r = await stack.api('POST', `/api/releases/${encodeURIComponent(id)}/${what}`, { comment: 'recorded' }, as('bob'));
  if (r.status !== 200) throw new Error(JSON.stringify(r.body));
}

/**
 * Waits until the release waits for Flux's word: reconciling, and past its look at events stored before it began
 * waiting (the checkFluxHistory step, a marker in its history). An event posted earlier may be found by that look
 * instead of by the event's own workflow, which then settles nothing: a real race, but one the fixtures must not see.
 */
async function waitingForFlux(stack: Stack, releaseId: string): Promise<string> {
  const row = await stack.waitForRelease(releaseId, ['reconciling']);
  const handle = stack.ferry.temporal.workflow.getHandle(releaseId);
  const deadline = Date.now() + 60_000;
  for (;;) {
    const history = await handle.fetchHistory();
    const checked = (history.events ?? []).some((e) => Object.values(e.markerRecordedEventAttributes?.details ?? {})
      .some((d) => (d.payloads ?? []).some((p) => Buffer.from(p.data ?? []).toString('utf8').includes('"activity_type":"checkFluxHistory"'))));
    if (checked) return row.gitopsCommit as string;
    if (Date.now() > deadline) throw new Error(`release ${releaseId} never looked at stored Flux events`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Flux's word on the release's commit, once the release waits for it. */
async function fluxSays(stack: Stack, releaseId: string, reason: string, env: string) {
  return stack.postFlux(fluxEvent(reason, await waitingForFlux(stack, releaseId), { env }));
}

export async function runScenarios(stack: Stack, keep: Keep): Promise<void> {
  const ok = await release(stack, 'recorded');
  const event = await fluxSays(stack, ok.id, 'ReconciliationSucceeded', 'staging');
  await keep(ok.id, 'succeeded');
  await keep(`flux-event:${event.body.id}`, 'settled');
  await keep(`artifact:${ok.artifactId}`, 'stored');
  await keep(`auto-promote:production:${ok.id}`, 'no-env-file');

  // A lone release claims its lane in PostgreSQL and starts no lane workflow (docs/gates.md); two at once do.
  const pair = await Promise.all([release(stack, 'recorded-pair'), release(stack, 'recorded-pair')]);
  const rows = await Promise.all(pair.map((p) => stack.waitForRelease(p.id, ['timed-out', 'succeeded', 'failed'], 60_000)));
  const queued = rows.find((r) => r.timeline.some((t: { status: string }) => t.status === 'queued'));
  if (!queued) throw new Error('neither release of the pair waited in the lane');
  await keep(queued.id, 'queued-timed-out');
  await keep('lane:recorded-pair:staging', 'two-releases', { running: true });

  const cleanup = await stack.api('POST', '/api/events/branch-deleted', { repository: 'acme/shop', branch: 'feature/gone' });
  if (cleanup.status !== 202) throw new Error(JSON.stringify(cleanup.body));
  await keep(cleanup.body.workflowId ?? cleanup.body.id, 'nothing-to-remove');

  const failedFlux = await release(stack, 'recorded-bad');
  await fluxSays(stack, failedFlux.id, 'HealthCheckFailed', 'staging');
  await keep(failedFlux.id, 'flux-failed');

  const broken = await release(stack, 'recorded-broken', 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: {{ .MISSING }}}\n');
  await keep(broken.id, 'render-failed');

  const slow = await release(stack, 'recorded-slow');
  await keep(slow.id, 'timed-out');

  // Gates: an approval, a rejection, and an approval that never came.
  const approved = await gatedRelease(stack, 'recorded-gate', 'gated', 'alice');
  await decide(stack, approved.releaseId, 'approve');
  await fluxSays(stack, approved.releaseId, 'ReconciliationSucceeded', 'gated');
  await keep(approved.releaseId, 'approved');
  const rejected = await gatedRelease(stack, 'recorded-gate', 'gated', 'alice');
  await decide(stack, rejected.releaseId, 'reject');
  await keep(rejected.releaseId, 'rejected');
  const expired = await gatedRelease(stack, 'recorded-gate', 'expiring', 'alice');
  await keep(expired.releaseId, 'expired');

  // Automatic rollback: a good release, then one Flux fails, which starts one rollback to the good artifact.
  const good = await release(stack, 'recorded-rollback', undefined, 'prod');
  await fluxSays(stack, good.id, 'ReconciliationSucceeded', 'prod');
  await stack.waitForRelease(good.id, ['succeeded']);
  const failing = await release(stack, 'recorded-rollback', undefined, 'prod');
  await fluxSays(stack, failing.id, 'ReconciliationFailed', 'prod');
  await keep(failing.id, 'auto-rolled-back');
  await keep(`auto-rollback:${failing.id}`, 'started');

  // A manual freeze holds a release until it is lifted; the freeze's own workflow tells the targets.
  const freeze = await stack.api('POST', '/api/freezes', { env: 'staging', reason: 'recorded freeze' });
  if (freeze.status !== 201) throw new Error(JSON.stringify(freeze.body));
  const held = await release(stack, 'recorded-frozen');
  await stack.waitForRelease(held.id, ['frozen']);
  await stack.api('DELETE', `/api/freezes/${freeze.body.id}`);
  await fluxSays(stack, held.id, 'ReconciliationSucceeded', 'staging');
  await keep(held.id, 'frozen-lifted');
  await keep(`freeze:${freeze.body.id}`, 'lifted');

  // Gimlet's `release delete`: one commit removing the app's directory.
  const removed = await stack.api('POST', '/api/delete?env=staging&app=recorded-bad');
  if (removed.status !== 200) throw new Error(JSON.stringify(removed.body));
  await keep(removed.body.workflowId, 'removed');
}
