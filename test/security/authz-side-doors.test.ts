// Side doors into environments a token may not touch: branch cleanup, auto-release, promotion and rollback all go
// through the same authorization decision as a manual release. Each attack runs against a whole Ferry (Temporal,
// PostgreSQL, git) and must change nothing; the legitimate path next to it must keep working.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { configEnv, enc, eventually, fluxResponder } from '../support/gates';
import { makeArtifact, startStack, stopSharedTemporal, type Stack } from '../support/stack';
import { assertNoWorkflow, createToken, fingerprint, pathExists } from './authz-support';

let stack: Stack;
let flux: { stop(): Promise<void> };
let stagingCi: string;

before(async () => {
  const env = await configEnv({
    dev: {}, qa: {}, staging: {}, production: {},
    canary: { promotion: { from: 'staging', auto: true } },
    soaked: { promotion: { from: 'staging', auto: true, soak: '6s' } },
  }, { FERRY_FLUX_TIMEOUT: '2m' });
  stack = await startStack({ env });
  flux = fluxResponder(stack);
  stagingCi = await createToken(stack, { name: 'staging-ci', owner: 'staging-pipeline', role: 'ci', envs: ['staging'] });
});
after(async () => {
  await flux?.stop();
  await stack?.stop();
  await stopSharedTemporal();
});

type EnvFile = Record<string, unknown> & { app: string; env: string };
function artifact(files: EnvFile[], opts: { branch?: string; repo?: string } = {}) {
  const a = makeArtifact({ apps: files.map((f) => ({ app: f.app, env: f.env })), ...opts });
  a.environments = a.environments.map((e, i) => ({ ...e, ...files[i] }));
  return a;
}

async function push(body: unknown, token?: string): Promise<string> {
  const res = await stack.api('POST', '/api/artifacts', body, token ? { token } : {});
  assert.ok([200, 201].includes(res.status), JSON.stringify(res.body));
  return res.body.id as string;
}

async function autoReleased(artifactId: string): Promise<{ released: string[]; refused: string[] }> {
  return stack.ferry.temporal.workflow.getHandle(`artifact:${artifactId}`).result();
}

async function branchDeleted(branch: string, token?: string, repository = 'acme/shop') {
  const res = await stack.api('POST', '/api/events/branch-deleted', { repository, branch }, token ? { token } : {});
  assert.equal(res.status, 202, JSON.stringify(res.body));
  return stack.ferry.temporal.workflow.getHandle(res.body.workflowId, res.body.runId).result() as Promise<{
    removed: Array<{ dir: string; status: string }>; refused?: Array<{ dir: string; reason: string }>;
  }>;
}

const committed = ['committed', 'reconciling', 'succeeded'];

