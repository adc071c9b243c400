import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Worker } from '@temporalio/worker';
import { workflowBundle } from '../worker/runtime';
import { type ChartRepo, FIXTURE_CHARTS, startChartRepo } from './support/chart-repo';
import { deployment, makeArtifact, startStack, stopSharedTemporal, type Stack } from './support/stack';

let stack: Stack;
let repo: ChartRepo;
before(async () => {
  repo = await startChartRepo();
  stack = await startStack({
    env: { FERRY_AWAIT_FLUX: 'false', FERRY_BRANCH_RESTRICTIONS: 'production=^main$', FERRY_CHART_ROOT: FIXTURE_CHARTS, FERRY_CHART_REPOSITORIES: repo.url },
  });
});
after(async () => {
  await stack?.stop();
  await repo?.close();
  await stopSharedTemporal();
});

/** An artifact whose environment files are given whole. */
function artifactWith(environments: Array<Record<string, unknown>>, opts: { branch?: string; event?: string; tag?: string; repo?: string } = {}) {
  const base = makeArtifact({ apps: [], branch: opts.branch ?? 'main', repo: opts.repo });
  return {
    ...base,
    version: { ...base.version, event: opts.event ?? 'push', ...(opts.tag ? { tag: opts.tag } : {}) },
    environments: environments.map((e) => ({ namespace: e.env, manifests: deployment(String(e.app)), ...e })),
  };
}

async function push(artifact: unknown): Promise<string> {
  const res = await stack.api('POST', '/api/artifacts', artifact);
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body.id;
}

/** Waits for the artifact workflow, which decides and starts the auto-releases. */
async function autoReleased(artifactId: string): Promise<{ released: string[]; refused: string[] }> {
  return stack.ferry.temporal.workflow.getHandle(`artifact:${artifactId}`).result();
}

async function releasesOf(artifactId: string): Promise<Array<{ id: string; app: string; env: string; trigger: string }>> {
  const r = await stack.ferry.db.query('SELECT id, app, env, trigger FROM releases WHERE artifact_id = $1 ORDER BY env, app', [artifactId]);
  return r.rows;
}

