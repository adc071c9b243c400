/**
 * The GitOps writer's failure modes seen end to end, through HTTP, Temporal, the writer activity and PostgreSQL:
 * a conflicting foreign edit fails only the affected release (non-retryable GitopsConflict naming the files),
 * an unreachable remote makes releases wait and then continue, and an environment with its own repository
 * (FERRY_GITOPS_REPO_<ENV>) gets its commits there.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { rename } from 'node:fs/promises';
import * as path from 'node:path';
import { makeArtifact, type Stack, startStack, stopSharedTemporal } from './support/stack';
import { gitSync, hookRemote, type HookedRemote, pushForeign, releaseCounts } from './support/git-remote';

let stack: Stack;
let remote: HookedRemote;
let euRepo: string;

before(async () => {
  const { mkdtemp } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  euRepo = path.join(await mkdtemp(path.join(tmpdir(), 'ferry-eu-')), 'prod-eu.git');
  execFileSync('git', ['init', '--bare', '--quiet', '--initial-branch=main', euRepo]);
  stack = await startStack({
    // git's transport, as against a Git server: these tests hold and decline pushes with receive hooks
    env: { FERRY_AWAIT_FLUX: 'false', FERRY_GIT_RETRY_FOR: '2s', FERRY_GITOPS_REPO_PROD_EU: euRepo, FERRY_GITOPS_DIRECT_WRITE: 'false' },
  });
  remote = await hookRemote(stack.ferry.gitopsRepo);
});
after(async () => {
  await remote?.releaseAll(1);
  await stack?.stop();
  await stopSharedTemporal();
});

async function release(app: string, env: string): Promise<string> {
  const pushed = await stack.api('POST', '/api/artifacts', makeArtifact({ apps: [{ app, env }] }));
  assert.ok(pushed.status === 201 || pushed.status === 200, JSON.stringify(pushed.body));
  const started = await stack.api('POST', '/api/releases', { artifactId: pushed.body.id, env, app });
  assert.equal(started.status, 202, JSON.stringify(started.body));
  return started.body.id;
}

describe('GitOps writer end to end', () => {
  test('a foreign edit of the same files while the push waits fails only that release, naming the files', async () => {
    const seed = await release('seed', 'staging');
    assert.equal((await stack.waitForRelease(seed, ['committed', 'failed'])).status, 'committed');

    await remote.hold('pre', true);
    const shop = await release('shop', 'staging');
    const held = await remote.nextArrival('pre');
    const cart = await release('cart', 'staging'); // queued behind the held push: next batch
    // someone edits staging/shop by hand meanwhile
    const foreign = await pushForeign(remote, path.join(stack.dir, 'human'), { 'staging/shop/hotfix.yaml': 'kind: ConfigMap\n' }, 'hand-made hotfix');
    await remote.verdict(held, 1);
    await remote.hold('pre', false);

    const failed = await stack.waitForRelease(shop, ['committed', 'failed'], 120_000);
    assert.equal(failed.status, 'failed');
    assert.match(failed.error, /staging\/shop\/hotfix\.yaml/);
    assert.match(failed.error, /changed by another commit/);
    assert.equal((await stack.waitForRelease(cart, ['committed', 'failed'], 120_000)).status, 'committed');
    const counts = releaseCounts(stack.ferry.gitopsRepo);
    assert.equal(counts.get(shop), undefined);
    assert.equal(counts.get(cart), 1);
    gitSync(stack.ferry.gitopsRepo, 'merge-base', '--is-ancestor', foreign, 'main');
    assert.equal(gitSync(stack.ferry.gitopsRepo, 'show', 'main:staging/shop/hotfix.yaml'), 'kind: ConfigMap');
  });

  test('remote unreachable for longer than FERRY_GIT_RETRY_FOR: releases wait (activity retries), then land once', async () => {
    const repo = stack.ferry.gitopsRepo;
    await rename(repo, `${repo}.away`);
    let ids: string[];
    try {
      ids = await Promise.all(['down-a', 'down-b', 'down-c'].map((a) => release(a, 'staging')));
      await new Promise((r) => setTimeout(r, 6_000)); // several writer give-ups (2 s each) and activity retries
      for (const id of ids) {
        const row = (await stack.api('GET', `/api/releases/${encodeURIComponent(id)}`)).body;
        assert.equal(row.status, 'committing', JSON.stringify(row));
      }
    } finally {
      await rename(`${repo}.away`, repo);
    }
    for (const id of ids) assert.equal((await stack.waitForRelease(id, ['committed', 'failed'], 120_000)).status, 'committed');
    const counts = releaseCounts(repo);
    for (const id of ids) assert.equal(counts.get(id), 1);
  });

  test('an environment with its own repository (FERRY_GITOPS_REPO_PROD_EU) gets its commits there, at <env>/<app>/', async () => {
    const eu = await release('shop', 'prod-eu');
    const st = await release('shop-eu-check', 'staging');
    const euRow = await stack.waitForRelease(eu, ['committed', 'failed'], 60_000);
    assert.equal(euRow.status, 'committed', JSON.stringify(euRow));
    assert.equal((await stack.waitForRelease(st, ['committed', 'failed'], 60_000)).status, 'committed');
    assert.equal(releaseCounts(euRepo).get(eu), 1);
    assert.equal(releaseCounts(stack.ferry.gitopsRepo).get(eu), undefined);
    assert.equal(releaseCounts(euRepo).get(st), undefined);
    assert.equal(gitSync(euRepo, 'rev-parse', `${euRow.gitopsCommit}`), euRow.gitopsCommit);
    assert.match(gitSync(euRepo, 'ls-tree', '-r', '--name-only', 'main'), /^prod-eu\/shop\//m);
  });
});
