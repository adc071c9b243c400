// SIGKILL one Ferry process mid-release (release worker, writer, API): every release still ends, one commit each.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Cluster } from '../support/processes';
import { assertExactlyOnce, FULL, inFlight, releaseApps, startSplitCluster, waitUntilAny } from './helpers';

const N = FULL ? 40 : 12;
let cluster: Cluster;
before(async () => {
  cluster = await startSplitCluster();
});
after(async () => {
  await cluster?.stop();
});

test('the release worker is killed mid-release and replaced', async () => {
  const ids = await releaseApps(cluster, Array.from({ length: N }, (_, i) => `rw-${i}`));
  await waitUntilAny(cluster, ids, ['rendering', 'committing', 'committed']);
  await cluster.kill('worker');
  const pending = await inFlight(cluster, ids);
  assert.ok(pending > 0, 'every release had ended before the kill; nothing was tested');
  await cluster.spawn('worker', ['release-worker']);
  await assertExactlyOnce(cluster, ids, 120_000);
});

test('the writer is killed mid-commit and replaced', async () => {
  const ids = await releaseApps(cluster, Array.from({ length: N }, (_, i) => `wr-${i}`));
  await waitUntilAny(cluster, ids, ['committing']);
  await cluster.kill('writer');
  assert.ok((await inFlight(cluster, ids)) > 0);
  await cluster.spawn('writer', ['writer']);
  await assertExactlyOnce(cluster, ids, 120_000);
});

test('the API is killed while requests are in flight; clients retry and nothing is lost or doubled', async () => {
  const apps = Array.from({ length: N }, (_, i) => `api-${i}`);
  const requests = releaseApps(cluster, apps, 'staging', 4);
  await new Promise((r) => setTimeout(r, 300));
  await cluster.kill('api');
  await new Promise((r) => setTimeout(r, 500));
  await cluster.spawn('api', ['api']);
  const ids = await requests;
  assert.equal(new Set(ids).size, N);
  // Generous: the claim is that every release ends once, not how fast on a loaded 2-core machine.
  await assertExactlyOnce(cluster, ids, 180_000);
});
