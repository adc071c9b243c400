// API, release worker and writer as three OS processes sharing Temporal, PostgreSQL and git; probes, metrics and a
// graceful SIGTERM of each.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { makeArtifact } from '../support/stack';
import { Cluster } from '../support/processes';
import { getFreePort } from '../../server/tools';

let cluster: Cluster;
before(async () => {
  cluster = await Cluster.start();
  await Promise.all([
    cluster.spawn('api', ['api']),
    getFreePort().then((port) => cluster.spawn('worker', ['release-worker'], { FERRY_METRICS_PORT: '0', FERRY_TEMPORAL_METRICS_ADDRESS: `127.0.0.1:${port}` })),
    cluster.spawn('writer', ['writer'], { FERRY_METRICS_PORT: '0' }),
  ]);
});
after(async () => {
  await cluster?.stop();
});

test('a release runs through three processes; probes and metrics answer', async () => {
  assert.equal((await cluster.api('GET', '/healthz', undefined, { token: null })).status, 200);
  const ready = await cluster.api('GET', '/readyz', undefined, { token: null });
  assert.equal(ready.status, 200, JSON.stringify(ready.body));
  assert.deepEqual(ready.body.checks, { postgres: 'ok', temporal: 'ok', git: 'ok' });

  const artifact = makeArtifact({ apps: [{ app: 'split', env: 'staging' }] });
  const pushed = await cluster.api('POST', '/api/artifacts', artifact);
  assert.equal(pushed.status, 201);
  const started = await cluster.api('POST', '/api/releases', { artifactId: pushed.body.id, env: 'staging' });
  assert.equal(started.status, 202);
  const done = await cluster.waitForReleases([started.body.id], 60_000);
  assert.equal(done.get(started.body.id).status, 'committed');
  assert.equal(cluster.commitsByRelease().get(started.body.id), 1);

  assert.equal((await cluster.api('GET', '/metrics', undefined, { token: null })).status, 401);
  const metrics = await cluster.api<string>('GET', '/metrics');
  assert.equal(metrics.status, 200);
  assert.match(metrics.body, /ferry_http_requests_total\{method="POST",route="\/api\/releases",status="202"\} 1/);
  assert.match(metrics.body, /ferry_releases\{status="committed"\} 1/);

  // The writer process has no API, but serves its own probes and metrics.
  const writerUrl = JSON.parse(cluster.procs.get('writer')!.lines.find((l) => l.includes('"msg":"ferry ready"'))!).opsUrl as string;
  const wm = await fetch(`${writerUrl}/metrics`, { headers: { authorization: `Bearer ${'test-admin-token-0123456789'}` } });
  const text = await wm.text();
  assert.match(text, /ferry_git_commits_total 1/);
  assert.match(text, /ferry_git_commit_latency_seconds_count\{status="committed"\} 1/);
  assert.equal((await fetch(`${writerUrl}/readyz`)).status, 200);
  assert.equal((await fetch(`${writerUrl}/metrics`)).status, 401);

  // The release worker appends the Temporal SDK's runtime metrics (served on loopback) to its own.
  const workerUrl = JSON.parse(cluster.procs.get('worker')!.lines.find((l) => l.includes('"msg":"ferry ready"'))!).opsUrl as string;
  // The duration is observed when the release notifies, which happens after its final state is recorded (and after
  // it left its ordering lane): scrape until it shows, within a bound.
  const scrape = async () => (await fetch(`${workerUrl}/metrics`, { headers: { authorization: 'Bearer test-admin-token-0123456789' } })).text();
  let workerMetrics = await scrape();
  for (let i = 0; i < 100 && !/ferry_release_duration_seconds_count\{status="committed"\} 1/.test(workerMetrics); i++) {
    await new Promise((r) => setTimeout(r, 100));
    workerMetrics = await scrape();
  }
  assert.match(workerMetrics, /ferry_release_duration_seconds_count\{status="committed"\} 1/);
  assert.match(workerMetrics, /^temporal_\w+/m);
});

test('SIGTERM: every process drains and exits 0', async () => {
  // A request in flight when the API is told to stop still gets its answer.
  const artifact = makeArtifact({ apps: [{ app: 'drain', env: 'staging' }] });
  const inFlight = cluster.api('POST', '/api/artifacts', artifact).then((r) => r.status, () => 'connection refused');
  const exits = await Promise.all(['api', 'worker', 'writer'].map((n) => cluster.kill(n, 'SIGTERM')));
  for (const e of exits) assert.deepEqual(e, { code: 0, signal: null });
  const answered = await inFlight;
  assert.ok(answered === 201 || answered === 'connection refused', String(answered));
  for (const n of ['api', 'worker', 'writer']) {
    const lines = cluster.procs.get(n)!.lines;
    assert.ok(lines.some((l) => l.includes('"msg":"stopped"')), `${n} did not log "stopped":\n${lines.slice(-10).join('\n')}`);
  }
});
