/**
 * `npm run bench:e2e`: the whole path through real components — artifacts pushed over HTTP, releases started over
 * HTTP at increasing rates, run by real Temporal workers, committed by the GitopsWriter (FERRY_AWAIT_FLUX=false,
 * so a release ends at `committed`). Reports sustained releases/s and p50/p99 from the API call to the pushed
 * commit (the `committed` timeline entry, written right after the push returned).
 *
 * Ferry runs as it is deployed: one `server/main.ts` process with every role, against a Temporal dev server
 * with a database file and PostgreSQL (embedded, or a scratch database on DATABASE_URL's server). This process is
 * only the load generator; it reads outcomes from PostgreSQL, so waiting for results puts no load on the API
 * being measured.
 *
 *   node --import tsx bench/e2e-releases.ts [--rates 1,2,5,10,20] [--seconds 10] [--no-docs]
 *     [--write direct|push]   how the writer updates the local bare repository: `direct` (the default, as for
 *                             `npm start`'s embedded repository) or through git's transport, as to a Git server
 *     [--temporal-in-memory]  dev server without a database file
 *     [--dump-history]        print one release's Temporal event timings per rate (where a release waits)
 *   BENCH_CPU_PROF=<dir>      V8 CPU profiles of Ferry's threads
 *   BENCH_NODE_ARGS="<flags>" extra node flags for Ferry's process, e.g. --perf-basic-prof for `perf record`
 */
import { Client as PgClient } from 'pg';
import { Cluster } from '../test/support/processes';
import { makeArtifact } from '../test/support/stack';
import { cpuByComponent, pct } from './support/repo';
import { machineDescription, writeDocSection } from './support/report';
import { arg } from './support/args';

const RATES = arg('rates', '1,2,5,10,20').split(',').map(Number);
const SECONDS = Number(arg('seconds', '10'));
const ENV = 'production';
const WRITE = arg('write', 'direct');
if (WRITE !== 'direct' && WRITE !== 'push') throw new Error(`--write must be direct or push, not ${WRITE}`);

interface Row {
  rate: number;
  offered: number;
  committed: number;
  failed: number;
  sustained: number;
  p50: number;
  p99: number;
  apiP99: number;
  /** CPU ms per committed release, by process */
  cpuMs: Record<string, number>;
  /** mean ms spent from the API call to each step's timeline entry, then between steps */
  stepsMs: Record<string, number>;
  /** the writer's pushes during this rate, and release commits per push (group commit) */
  pushes: number;
  commitsPerPush: number;
}

interface Outcome {
  status: string;
  committedAt: number | null;
  /** timeline statuses and their times, in order */
  steps: Array<[string, number]>;
}

/** Final outcomes of `ids`, read from the release mirror in PostgreSQL every 250 ms. */
async function waitForOutcomes(pg: PgClient, ids: string[], timeoutMs: number): Promise<Map<string, Outcome>> {
  const done = new Map<string, Outcome>();
  const deadline = Date.now() + timeoutMs;
  while (done.size < ids.length && Date.now() < deadline) {
    const open = ids.filter((id) => !done.has(id));
    const { rows } = await pg.query<{ id: string; status: string; timeline: Array<{ status: string; at: string }> }>(
      `SELECT id, status, timeline FROM releases WHERE id = ANY($1) AND status IN ('committed', 'succeeded', 'failed', 'timed-out')`,
      [open],
    );
    for (const r of rows) {
      const entry = r.timeline.find((t) => t.status === 'committed');
      const steps = r.timeline.filter((t, i, all) => i === 0 || all[i - 1]!.status !== t.status).map((t): [string, number] => [t.status, Date.parse(t.at)]);
      done.set(r.id, { status: r.status, committedAt: entry ? Date.parse(entry.at) : null, steps });
    }
    if (done.size < ids.length) await new Promise((r) => setTimeout(r, 250));
  }
  if (done.size < ids.length) throw new Error(`${ids.length - done.size} releases not final after ${timeoutMs} ms`);
  return done;
}

/** The writer's counters from Ferry's /metrics (git pushes and release commits so far). */
async function writerCounters(cluster: Cluster): Promise<{ pushes: number; commits: number }> {
  const res = await cluster.api<string>('GET', '/metrics');
  if (res.status !== 200) throw new Error(`GET /metrics: ${res.status}`);
  const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(String(res.body))?.[1] ?? NaN);
  return { pushes: value('ferry_git_pushes_total'), commits: value('ferry_git_commits_total') };
}

