/**
 * A branch per environment, end to end through HTTP, Temporal, the writer activity, PostgreSQL and the embedded
 * repository: releases of one app to staging and production commit to `env/staging` and `env/production` only,
 * concurrent releases to both land exactly once each, a Flux event naming `env/staging` settles staging releases
 * and never production's (even when it carries a production commit), a rollback in production commits to
 * `env/production`, and a preview's release and cleanup stay on its environment's branch.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import YAML from 'yaml';
import { configEnv } from './support/gates';
import { deployment, fluxEvent, makeArtifact, useStack } from './support/stack';
import { releaseCounts } from './support/git-remote';

const stack = useStack(async () => {
  const env = await configEnv(
    // qa's branch comes from FERRY_CONFIG, staging's and production's from the environment variables
    { qa: { gitops: { branch: 'env/qa' } } },
    {
      FERRY_GITOPS_BRANCH_STAGING: 'env/staging',
      FERRY_GITOPS_BRANCH_PRODUCTION: 'env/production',
      FERRY_GITOPS_BRANCH_PREVIEW: 'env/preview',
      FERRY_FLUX_TIMEOUT: '3m',
    },
    { clusters: { 'prod-1': { webhookSecret: 'prod-1-secret' } } },
  );
  return { env };
});

async function release(app: string, env: string): Promise<string> {
  const pushed = await stack().api('POST', '/api/artifacts', makeArtifact({ apps: [{ app, env }] }));
  assert.equal(pushed.status, 201, JSON.stringify(pushed.body));
  const started = await stack().api('POST', '/api/releases', { artifactId: pushed.body.id, env, app });
  assert.equal(started.status, 202, JSON.stringify(started.body));
  return started.body.id;
}

/**
 * A Flux success event for `commit` whose revision names `branch`. An environment's own branch says which
 * environment the event speaks for; on the shared default branch the Kustomization's `ferry.env` annotation does.
 */
function eventOn(branch: string, commit: string, env?: string) {
  const e = fluxEvent('ReconciliationSucceeded', commit, env ? { env } : {});
  return { ...e, metadata: { ...e.metadata, revision: `${branch}@sha1:${commit}` } };
}

async function postFlux(event: unknown): Promise<void> {
  const r = await stack().postFlux(event);
  assert.equal(r.status, 202, JSON.stringify(r.body));
}

const tip = (branch: string) => stack().git('rev-parse', `refs/heads/${branch}`);
/** `git merge-base` exits 1 when two commits have no common ancestor. */
function shareHistory(a: string, b: string): boolean {
  try {
    stack().git('merge-base', a, b);
    return true;
  } catch {
    return false;
  }
}
const files = (branch: string) => stack().git('ls-tree', '-r', '--name-only', branch).split('\n').filter(Boolean);