async function decisions(artifactId: string) {
  const res = await stack.api('GET', `/api/artifacts/${artifactId}/decisions`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body as { artifactId: string; evaluated: boolean; decisions: Array<{ app: string; env: string; matched: boolean; refused: boolean; reasons: string[]; releaseId: string | null }> };
}

describe('auto-release', () => {
  test('an artifact with three environment files releases to exactly the matching ones', async () => {
    const put = await stack.api('PUT', '/api/policies', { kind: 'auto-release', app: 'web', env: 'qa', branch: 'main' });
    assert.equal(put.status, 201, JSON.stringify(put.body));
    const id = await push(artifactWith([
      { app: 'web', env: 'staging', deploy: { branch: 'main', event: 'push' } },
      { app: 'web', env: 'production', deploy: { tag: 'v*' } },
      { app: 'web', env: 'qa' },
    ]));
    const result = await autoReleased(id);
    assert.deepEqual(result.released.sort(), [`release:web:qa:${id}`, `release:web:staging:${id}`]);
    assert.deepEqual((await releasesOf(id)).map((r) => [r.env, r.trigger]), [['qa', 'auto'], ['staging', 'auto']]);
    for (const rid of result.released) assert.equal((await stack.waitForRelease(rid, ['committed', 'failed'])).status, 'committed');

    const d = await decisions(id);
    assert.equal(d.evaluated, true);
    const byEnv = Object.fromEntries(d.decisions.map((x) => [x.env, x]));
    assert.equal(byEnv.staging!.matched, true);
    assert.equal(byEnv.staging!.releaseId, `release:web:staging:${id}`);
    assert.equal(byEnv.qa!.matched, true);
    assert.match(byEnv.qa!.reasons.join(' '), /auto-release policy auto-release:web:qa/);
    assert.equal(byEnv.production!.matched, false);
    assert.equal(byEnv.production!.releaseId, null);
    assert.match(byEnv.production!.reasons.join(' '), /deploy\.event \(implied by tag\): the artifact's event is "push", not "tag"/);
    assert.match(byEnv.production!.reasons.join(' '), /deploy\.tag: "v\*" needs a tag artifact/);

    // CI pushing the same artifact again, or someone releasing it by hand, starts nothing new.
    const again = await stack.api('POST', '/api/artifacts', await stack.api('GET', `/api/artifacts/${id}`).then((r) => { const { id: _i, createdAt: _c, ...rest } = r.body; return { ...rest, id }; }));
    assert.equal(again.status, 200, JSON.stringify(again.body));
    const manual = await stack.api('POST', '/api/releases', { artifactId: id, env: 'staging' });
    assert.equal(manual.status, 200);
    assert.equal(manual.body.id, `release:web:staging:${id}`);
    assert.equal((await releasesOf(id)).length, 2);
    const runs = [];
    for await (const w of stack.ferry.temporal.workflow.list({ query: `WorkflowId = "artifact:${id}"` })) runs.push(w.runId);
    assert.equal(runs.length, 1);
    assert.equal(stack.git('log', '--format=%H', `--grep=^Ferry-Release-Id: release:web:staging:${id}$`, 'main').split('\n').length, 1);
  });

  test('a tag artifact releases where a tag glob matches', async () => {
    const id = await push(artifactWith([{ app: 'api', env: 'staging', deploy: { tag: 'v*' } }, { app: 'api', env: 'demo', deploy: { tag: '!v1*' } }], { event: 'tag', tag: 'v1.2.0' }));
    const result = await autoReleased(id);
    assert.deepEqual(result.released, [`release:api:staging:${id}`]);
    const demo = (await decisions(id)).decisions.find((x) => x.env === 'demo')!;
    assert.match(demo.reasons[0]!, /deploy\.tag: tag "v1\.2\.0" does not match "!v1\*"/);
  });
});

describe('branch restrictions', () => {
  test('a restricted branch is refused with a clear reason, automatically and by hand', async () => {
    const id = await push(artifactWith([{ app: 'shop', env: 'production', deploy: { branch: 'feature/*' } }], { branch: 'feature/fast-checkout' }));
    const result = await autoReleased(id);
    assert.deepEqual(result.released, []);
    assert.equal((await releasesOf(id)).length, 0);
    const [d] = (await decisions(id)).decisions;
    assert.equal(d!.matched, false);
    assert.equal(d!.refused, true);
    assert.match(d!.reasons.join(' '), /server-wide branch restriction for production \(\/\^main\$\/, from FERRY_BRANCH_RESTRICTIONS\) refuses branch "feature\/fast-checkout"/);

    const manual = await stack.api('POST', '/api/releases', { artifactId: id, env: 'production' });
    assert.equal(manual.status, 422);
    assert.match(manual.body.error, /shop cannot be released to production: server-wide branch restriction .* refuses branch "feature\/fast-checkout"/);
    assert.equal(manual.body.reason, 'branch-restricted');
    assert.equal(manual.body.restriction, 'server:branch-restriction:production');
    assert.equal((await releasesOf(id)).length, 0);
  });

  test('an app-level restriction applies to manual releases too, and can be removed', async () => {
    const put = await stack.api('PUT', '/api/policies', { kind: 'branch-restriction', app: 'cart', env: 'staging', branchRegex: '^(main|release/.+)$' });
    assert.equal(put.status, 201, JSON.stringify(put.body));
    const id = await push(artifactWith([{ app: 'cart', env: 'staging' }], { branch: 'experiment' }));
    const refused = await stack.api('POST', '/api/releases', { artifactId: id, env: 'staging' });
    assert.equal(refused.status, 422);
    assert.match(refused.body.error, /branch restriction branch-restriction:cart:staging \(\/\^\(main\|release\/\.\+\)\$\/\) refuses branch "experiment"/);
    assert.equal((await stack.api('DELETE', `/api/policies/${put.body.id}`)).status, 204);
    const allowed = await stack.api('POST', '/api/releases', { artifactId: id, env: 'staging' });
    assert.equal(allowed.status, 202, JSON.stringify(allowed.body));
  });
});

describe('policy API', () => {
  test('policies are stored with who and when; server-wide ones are listed but cannot be removed', async () => {
    const created = await stack.api('PUT', '/api/policies', { kind: 'auto-release', app: 'books', env: 'staging', branch: 'main' });
    assert.equal(created.status, 201);
    assert.equal(created.body.id, 'auto-release:books:staging');
    assert.equal(created.body.createdBy, 'admin');
    assert.match(created.body.createdAt, /^\d{4}-/);
    const updated = await stack.api('PUT', '/api/policies', { kind: 'auto-release', app: 'books', env: 'staging', branch: '{main,develop}' });
    assert.equal(updated.status, 200);
    assert.equal(updated.body.branch, '{main,develop}');

    const list = await stack.api('GET', '/api/policies?app=books');
    assert.deepEqual(list.body.items.map((p: { id: string }) => p.id), ['server:branch-restriction:production', 'auto-release:books:staging']);
    const one = await stack.api('GET', '/api/policies/auto-release:books:staging');
    assert.deepEqual(one.body.changes.map((c: { action: string; by: string }) => [c.action, c.by]), [['created', 'admin'], ['updated', 'admin']]);

    const server = await stack.api('DELETE', '/api/policies/server:branch-restriction:production');
    assert.equal(server.status, 403);
    assert.match(server.body.error, /FERRY_BRANCH_RESTRICTIONS/);
    assert.equal((await stack.api('DELETE', '/api/policies/auto-release:books:staging')).status, 204);
    assert.equal((await stack.api('DELETE', '/api/policies/auto-release:books:staging')).status, 404);
    const history = await stack.api('GET', '/api/policies/auto-release:books:staging');
    assert.equal(history.status, 404);
    const log = await stack.ferry.db.query(`SELECT action, changed_by FROM policy_changes WHERE policy_id = 'auto-release:books:staging' ORDER BY id`);
    assert.deepEqual(log.rows.map((r) => r.action), ['created', 'updated', 'deleted']);
  });

  test('a bad policy is a 400 naming the field and stores nothing', async () => {
    const before = (await stack.ferry.db.query('SELECT count(*)::int AS n FROM policies')).rows[0].n;
    const cases: Array<[unknown, string]> = [
      [{ kind: 'branch-restriction', app: 'shop', env: 'staging', branchRegex: '(unclosed' }, 'branchRegex'],
      [{ kind: 'auto-release', app: 'shop', env: '../prod', branch: 'main' }, 'env'],
      [{ kind: 'auto-release', app: 'shop', env: 'staging', branch: '!' }, 'branch'],
      [{ kind: 'freeze', app: 'shop', env: 'staging' }, 'kind'],
      [{ kind: 'auto-release', app: 'shop', env: 'staging', branch: 'main', id: 'other' }, 'id'],
    ];
    for (const [body, field] of cases) {
      const res = await stack.api('PUT', '/api/policies', body);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.equal(res.body.issues[0].path, field, JSON.stringify(res.body));
    }
    assert.equal((await stack.ferry.db.query('SELECT count(*)::int AS n FROM policies')).rows[0].n, before);
  });

  test('conflicting policies are refused in both directions, naming both', async () => {
    const forbidden = await stack.api('PUT', '/api/policies', { kind: 'auto-release', app: 'shop', env: 'production', branch: 'feature/*' });
    assert.equal(forbidden.status, 409);
    assert.match(forbidden.body.error, /auto-release policy auto-release:shop:production .* conflicts with server-wide branch restriction for production/);
    assert.equal(forbidden.body.conflictsWith, 'server:branch-restriction:production');
    assert.equal((await stack.api('PUT', '/api/policies', { kind: 'auto-release', app: 'shop', env: 'production', branch: 'main' })).status, 201);

    assert.equal((await stack.api('PUT', '/api/policies', { kind: 'auto-release', app: 'docs', env: 'staging', branch: 'develop' })).status, 201);
    const blocking = await stack.api('PUT', '/api/policies', { kind: 'branch-restriction', app: 'docs', env: 'staging', branchRegex: '^main$' });
    assert.equal(blocking.status, 409);
    assert.match(blocking.body.error, /auto-release policy auto-release:docs:staging .* conflicts with branch restriction branch-restriction:docs:staging \(\/\^main\$\/\): branch "develop"/);

    const overServer = await stack.api('PUT', '/api/policies', { kind: 'branch-restriction', app: 'docs', env: 'production', branchRegex: '^release/.+$' });
    assert.equal(overServer.status, 409);
    assert.match(overServer.body.error, /server-wide branch restriction for production .* wins/);
    const items = (await stack.api('GET', '/api/policies?app=docs')).body.items.map((p: { id: string }) => p.id);
    assert.deepEqual(items, ['server:branch-restriction:production', 'auto-release:docs:staging']);
  });
});

describe('preview environments', () => {
  test('a preview is created for a branch push and removed when the branch is deleted', async () => {
    const file = { app: 'store', env: 'preview', preview: true };
    const onMain = await push(artifactWith([file], { repo: 'acme/store' }));
    assert.deepEqual((await autoReleased(onMain)).released, []);
    assert.match((await decisions(onMain)).decisions[0]!.reasons[0]!, /main branch "main", which never gets a preview/);

    const id = await push(artifactWith([file], { branch: 'feature/New_Cart', repo: 'acme/store' }));
    const { released } = await autoReleased(id);
    assert.deepEqual(released, [`release:store-feature-new-cart:preview:${id}`]);
    const done = await stack.waitForRelease(released[0]!, ['committed', 'failed']);
    assert.equal(done.status, 'committed', done.error);
    const tree = stack.git('ls-tree', '-r', '--name-only', 'main', 'preview/').split('\n');
    assert.ok(tree.includes('preview/store-feature-new-cart/deployment-store-feature-new-cart.yaml'), tree.join('\n'));

    const bad = await stack.api('POST', '/api/events/branch-deleted', { repository: 'acme/store' });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.issues[0].path, 'branch');
    const other = await stack.api('POST', '/api/events/branch-deleted', { repository: 'acme/store', branch: 'feature/unrelated' });
    assert.equal(other.status, 202);
    // No artifact of that branch created a preview: there is nothing of it to remove.
    const otherResult = await stack.ferry.temporal.workflow.getHandle(other.body.workflowId, other.body.runId).result();
    assert.deepEqual(otherResult.removed, []);

    const before = stack.git('rev-parse', 'main');
    const res = await stack.api('POST', '/api/events/branch-deleted', { repository: 'acme/store', branch: 'feature/New_Cart' });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    const result = await stack.ferry.temporal.workflow.getHandle(res.body.workflowId, res.body.runId).result();
    assert.deepEqual(result.removed.map((r: { dir: string; status: string }) => [r.dir, r.status]), [['preview/store-feature-new-cart', 'committed']]);
    assert.equal(stack.git('ls-tree', '--name-only', 'main', 'preview/store-feature-new-cart'), '');
    // One commit removed the whole directory.
    assert.equal(stack.git('rev-list', '--count', `${before}..main`), '1');
    const message = stack.git('log', '-1', '--format=%B', 'main');
    assert.match(message, /remove store-feature-new-cart/);
    assert.match(message, /Ferry-Trigger: cleanup/);
    assert.match(message, /Ferry-Released-By: admin/);
  });
});

describe('charts end to end', () => {
  test('a chart release commits rendered files; releasing the same render again commits nothing and says so', async () => {
    const vars = await stack.api('PUT', '/api/env-vars/staging', { vars: { REPLICAS_NOTE: 'two' } });
    assert.equal(vars.status, 200);
    const id = await push(artifactWith([{
      app: 'catalog', env: 'staging', manifests: undefined, deploy: { branch: 'main' },
      chart: { repository: repo.url, name: 'webapp', version: '0.3.1' },
      values: { image: { repository: '{{ .IMAGE }}', tag: '{{ .SHA }}' }, env: { NOTE: '{{ .REPLICAS_NOTE }}' } },
      strategicMergePatches: 'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: catalog\nspec:\n  template:\n    spec:\n      containers:\n        - name: app\n          resources:\n            limits:\n              cpu: 500m\n',
      json6902Patches: [{ target: { kind: 'Deployment', name: 'catalog' }, patch: '- op: replace\n  path: /spec/replicas\n  value: 2\n' }],
    }]));
    const [releaseId] = (await autoReleased(id)).released;
    const done = await stack.waitForRelease(releaseId!, ['committed', 'failed']);
    assert.equal(done.status, 'committed', done.error);
    const yaml = stack.git('show', `${done.gitopsCommit}:staging/catalog/deployment-catalog.yaml`);
    assert.match(yaml, /cpu: 500m/);
    assert.match(yaml, /replicas: 2/);
    assert.match(yaml, /value: two/);
    assert.match(yaml, /name: sidecar/);

    // The same artifact through a second release id renders again (chart from the cache) to the same bytes.
    const input = (await stack.ferry.temporal.workflow.getHandle(releaseId!).fetchHistory()).events![0]!.workflowExecutionStartedEventAttributes!.input!;
    const { defaultPayloadConverter } = await import('@temporalio/common');
    const args = defaultPayloadConverter.fromPayload<Record<string, unknown>>(input.payloads![0]!);
    const again = `${releaseId}:again`;
    const state = await stack.ferry.temporal.workflow.execute('releaseWorkflow', {
      workflowId: again, taskQueue: `releases-${stack.dir.split('/').pop()}`, args: [{ ...args, releaseId: again }],
    }) as { status: string; timeline: Array<{ message?: string }> };
    assert.equal(state.status, 'succeeded');
    assert.match(state.timeline.at(-1)!.message!, /nothing to commit/);
    assert.equal(stack.git('log', '--format=%H', '-1', 'main', '--', 'staging/catalog'), done.gitopsCommit);
  });

  test('a missing variable in values fails the release, naming the variable and the field', async () => {
    const id = await push(artifactWith([{ app: 'broken-chart', env: 'staging', manifests: undefined, chart: { path: 'webapp' }, values: { image: { tag: '{{ .NOT_SET }}' } } }]));
    const started = await stack.api('POST', '/api/releases', { artifactId: id, env: 'staging' });
    const done = await stack.waitForRelease(started.body.id, ['failed', 'committed']);
    assert.equal(done.status, 'failed');
    assert.match(done.error, /environment file staging\/broken-chart: values\.image\.tag: missing template variable "NOT_SET"/);
  });

  test('an invalid environment file is a 400 naming the file, the field and the reason', async () => {
    const res = await stack.api('POST', '/api/artifacts', artifactWith([{ app: 'shop', env: 'staging', deploy: { branch: 'main', event: 'tag' } }]));
    assert.equal(res.status, 400);
    assert.equal(res.body.issues[0].path, 'environments.0.deploy.branch');
    assert.equal(res.body.issues[0].file, 'staging/shop');
    assert.match(res.body.issues[0].message, /environment file staging\/shop: deploy\.branch: a branch condition needs a push or pr event/);
  });
});

describe('workflow determinism', () => {
  test('artifact and branch-cleanup histories replay against the current workflow code', async () => {
    for (const type of ['artifactWorkflow', 'branchCleanupWorkflow']) {
      let replayed = 0;
      for await (const h of stack.ferry.temporal.workflow.list({ query: `WorkflowType = "${type}" AND ExecutionStatus = "Completed"` }).intoHistories()) {
        await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, h.history, h.workflowId);
        replayed += 1;
        if (replayed >= 3) break;
      }
      assert.ok(replayed > 0, `no ${type} ran`);
    }
  });
});
