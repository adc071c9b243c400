// Backing services going away mid-release: the Temporal server restarts, PostgreSQL stops, the git remote vanishes.
// Every release resumes and ends with one commit once the service is back; the API says 503 meanwhile.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import { after, before, test } from 'node:test';
import { makeArtifact } from '../support/stack';
import type { Cluster } from '../support/processes';
import { assertExactlyOnce, FULL, inFlight, releaseApps, startSplitCluster } from './helpers';

const N = FULL ? 30 : 8;
let cluster: Cluster;
before(async () => {
  cluster = await startSplitCluster({ ownPostgres: true });
});
after(async () => {
  await cluster?.stop();
});

test('the Temporal server restarts mid-release (same database file): releases resume', async () => {
  const ids = await releaseApps(cluster, Array.from({ length: N }, (_, i) => `tr-${i}`));
  await cluster.stopTemporal();
  const pending = await inFlight(cluster, ids);
  const ready = await cluster.api('GET', '/readyz', undefined, { token: null });
  assert.equal(ready.status, 503);
  assert.equal(ready.body.checks.temporal, 'unreachable');
  await new Promise((r) => setTimeout(r, 2_000));
  await cluster.startTemporal();
  await assertExactlyOnce(cluster, ids, 90_000);
  // Not asserted (the releases may all have ended before the stop), but reported.
  process.stdout.write(`# temporal restart: ${pending} of ${ids.length} releases were in flight\n`);
});

test('PostgreSQL stops: the API answers 503 quickly, accepted artifacts survive, releases finish once it is back', async () => {
  const accepted = makeArtifact({ apps: [{ app: 'kept', env: 'staging' }] });
  const stored = await cluster.api('POST', '/api/artifacts', accepted);
  assert.equal(stored.status, 201);
  const ids = await releaseApps(cluster, Array.from({ length: N }, (_, i) => `pg-${i}`));
  await cluster.stopPostgres();

  // Not 500, not a hang: the request timeout here is far below anything a client would give up at.
  const reads = await cluster.api('GET', `/api/releases/${encodeURIComponent(ids[0])}`, undefined, { timeoutMs: 15_000 });
  assert.equal(reads.status, 503, JSON.stringify(reads.body));
  const writes = await cluster.api('POST', '/api/artifacts', makeArtifact({ apps: [{ app: 'later', env: 'staging' }] }), { timeoutMs: 15_000 });
  assert.equal(writes.status, 503, JSON.stringify(writes.body));
  assert.doesNotMatch(JSON.stringify(writes.body), /ECONN|127\.0\.0\.1|postgres:\/\//);
  const ready = await cluster.api('GET', '/readyz', undefined, { token: null, timeoutMs: 15_000 });
  assert.equal(ready.status, 503);
  assert.equal(ready.body.checks.postgres, 'unreachable');
  assert.equal((await cluster.api('GET', '/healthz', undefined, { token: null })).status, 200);

  await new Promise((r) => setTimeout(r, 2_000));
  await cluster.startPostgres();
  assert.equal((await cluster.apiRetrying('GET', `/api/artifacts/${stored.body.id}`)).status, 200);
  await assertExactlyOnce(cluster, ids, 120_000);
});

test('the git remote is unreachable, then back: releases wait and land once each', async () => {
  const moved = `${cluster.gitopsRepo}.away`;
  await fs.rename(cluster.gitopsRepo, moved);
  const ids = await releaseApps(cluster, Array.from({ length: N }, (_, i) => `git-${i}`));
  const ready = await cluster.api('GET', '/readyz', undefined, { token: null });
  assert.equal(ready.status, 503);
  assert.equal(ready.body.checks.git, 'unreachable');
  await new Promise((r) => setTimeout(r, 3_000));
  assert.equal(await inFlight(cluster, ids), N, 'a release ended while the remote was gone');
  await fs.rename(moved, cluster.gitopsRepo);
  await assertExactlyOnce(cluster, ids, 120_000);
});