describe('attack 1: branch cleanup as a side door', () => {
  test('a staging token cannot remove a production app (or the flux directory) through a cleanup policy', async () => {
    const main = await push(artifact([{ app: 'shop', env: 'production' }]));
    const rel = await stack.api('POST', '/api/releases', { artifactId: main, env: 'production' });
    assert.equal(rel.status, 202, JSON.stringify(rel.body));
    await stack.waitForRelease(rel.body.id, ['succeeded']);
    assert.ok(pathExists(stack, 'production/shop'));

    const evil = await push(artifact([
      { app: 'shop', env: 'production', cleanup: { event: 'branchDeleted', branch: '**', app: 'shop' } },
      { app: 'infra', env: 'production', cleanup: { event: 'branchDeleted', branch: '**', app: 'flux' } },
    ], { branch: 'feature/evil' }), stagingCi);
    await autoReleased(evil);
    const before = await fingerprint(stack);

    const result = await branchDeleted('feature/evil', stagingCi);
    assert.deepEqual(result.removed, []);
    assert.deepEqual(result.refused?.map((r) => r.dir), ['production/flux', 'production/shop']);
    for (const r of result.refused ?? []) assert.match(r.reason, /no artifact of acme\/shop branch "feature\/evil" created a preview named/);
    assert.deepEqual(await fingerprint(stack), before);
    assert.ok(pathExists(stack, 'production/shop'));
  });

  test("a branch deletion removes that branch's previews where the caller may act, and only those", async () => {
    // The staging token's own preview: created by its push, removed by its branch deletion.
    const mine = await push(artifact([{ app: 'shop', env: 'staging', preview: true }], { branch: 'feature/cart' }), stagingCi);
    const [previewId] = (await autoReleased(mine)).released;
    assert.equal(previewId, `release:shop-feature-cart:staging:${mine}`);
    await stack.waitForRelease(previewId!, committed);
    // Somebody else's production preview of another branch, and one of this branch in production.
    const theirs = await push(artifact([{ app: 'shop', env: 'production', preview: true }], { branch: 'feature/cart' }));
    await stack.waitForRelease((await autoReleased(theirs)).released[0]!, committed);
    assert.ok(pathExists(stack, 'staging/shop-feature-cart'));
    assert.ok(pathExists(stack, 'production/shop-feature-cart'));

    const result = await branchDeleted('feature/cart', stagingCi);
    assert.deepEqual(result.removed.map((r) => [r.dir, r.status]), [['staging/shop-feature-cart', 'committed']]);
    // (The cleanup policies pushed on feature/evil match every branch; they stay refused too.)
    assert.deepEqual(result.refused?.map((r) => r.dir), ['production/flux', 'production/shop', 'production/shop-feature-cart']);
    assert.match(result.refused![2]!.reason, /staging-pipeline \(token staging-ci\) may act on environment staging only, not "production"/);
    assert.ok(!pathExists(stack, 'staging/shop-feature-cart'));
    assert.ok(pathExists(stack, 'production/shop-feature-cart'));

    // Another repository's branch of the same name owns nothing here.
    const other = await branchDeleted('feature/cart', undefined, 'acme/other');
    assert.deepEqual(other.removed, []);
    assert.ok(pathExists(stack, 'production/shop-feature-cart'));
    // Someone who may act in production removes the rest.
    const admin = await branchDeleted('feature/cart');
    assert.deepEqual(admin.removed.map((r) => r.dir), ['production/shop-feature-cart', 'staging/shop-feature-cart']);
    assert.ok(!pathExists(stack, 'production/shop-feature-cart'));
  });

  test('a preview may not take the name of an app that is not a preview', async () => {
    const real = await push(artifact([{ app: 'shop-launch', env: 'staging' }]));
    const rel = await stack.api('POST', '/api/releases', { artifactId: real, env: 'staging' });
    await stack.waitForRelease(rel.body.id, committed);
    const head = stack.git('rev-parse', 'main');
    const id = await push(artifact([{ app: 'shop', env: 'staging', preview: true }], { branch: 'launch' }), stagingCi);
    const outcome = await autoReleased(id);
    assert.deepEqual(outcome.released, []);
    assert.match(outcome.refused[0]!, /"shop-launch" in staging is an app that is not a preview/);
    assert.equal(stack.git('rev-parse', 'main'), head);
  });
});

describe('attack 2: auto-release as a side door', () => {
  test("an auto-release acts with the pusher's rights: a staging token releases staging only, the rest is recorded as refused", async () => {
    const direct = await stack.api('POST', '/api/releases', { artifactId: await push(artifact([{ app: 'cart', env: 'dev' }])), env: 'dev' }, { token: stagingCi });
    assert.equal(direct.status, 403);

    const files = ['dev', 'qa', 'production', 'staging'].map((env) => ({ app: 'cart', env, deploy: { branch: 'main' } }));
    const id = await push(artifact([...files, { app: 'cart', env: 'canary' }]), stagingCi);
    const outcome = await autoReleased(id);
    assert.deepEqual(outcome.released, [`release:cart:staging:${id}`]);
    assert.equal(outcome.refused.length, 3);

    const decisions = (await stack.api('GET', `/api/artifacts/${enc(id)}/decisions`)).body.decisions as Array<{ env: string; matched: boolean; refused: boolean; reasons: string[]; releaseId: string | null }>;
    for (const env of ['dev', 'qa', 'production']) {
      const d = decisions.find((x) => x.env === env)!;
      assert.equal(d.matched, false, env);
      assert.equal(d.refused, true, env);
      assert.equal(d.releaseId, null);
      assert.match(d.reasons.at(-1)!, new RegExp(`staging-pipeline \\(token staging-ci\\) may act on environment staging only, not "${env}"`));
      await assertNoWorkflow(stack, `release:cart:${env}:${id}`);
      assert.ok(!pathExists(stack, `${env}/cart`), env);
    }
    const rows = await stack.ferry.db.query('SELECT env FROM releases WHERE artifact_id = $1 ORDER BY env', [id]);
    assert.deepEqual(rows.rows.map((r) => r.env), ['staging']);
    // The legitimate path: staging is released, with the pusher recorded behind it.
    const staging = await stack.waitForRelease(`release:cart:staging:${id}`, ['succeeded', 'failed']);
    assert.equal(staging.status, 'succeeded');
    const behind = await stack.ferry.db.query('SELECT principal FROM release_principals WHERE release_id = $1', [staging.id]);
    assert.equal(behind.rows[0].principal.id, 'token-owner:staging-pipeline');
    // Automatic promotion to canary acts for the same pusher, who may not release there.
    const canaryPromotion = stack.ferry.temporal.workflow.getHandle(`auto-promote:canary:${staging.id}`);
    await eventually('the auto-promotion workflow', () => canaryPromotion.describe().then(() => true, () => false));
    const promotion = await canaryPromotion.result();
    assert.equal(promotion.promoted, false);
    assert.match(promotion.reason, /may act on environment staging only, not "canary"/);
    await assertNoWorkflow(stack, `release:cart:canary:${id}`);
    assert.ok(!pathExists(stack, 'canary/cart'));
  });

  test('an automatic promotion goes ahead for a pusher who may release to the target', async () => {
    const both = await createToken(stack, { name: 'till-ci', owner: 'till-pipeline', role: 'ci', envs: ['staging', 'canary'] });
    const id = await push(artifact([{ app: 'till', env: 'staging', deploy: { branch: 'main' } }, { app: 'till', env: 'canary' }]), both);
    const [stagingId] = (await autoReleased(id)).released;
    await stack.waitForRelease(stagingId!, ['succeeded']);
    const canary = await eventually('the canary promotion', async () => {
      const r = await stack.api('GET', `/api/releases/${enc(`release:till:canary:${id}`)}`);
      return r.status === 200 && r.body;
    });
    assert.equal(canary.trigger, 'promote');
    assert.equal(canary.releasedBy, 'ferry:auto-promote');
    await stack.waitForRelease(canary.id, ['succeeded']);
    const behind = await stack.ferry.db.query('SELECT principal FROM release_principals WHERE release_id = $1', [canary.id]);
    assert.equal(behind.rows[0].principal.id, 'token-owner:till-pipeline');
  });
});

