// Conformance with Gimlet's real clients. test/fixtures/gimlet/<client>/exchanges.json holds every HTTP exchange
// of Gimlet's CLI and GitHub Action (built from gimlet-io/gimlet at tag cli-v0.25.0 and at 8ad151ed) running a
// whole pipeline against Ferry (docs/gimlet.md says how they were recorded); gimlet-replay-*.test.ts replay them.
// This file checks the recordings decode with Gimlet's Go types (test/support/gimlet-types.ts), and what the
// recordings cannot show: auto-deploy and artifact identity through Gimlet's route, and abuse of release delete.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ANSWER_TYPES, decodeAs } from './support/gimlet-types';
import { answerType, clients, load, simulateFlux } from './support/gimlet-replay';
import { configEnv, PEOPLE } from './support/gates';
import { makeArtifact, startStack, stopSharedTemporal, type Stack } from './support/stack';

let stack: Stack;
let stopFlux: (() => Promise<void>) | undefined;
before(async () => {
  const now = Date.now();
  const env = await configEnv({
    staging: {},
    production: { approvals: { required: 1, approvers: ['bob'], timeout: '10m' } },
    launch: { freezes: [{ name: 'launch day', from: new Date(now - 3600_000).toISOString(), to: new Date(now + 3600_000).toISOString() }] },
  }, { FERRY_FLUX_TIMEOUT: '5m' });
  stack = await startStack({ env });
  stopFlux = simulateFlux(stack);
});
after(async () => {
  await stopFlux?.();
  await stack?.stop();
  await stopSharedTemporal();
});