describe('a branch per environment', () => {
  let mainTip: string;
  const ids: Record<'staging' | 'production', string[]> = { staging: [], production: [] };

  test('releases to staging and production commit to env/staging and env/production only, each exactly once', async () => {
    // dev has no branch of its own: it writes the default branch, which must not move afterwards
    const dev = await release('shop', 'dev');
    const devRow = await stack().waitForRelease(dev, ['reconciling', 'failed']);
    assert.equal(devRow.status, 'reconciling', JSON.stringify(devRow));
    mainTip = tip('main');
    assert.equal(devRow.gitopsCommit, mainTip);
    await postFlux(eventOn('main', mainTip, 'dev'));
    assert.equal((await stack().waitForRelease(dev, ['succeeded', 'failed'])).status, 'succeeded');

    // concurrent: one app to both environments, and two more apps to each, all at once
    const started = await Promise.all(
      ['shop', 'cart', 'web'].flatMap((app) => (['staging', 'production'] as const).map(async (env) => ({ env, id: await release(app, env) }))),
    );
    for (const s of started) ids[s.env].push(s.id);
    const rows = await Promise.all(started.map((s) => stack().waitForRelease(s.id, ['reconciling', 'failed'], 120_000)));
    for (const row of rows) assert.equal(row.status, 'reconciling', JSON.stringify(row));

    const staging = releaseCounts(stack().ferry.gitopsRepo, 'env/staging');
    const production = releaseCounts(stack().ferry.gitopsRepo, 'env/production');
    const onMain = releaseCounts(stack().ferry.gitopsRepo, 'main');
    for (const id of ids.staging) {
      assert.equal(staging.get(id), 1, `${id} once on env/staging`);
      assert.equal(production.get(id), undefined);
      assert.equal(onMain.get(id), undefined);
    }
    for (const id of ids.production) {
      assert.equal(production.get(id), 1, `${id} once on env/production`);
      assert.equal(staging.get(id), undefined);
      assert.equal(onMain.get(id), undefined);
    }
    assert.equal(tip('main'), mainTip, 'main untouched');
    // paths inside stay <env>/<app>/, and each branch holds its environment only
    assert.deepEqual([...new Set(files('env/staging').map((f) => f.split('/').slice(0, 2).join('/')))].sort(), ['staging/cart', 'staging/shop', 'staging/web']);
    assert.deepEqual([...new Set(files('env/production').map((f) => f.split('/').slice(0, 2).join('/')))].sort(), ['production/cart', 'production/shop', 'production/web']);
    // created as orphans: no history shared with main or with each other
    for (const [a, b] of [['env/staging', 'main'], ['env/production', 'main'], ['env/staging', 'env/production']]) {
      assert.equal(shareHistory(a!, b!), false, `${a} and ${b} share no commit`);
    }
    // every row's commit is on its own branch
    for (const [i, s] of started.entries()) stack().git('merge-base', '--is-ancestor', rows[i].gitopsCommit, `env/${s.env}`);
  });

  test('a Flux event naming env/staging settles the staging releases and not production ones', async () => {
    const stagingTip = tip('env/staging');
    const productionTip = tip('env/production');
    // A forged or misattributed event: the staging branch named, with production's commit. Ancestry alone would
    // settle every production release; the branch says it is about staging.
    await postFlux(eventOn('env/staging', productionTip));
    await postFlux(eventOn('env/staging', stagingTip));
    for (const id of ids.staging) assert.equal((await stack().waitForRelease(id, ['succeeded', 'failed'])).status, 'succeeded');
    await new Promise((r) => setTimeout(r, 1500)); // the events' settle workflows have had their chance
    for (const id of ids.production) {
      const row = (await stack().api('GET', `/api/releases/${encodeURIComponent(id)}`)).body;
      assert.equal(row.status, 'reconciling', `${id} must wait for production's own branch: ${JSON.stringify(row.status)}`);
    }
    // production's own branch settles them
    await postFlux(eventOn('env/production', productionTip));
    for (const id of ids.production) assert.equal((await stack().waitForRelease(id, ['succeeded', 'failed'])).status, 'succeeded');

    const status = await stack().api('GET', '/api/status?app=shop');
    assert.equal(status.status, 200, JSON.stringify(status.body));
    const byEnv = Object.fromEntries(status.body.environments.map((e: { env: string }) => [e.env, e]));
    stack().git('merge-base', '--is-ancestor', byEnv.staging.gitopsCommit, 'env/staging');
    stack().git('merge-base', '--is-ancestor', byEnv.production.gitopsCommit, 'env/production');
    assert.equal(byEnv.production.current.status, 'succeeded');
  });

  test('a rollback in production commits to env/production', async () => {
    const second = await release('shop', 'production');
    const secondRow = await stack().waitForRelease(second, ['reconciling', 'failed']);
    await postFlux(eventOn('env/production', secondRow.gitopsCommit));
    assert.equal((await stack().waitForRelease(second, ['succeeded', 'failed'])).status, 'succeeded');
    const before = { main: tip('main'), staging: tip('env/staging'), production: tip('env/production') };

    const r = await stack().api('POST', '/api/rollback', { app: 'shop', env: 'production' });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    assert.equal(r.body.rollbackOf, second);
    const rolled = await stack().waitForRelease(r.body.id, ['reconciling', 'failed']);
    assert.equal(rolled.status, 'reconciling', JSON.stringify(rolled));
    assert.equal(tip('env/production'), rolled.gitopsCommit);
    assert.equal(stack().git('rev-parse', `${rolled.gitopsCommit}^`), before.production, 'a forward commit on env/production');
    const shopFirst = ids.production.find((id) => id.startsWith('release:shop:'))!;
    const first = (await stack().api('GET', `/api/releases/${encodeURIComponent(shopFirst)}`)).body;
    assert.equal(stack().git('rev-parse', `${rolled.gitopsCommit}:production/shop`), stack().git('rev-parse', `${first.gitopsCommit}:production/shop`));
    assert.match(stack().git('log', '-1', '--format=%B', rolled.gitopsCommit), new RegExp(`Ferry-Rollback-Of: ${second.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    assert.equal(tip('main'), before.main);
    assert.equal(tip('env/staging'), before.staging);
    await postFlux(eventOn('env/production', rolled.gitopsCommit));
    assert.equal((await stack().waitForRelease(r.body.id, ['succeeded', 'failed'])).status, 'succeeded');
  });

  test('an environment whose branch comes from FERRY_CONFIG (gitops.branch) writes it', async () => {
    const qa = await release('shop', 'qa');
    const row = await stack().waitForRelease(qa, ['reconciling', 'failed']);
    assert.equal(row.status, 'reconciling', JSON.stringify(row));
    assert.equal(tip('env/qa'), row.gitopsCommit);
    assert.deepEqual(files('env/qa').map((f) => f.split('/')[0]), files('env/qa').map(() => 'qa'));
    await postFlux(eventOn('env/qa', row.gitopsCommit));
    assert.equal((await stack().waitForRelease(qa, ['succeeded', 'failed'])).status, 'succeeded');
  });

  test('a preview is released to and cleaned up from its environment branch', async () => {
    const mainBefore = tip('main');
    const base = makeArtifact({ apps: [], branch: 'feature/cart', repo: 'acme/store' });
    const artifact = { ...base, environments: [{ app: 'store', env: 'preview', namespace: 'preview', preview: true, manifests: deployment('store') }] };
    const pushed = await stack().api('POST', '/api/artifacts', artifact);
    assert.equal(pushed.status, 201, JSON.stringify(pushed.body));
    const { released } = await stack().ferry.temporal.workflow.getHandle(`artifact:${pushed.body.id}`).result();
    const row = await stack().waitForRelease(released[0], ['reconciling', 'failed']);
    assert.equal(row.status, 'reconciling', JSON.stringify(row));
    assert.equal(tip('env/preview'), row.gitopsCommit);
    await postFlux(eventOn('env/preview', row.gitopsCommit));
    await stack().waitForRelease(released[0], ['succeeded']);

    const res = await stack().api('POST', '/api/events/branch-deleted', { repository: 'acme/store', branch: 'feature/cart' });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    const result = await stack().ferry.temporal.workflow.getHandle(res.body.workflowId, res.body.runId).result();
    assert.deepEqual(result.removed.map((x: { status: string }) => x.status), ['committed']);
    assert.equal(stack().git('rev-parse', 'env/preview^'), row.gitopsCommit);
    assert.deepEqual(files('env/preview'), []);
    assert.equal(tip('main'), mainBefore);
  });

  test("the cluster's setup manifests carry a GitRepository and Kustomization per environment branch", async () => {
    // The environments name no clusters: they belong to the single-secret setup, `default`.
    const res = await stack().api('GET', '/api/flux/manifests/default');
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const docs = YAML.parseAllDocuments(String(res.body)).map((d) => d.toJS());
    const repos = docs.filter((d) => d?.kind === 'GitRepository');
    assert.deepEqual(repos.map((d) => d.spec.ref.branch).sort(), ['env/preview', 'env/production', 'env/qa', 'env/staging']);
    const ks = docs.find((d) => d?.kind === 'Kustomization' && d.metadata.name === 'ferry-production');
    assert.deepEqual(ks.spec.sourceRef, { kind: 'GitRepository', name: 'ferry-production', namespace: 'flux-system' });
    assert.equal(ks.metadata.annotations['event.toolkit.fluxcd.io/ferry.env'], 'production');
    assert.equal(ks.spec.path, './production');
    assert.ok(!docs.some((d) => d?.kind === 'GitRepository' && d.spec.ref.branch === 'main'), 'the default branch is flux-system’s');
  });
});
