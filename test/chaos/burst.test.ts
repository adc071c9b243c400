// A burst of releases across many apps with the release worker killed in the middle: afterwards 0 lost,
// 0 duplicated, and every status final and the same in the API, in Temporal and in git.
// npm test: 60 releases over 10 apps; npm run test:chaos: 500 over 50.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Cluster } from '../support/processes';
import { assertExactlyOnce, FULL, inFlight, releaseApps, startSplitCluster } from './helpers';

const RELEASES = FULL ? 500 : 60;
const APPS = FULL ? 50 : 10;
let cluster: Cluster;
before(async () => {
  cluster = await startSplitCluster();
});
after(async () => {
  await cluster?.stop();
});

test(`${RELEASES} releases over ${APPS} apps, the release worker killed halfway`, async () => {
  const t0 = Date.now();
  const mark = (what: string) => process.stdout.write(`# ${((Date.now() - t0) / 1000).toFixed(1)}s ${what}\n`);
  const apps = Array.from({ length: RELEASES }, (_, i) => `burst-${i % APPS}`);
  const firstHalf = await releaseApps(cluster, apps.slice(0, RELEASES / 2), 'prod', 32);
  mark('first half requested');
  await cluster.kill('worker');
  const pendingAtKill = await inFlight(cluster, firstHalf);
  // The second half is requested while no release worker runs: Temporal keeps the work until one is back.
  const secondHalf = releaseApps(cluster, apps.slice(RELEASES / 2), 'prod', 32);
  await cluster.spawn('worker', ['release-worker']);
  mark('worker back');
  const ids = [...firstHalf, ...(await secondHalf)];
  mark('second half requested');
  assert.equal(new Set(ids).size, RELEASES);
  const outcome = await assertExactlyOnce(cluster, ids, FULL ? 900_000 : 300_000);
  mark('all final');
  const commits = cluster.commitsByRelease();
  const tree = cluster.git('ls-tree', '--name-only', 'main', 'prod/').split('\n');
  assert.equal(tree.length, APPS);
  process.stdout.write(`# burst: ${RELEASES} releases, ${APPS} apps, ${pendingAtKill} in flight at the kill; lost ${outcome.lost}, duplicated ${outcome.duplicated}, statuses ${JSON.stringify(outcome.statuses)}, commits ${[...commits.values()].reduce((a, b) => a + b, 0)}\n`);
});