describe("Gimlet's CLI and Action", () => {
  test('fixtures were recorded for both pinned clients', () => {
    assert.deepEqual(clients, ['cli-v0.25.0', 'head-8ad151ed']);
  });

  test('every recorded answer decodes into the Go type the CLI reads it as', () => {
    for (const client of clients) {
      for (const x of load(client)) {
        const type = answerType(x);
        if (type) assert.deepEqual(decodeAs(x.response.body, type), [], `${client} ${x.step}: ${x.request.method} ${x.request.path}`);
      }
    }
  });

  test('the type check catches what broke Gimlet clients before', () => {
    assert.notDeepEqual(decodeAs([{ id: 'a', version: { created: '2026-11-23T10:00:00Z' } }], ANSWER_TYPES.artifactList), []);
    assert.notDeepEqual(decodeAs({ items: [], nextBefore: null }, ANSWER_TYPES.releaseList), []);
    assert.notDeepEqual(decodeAs([{ environments: [{ json6902Patches: [{ patch: [{ op: 'remove' }] }] }] }], ANSWER_TYPES.artifactList), []);
    assert.deepEqual(decodeAs([{ id: 'a', created: 1795428000, version: { created: 1795428000, event: 'push' }, unknownField: { x: 1 } }], ANSWER_TYPES.artifactList), []);
  });

  test('POST /api/artifact auto-deploys like POST /api/artifacts; a re-run is a new artifact, a retry the same', async () => {
    const artifact = { ...makeArtifact({ apps: [{ app: 'web', env: 'staging' }] }), vars: { IMAGE: 'r/web', GITHUB_RUN_ATTEMPT: '1', 'docker-image': 'r/web:1' } };
    artifact.environments[0] = { ...artifact.environments[0]!, deploy: { branch: 'main', event: 'push' }, chart: { name: '' } } as never;
    const first = await stack.api('POST', '/api/artifact', artifact);
    assert.equal(first.status, 201, JSON.stringify(first.body));
    assert.equal(typeof first.body.version.created, 'number');
    const retry = await stack.api('POST', '/api/artifact', artifact);
    assert.deepEqual([retry.status, retry.body.id], [200, first.body.id]);
    const rerun = await stack.api('POST', '/api/artifact', { ...artifact, vars: { ...artifact.vars, GITHUB_RUN_ATTEMPT: '2' } });
    assert.equal(rerun.status, 201);
    assert.notEqual(rerun.body.id, first.body.id);
    // Both artifacts released web to staging by policy; with Flux answering, both end.
    let track = await stack.api('GET', `/api/eventArtifactTrack?artifactId=${first.body.id}`);
    for (let i = 0; i < 600 && !(track.body.status === 'processed' && track.body.results[0]?.gitopsCommitStatus === 'ReconciliationSucceeded'); i++) {
      await new Promise((r) => setTimeout(r, 100));
      track = await stack.api('GET', `/api/eventArtifactTrack?artifactId=${first.body.id}`);
    }
    assert.equal(track.body.status, 'processed', JSON.stringify(track.body));
    assert.deepEqual(track.body.results.map((r: any) => [r.app, r.env, r.status, r.gitopsCommitStatus]), [['web', 'staging', 'success', 'ReconciliationSucceeded']]);
    const decisions = await stack.api('GET', `/api/artifacts/${first.body.id}/decisions`);
    assert.equal(decisions.status, 200);
  });

  test("release delete: one commit removing the app, the deployer's call, never in a gated or frozen environment", async () => {
    const pushed = await stack.api('POST', '/api/artifact', makeArtifact({ apps: [{ app: 'cart', env: 'staging' }] }));
    const started = await stack.api('POST', '/api/releases', { env: 'staging', app: 'cart', artifactId: pushed.body.id });
    const row = await stack.waitForRelease(started.body.id, ['reconciling', 'succeeded']);
    assert.ok(stack.git('ls-tree', '--name-only', 'main', 'staging/').split('\n').includes('staging/cart'));
    const ci = (await stack.api('POST', '/api/tokens', { name: 'delete-ci', role: 'ci' })).body.token;
    const stagingOnly = (await stack.api('POST', '/api/tokens', { name: 'delete-staging', role: 'deployer', envs: ['staging'] })).body.token;
    const del = (q: string, token?: string) => stack.api('POST', `/api/delete?${q}`, undefined, { token });

    assert.equal((await del('env=staging&app=cart', ci)).status, 403, 'pushing artifacts is not deleting apps');
    const elsewhere = await del('env=production&app=cart', stagingOnly);
    assert.equal(elsewhere.status, 403);
    assert.deepEqual(elsewhere.body.missing, { env: 'production' });
    const gated = await del('env=production&app=cart', PEOPLE.alice);
    assert.equal(gated.status, 409);
    assert.match(gated.body.error, /need approval/);
    const frozen = await del('env=launch&app=cart', PEOPLE.alice);
    assert.equal(frozen.status, 409);
    assert.match(frozen.body.error, /frozen by "launch day"/);
    const never = await del('env=staging&app=cert-manager', PEOPLE.alice);
    assert.equal(never.status, 404, 'a directory Ferry never released into is not an app it deletes');
    for (const bad of ['env=staging&app=../staging', 'env=staging', 'app=cart', 'env=Staging&app=cart', 'env=staging&app=flux']) {
      const r = await del(bad, PEOPLE.alice);
      assert.equal(r.status, 400, bad);
      assert.ok(r.body.issues.length > 0, bad);
    }
    assert.equal(stack.git('rev-parse', 'main'), row.gitopsCommit, 'nothing refused wrote anything');

    const removed = await del('env=staging&app=cart', stagingOnly);
    assert.equal(removed.status, 200, JSON.stringify(removed.body));
    assert.equal(removed.body.status, 'committed');
    assert.equal(stack.git('rev-parse', 'main'), removed.body.commit);
    assert.ok(!stack.git('ls-tree', '--name-only', 'main', 'staging/').split('\n').includes('staging/cart'));
    assert.match(stack.git('log', '-1', '--format=%B', 'main'), /Ferry-Trigger: delete/);
    const again = await del('env=staging&app=cart', stagingOnly);
    assert.equal(again.body.status, 'unchanged');
  });
});
