import assert from 'node:assert/strict';
import { makeArtifact } from '../support/stack';
import { Cluster, type ClusterOptions } from '../support/processes';

/** FERRY_CHAOS=full (npm run test:chaos) runs the big numbers; npm test runs the short form. */
export const FULL = process.env.FERRY_CHAOS === 'full';

/** A cluster with Ferry split as in production: an API, a release worker and a writer, each its own process. */
export async function startSplitCluster(opts: ClusterOptions = {}): Promise<Cluster> {
  const cluster = await Cluster.start(opts);
  await Promise.all([cluster.spawn('api', ['api']), cluster.spawn('worker', ['release-worker']), cluster.spawn('writer', ['writer'])]);
  return cluster;
}

/** Pushes one artifact per app and starts its release the way CI would: retrying until the API accepts. */
export async function releaseApps(cluster: Cluster, apps: string[], env = 'staging', concurrency = 16): Promise<string[]> {
  const ids: string[] = new Array(apps.length);
  let next = 0;
  const one = async () => {
    for (let i = next++; i < apps.length; i = next++) {
      const artifact = makeArtifact({ apps: [{ app: apps[i], env }] });
      const pushed = await cluster.apiRetrying('POST', '/api/artifacts', artifact, 120_000);
      assert.ok(pushed.status === 201 || pushed.status === 200, `push ${apps[i]}: ${pushed.status} ${JSON.stringify(pushed.body)}${serverError(cluster)}`);
      const started = await cluster.apiRetrying('POST', '/api/releases', { artifactId: pushed.body.id, env, app: apps[i] }, 120_000);
      assert.ok(started.status === 202 || started.status === 200, `release ${apps[i]}: ${started.status} ${JSON.stringify(started.body)}${serverError(cluster)}`);
      ids[i] = started.body.id;
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, apps.length) }, one));
  return ids;
}

/** The API's last logged request failure: a 500 says only "internal error" to the client, the log says why. */
function serverError(cluster: Cluster): string {
  const lines = [...cluster.procs.values()].flatMap((p) => p.lines.filter((l) => l.includes('"request failed"')));
  return lines.length ? `\nlast request failure logged by the API: ${lines.at(-1)!.slice(0, 3000)}` : '';
}

/** Polls until some release of `ids` has one of `statuses` (the moment to break something "mid-release"). */
export async function waitUntilAny(cluster: Cluster, ids: string[], statuses: string[], timeoutMs = 30_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    for (const id of ids) {
      const r = await cluster.api('GET', `/api/releases/${encodeURIComponent(id)}`).catch(() => null);
      if (r?.status === 200 && statuses.includes(r.body.status)) return id;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`no release reached ${statuses.join('|')} within ${timeoutMs} ms`);
}

/** How many of `ids` are not in a final state right now. */
export async function inFlight(cluster: Cluster, ids: string[]): Promise<number> {
  const rows = await cluster.databaseRows(ids);
  return ids.filter((id) => !['committed', 'succeeded', 'failed', 'timed-out'].includes(rows.get(id) ?? 'pending')).length;
}

/** Every release final and `committed`, with exactly one commit on the GitOps branch each, and Temporal agreeing. */
export async function assertExactlyOnce(cluster: Cluster, ids: string[], timeoutMs: number): Promise<{ lost: number; duplicated: number; statuses: Record<string, number> }> {
  const rows = await cluster.waitForReleases(ids, timeoutMs);
  const commits = cluster.commitsByRelease();
  const statuses: Record<string, number> = {};
  let lost = 0;
  let duplicated = 0;
  for (const id of ids) {
    const row = rows.get(id);
    statuses[row.status] = (statuses[row.status] ?? 0) + 1;
    const n = commits.get(id) ?? 0;
    if (n === 0) lost += 1;
    if (n > 1) duplicated += 1;
    if (n === 1) {
      const sha = cluster.git('log', '--format=%H', '-1', `--grep=^Ferry-Release-Id: ${id}$`, 'main');
      assert.equal(row.gitopsCommit, sha, `${id}: API says ${row.gitopsCommit}, git says ${sha}`);
    }
  }
  const temporal = await cluster.temporalClient();
  const notCompleted: string[] = [];
  await Promise.all(ids.map(async (id) => {
    // The row turns final before the workflow's last step (the notification) ends: wait for the result first.
    const result = await Promise.race([
      temporal.workflow.getHandle(id).result(),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${id}: no workflow result within 60s`)), 60_000).unref()),
    ]);
    const d = await temporal.workflow.getHandle(id).describe();
    if (d.status.name !== 'COMPLETED') notCompleted.push(`${id}: ${d.status.name}`);
    if (result.status !== rows.get(id).status) notCompleted.push(`${id}: Temporal ${result.status}, API ${rows.get(id).status}`);
  }));
  assert.deepEqual(notCompleted, []);
  assert.deepEqual({ lost, duplicated, statuses }, { lost: 0, duplicated: 0, statuses: { committed: ids.length } });
  return { lost, duplicated, statuses };
}