/** Debugging aid: one release's Temporal history with each event's offset from the first, in ms. */
async function dumpHistory(cluster: Cluster, releaseId: string): Promise<void> {
  const client = await cluster.temporalClient();
  const history = await client.workflow.getHandle(releaseId).fetchHistory();
  const t0 = Number(history.events![0]!.eventTime!.seconds) * 1000 + history.events![0]!.eventTime!.nanos! / 1e6;
  for (const e of history.events ?? []) {
    const t = Number(e.eventTime!.seconds) * 1000 + e.eventTime!.nanos! / 1e6;
    const attrs = e.activityTaskScheduledEventAttributes;
    process.stderr.write(`${String(Math.round(t - t0)).padStart(6)} ${e.eventType} ${attrs?.activityType?.name ?? ''}\n`);
  }
}

async function main(): Promise<void> {
  const cluster = await Cluster.start({
    ownPostgres: !process.env.DATABASE_URL && !process.env.FERRY_TEST_DATABASE_URL,
    temporalDbFile: !process.argv.includes('--temporal-in-memory'),
  });
  const rows: Row[] = [];
  let pg: PgClient | undefined;
  try {
    // BENCH_CPU_PROF=<dir>: V8 CPU profiles of Ferry's threads, written when it shuts down gracefully at the end
    const prof = process.env.BENCH_CPU_PROF;
    const nodeArgs = [...(prof ? ['--cpu-prof', `--cpu-prof-dir=${prof}`] : []), ...(process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean)];
    await cluster.spawn('ferry', ['api', 'release-worker', 'writer'], { FERRY_GITOPS_DIRECT_WRITE: WRITE === 'direct' ? 'true' : 'false' }, nodeArgs);
    pg = new PgClient({ connectionString: cluster.databaseUrl });
    await pg.connect();
    // Ferry's figure includes its git children (reaped, so counted in its cutime/cstime).
    const patterns = {
      ferry: /server\/main\.ts/,
      temporal: new RegExp(`start-dev .*--port ${cluster.temporalPort}\\b`),
      postgres: cluster.pgPort ? new RegExp(`postgres.*${cluster.dir}`) : /^$/,
    };
    const cpu = (): Record<string, number> => {
      const c = cpuByComponent(patterns);
      const self = process.cpuUsage();
      return { ...c, 'load generator': (self.user + self.system) / 1e6 };
    };
    let step = 0;
    for (const rate of RATES) {
      step++;
      const n = rate * SECONDS;
      // Artifacts first (CI pushes them when the build ends, before anyone releases), 20 at a time.
      const ids: Array<{ id: string; app: string }> = [];
      for (let i = 0; i < n; i += 20) {
        await Promise.all(
          Array.from({ length: Math.min(20, n - i) }, async (_, k) => {
            const app = `s${step}-app${i + k}`;
            const res = await cluster.api('POST', '/api/artifacts', makeArtifact({ apps: [{ app, env: ENV }] }));
            if (res.status !== 201 && res.status !== 200) throw new Error(`artifact push: ${res.status} ${JSON.stringify(res.body)}`);
            ids.push({ id: res.body.id, app });
          }),
        );
      }
      // Each push starts an artifact workflow (auto-release checks); let those finish so they are not counted
      // against the release rate.
      await new Promise((r) => setTimeout(r, 3000));

      const calls: Array<{ releaseId: string; at: number; apiMs: number }> = [];
      const cpuBefore = cpu();
      const writerBefore = await writerCounters(cluster);
      const t0 = Date.now();
      const inflight: Promise<void>[] = [];
      for (let i = 0; i < n; i++) {
        const wait = t0 + (i * 1000) / rate - Date.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        const a = ids[i]!;
        inflight.push(
          (async () => {
            const at = Date.now();
            const res = await cluster.api('POST', '/api/releases', { artifactId: a.id, env: ENV, app: a.app });
            if (res.status !== 202 && res.status !== 201) throw new Error(`release: ${res.status} ${JSON.stringify(res.body)}`);
            calls.push({ releaseId: res.body.id, at, apiMs: Date.now() - at });
          })(),
        );
      }
      await Promise.all(inflight);
      const outcomes = await waitForOutcomes(pg, calls.map((c) => c.releaseId), 600_000);
      const cpuAfter = cpu();
      const writerAfter = await writerCounters(cluster);
      const pushes = writerAfter.pushes - writerBefore.pushes;
      const lat: number[] = [];
      let lastCommit = 0;
      let failed = 0;
      for (const c of calls) {
        const o = outcomes.get(c.releaseId)!;
        if (o.committedAt === null) {
          failed++;
          continue;
        }
        lastCommit = Math.max(lastCommit, o.committedAt);
        lat.push(o.committedAt - c.at);
      }
      const stepSums = new Map<string, number[]>();
      for (const c of calls) {
        let prev: [string, number] = ['api', c.at];
        for (const step of outcomes.get(c.releaseId)!.steps) {
          const k = `${prev[0]}→${step[0]}`;
          stepSums.set(k, [...(stepSums.get(k) ?? []), step[1] - prev[1]]);
          prev = step;
        }
      }
      const stepsMs = Object.fromEntries([...stepSums].map(([k, v]) => [k, Math.round(v.reduce((a, b) => a + b, 0) / v.length)]));
      const row: Row = {
        rate,
        offered: n,
        committed: lat.length,
        failed,
        sustained: (lat.length / (lastCommit - t0)) * 1000,
        p50: pct(lat, 50),
        p99: pct(lat, 99),
        apiP99: pct(calls.map((c) => c.apiMs), 99),
        stepsMs,
        pushes,
        commitsPerPush: (writerAfter.commits - writerBefore.commits) / Math.max(1, pushes),
        cpuMs: Object.fromEntries(Object.keys(cpuAfter).map((k) => [k, Math.round(((cpuAfter[k]! - cpuBefore[k]!) * 1000) / Math.max(1, lat.length))])),
      };
      rows.push(row);
      if (process.argv.includes('--dump-history')) await dumpHistory(cluster, calls[Math.floor(calls.length / 2)]!.releaseId);
      process.stderr.write(`${JSON.stringify(row)}\n`);
    }
    // every release exactly once in the GitOps repo
    const counts = cluster.commitsByRelease();
    const dup = [...counts.values()].filter((c) => c > 1).length;
    const total = rows.reduce((s, r) => s + r.committed, 0);
    const md = [
      `Run ${new Date().toISOString().slice(0, 16)}Z, ${machineDescription()}. One Ferry process (API, release worker, writer worker), Temporal dev server with a database file, ${process.env.DATABASE_URL ? 'PostgreSQL on DATABASE_URL' : 'embedded PostgreSQL'}, local bare GitOps repo written ${WRITE === 'direct' ? 'directly (FERRY_GITOPS_DIRECT_WRITE, as the embedded default)' : 'through git push'}; ${SECONDS} s per rate; FERRY_AWAIT_FLUX=false.`,
      '',
      '| offered releases/s | releases | committed | failed | sustained releases/s | p50 API→pushed ms | p99 API→pushed ms | p99 POST /api/releases ms | pushes | commits per push |',
      '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
      ...rows.map((r) => `| ${r.rate} | ${r.offered} | ${r.committed} | ${r.failed} | ${r.sustained.toFixed(1)} | ${r.p50.toFixed(0)} | ${r.p99.toFixed(0)} | ${r.apiP99.toFixed(0)} | ${r.pushes} | ${r.commitsPerPush.toFixed(1)} |`),
      '',
      'Mean time per step (from the API call to the first timeline entry, then between entries), ms:',
      '',
      ...rows.map((r) => `- ${r.rate}/s: ${Object.entries(r.stepsMs).map(([k, v]) => `${k} ${v}`).join(', ')}`),
      '',
      'CPU time per committed release, by process (ms; 2 cores give 2,000 ms per second):',
      '',
      ...rows.map((r) => `- ${r.rate}/s: ${Object.entries(r.cpuMs).map(([k, v]) => `${k} ${v}`).join(', ')}`),
      '',
      `Commits carrying a release id: ${[...counts.values()].reduce((s, c) => s + c, 0)} for ${total} committed releases; ids on more than one commit: ${dup}.`,
    ].join('\n');
    process.stdout.write(`${md}\n`);
    if (!process.argv.includes('--no-docs')) writeDocSection('bench:e2e', md);
  } finally {
    await pg?.end().catch(() => undefined);
    if (process.env.BENCH_CPU_PROF) await cluster.kill('ferry', 'SIGTERM');
    await cluster.stop();
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(`${(e as Error).stack}\n`);
    process.exit(1);
  },
);