describe('rights as they stand now', () => {
  test('an automatic promotion for a token revoked since its release promotes nothing', async () => {
    const token = await createToken(stack, { name: 'brief-ci', owner: 'brief-pipeline', role: 'ci', envs: ['staging', 'soaked'] });
    const id = await push(artifact([{ app: 'brief', env: 'staging', deploy: { branch: 'main' } }, { app: 'brief', env: 'soaked' }]), token);
    const [stagingId] = (await autoReleased(id)).released;
    await stack.waitForRelease(stagingId!, ['succeeded']);
    // Revoked while the promotion soaks.
    assert.equal((await stack.api('DELETE', '/api/tokens/brief-ci')).status, 204);
    const handle = stack.ferry.temporal.workflow.getHandle(`auto-promote:soaked:${stagingId}`);
    // Started just after the release's final status is recorded.
    await eventually('the auto-promotion workflow', () => handle.describe().then(() => true, () => false));
    const promotion = await handle.result();
    assert.equal(promotion.promoted, false);
    assert.match(promotion.reason, /brief-pipeline \(token brief-ci\) was revoked at/);
    await assertNoWorkflow(stack, `release:brief:soaked:${id}`);
  });
});

describe('promotion, rollback and repository scopes on the release path', () => {
  test('a staging deployer cannot promote or roll back production; a repository-scoped deployer cannot release another repository', async () => {
    const deployer = await createToken(stack, { name: 'staging-deployer', role: 'deployer', envs: ['staging'] });
    const before = await fingerprint(stack);
    const promote = await stack.api('POST', '/api/promote', { app: 'cart', env: 'canary' }, { token: deployer });
    assert.equal(promote.status, 403);
    const rollback = await stack.api('POST', '/api/rollback', { app: 'shop', env: 'production' }, { token: deployer });
    assert.equal(rollback.status, 403);
    const gimletRollback = await stack.api('POST', '/api/rollback?env=production&app=shop&sha=abcdef0', undefined, { token: deployer });
    assert.equal(gimletRollback.status, 403);

    const otherRepo = await createToken(stack, { name: 'other-deployer', role: 'deployer', repos: ['acme/other'] });
    const shopArtifact = (await stack.ferry.db.query(`SELECT id FROM artifacts WHERE repository = 'acme/shop' AND body->'environments' @> '[{"env":"production","app":"shop"}]' ORDER BY created_at LIMIT 1`)).rows[0].id;
    const afterTokens = await fingerprint(stack);
    const release = await stack.api('POST', '/api/releases', { artifactId: shopArtifact, env: 'production' }, { token: otherRepo });
    assert.equal(release.status, 403);
    assert.deepEqual(release.body.missing, { repository: 'acme/shop' });
    assert.match(release.body.error, /may act on repositories acme\/other only, not "acme\/shop"/);
    assert.deepEqual(await fingerprint(stack), afterTokens);
    assert.equal(before.gitops, afterTokens.gitops);
  });
});
