// Gimlet users go back to an older version with `gimlet release make --artifact <older>`: through Gimlet's release
// request (POST /api/releases with Gimlet's body) that must deploy the older artifact again, as a new release with a
// new GitOps commit, and `release track` must follow that new release, not report the old one's commit.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fluxEvent, makeArtifact, useStack } from './support/stack';

const stack = useStack({ env: { FERRY_FLUX_TIMEOUT: '5m' } });

async function gimletRelease(artifactId: string): Promise<{ id: string; commit: string }> {
  const made = await stack().api('POST', '/api/releases', { env: 'staging', app: 'shop', artifactId, tenant: '', triggeredBy: '' });
  assert.ok(made.status >= 200 && made.status <= 206, JSON.stringify(made.body));
  const row = await stack().waitForRelease(made.body.id, ['reconciling', 'succeeded']);
  if (row.status === 'reconciling') await stack().postFlux(fluxEvent('ReconciliationSucceeded', row.gitopsCommit, { env: 'staging' }));
  await stack().waitForRelease(made.body.id, ['succeeded']);
  const track = await stack().api('GET', `/api/eventReleaseTrack?id=${encodeURIComponent(made.body.id)}`);
  assert.equal(track.body.status, 'processed');
  assert.equal(track.body.results[0].gitopsCommitStatus, 'ReconciliationSucceeded');
  return { id: made.body.id, commit: track.body.results[0].hash };
}

test('release make of an artifact that ran before deploys it again with a new commit', async () => {
  const older = await stack().api('POST', '/api/artifact', makeArtifact({ apps: [{ app: 'shop', env: 'staging' }] }));
  const newer = await stack().api('POST', '/api/artifact', makeArtifact({ apps: [{ app: 'shop', env: 'staging' }] }));
  const first = await gimletRelease(older.body.id);
  const second = await gimletRelease(newer.body.id);
  assert.notEqual(first.commit, second.commit);
  const head = stack().git('rev-parse', 'main');
  assert.equal(head, second.commit);

  const again = await gimletRelease(older.body.id);
  assert.notEqual(again.commit, first.commit, 'tracked to its own commit');
  assert.equal(stack().git('rev-parse', 'main'), again.commit, 'the older artifact is what the GitOps repository holds now');
  assert.match(stack().git('show', `${again.commit}:staging/shop/deployment-shop.yaml`), new RegExp(`:${older.body.version.sha}`));
});
