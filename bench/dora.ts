// `npm run bench:dora`: the DORA figures (GET /api/insights/dora and /metrics) with 100,000 releases in PostgreSQL.
//
// Seeds a scratch database on DATABASE_URL's server (or an embedded PostgreSQL) with artifacts and releases shaped
// like real ones: source commit times, timelines with and without a commit, Flux failures, automatic and manual
// rollbacks, all spread over ~70 days. Then times doraFigures, the one statement behind the route and the metrics,
// for each filter the API takes, and prints the machine, the plans and a Markdown table for docs/performance.md.
//
// Options (env): BENCH_RELEASES (100000), BENCH_RUNS per query shape (30), BENCH_APPS (40).
import os from 'node:os';
import { execFileSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import type { Db } from '../src/store/db';
import { doraFigures, type DoraQuery, doraStatement } from '../src/store/insights';
import { seededDatabase } from './support/database';

const RELEASES = Number(process.env.BENCH_RELEASES ?? 100_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 30);
const APPS = Number(process.env.BENCH_APPS ?? 40);
const ENVS = ['dev', 'staging', 'production', 'qa'];

async function seed(db: Db): Promise<void> {
  const artifacts = Math.ceil(RELEASES / ENVS.length);
  // One artifact per CI build every minute, newest last; its source commit 5 to 95 minutes before the build.
  await db.query(
    `INSERT INTO artifacts (id, repository, sha, branch, event, body, body_hash, created_at, source_created_at)
     SELECT 'bench-' || i, 'acme/app-' || (i % $2), md5(i::text) || substr(md5((i * 7)::text), 1, 8), 'main', 'push',
            jsonb_build_object('id', 'bench-' || i, 'version', jsonb_build_object('sha', md5(i::text), 'repositoryName', 'acme/app-' || (i % $2))),
            md5('body' || i), now() - (($1 - i) * interval '4 minutes'), now() - (($1 - i) * interval '4 minutes') - ((5 + i % 90) * interval '1 minute')
     FROM generate_series(1, $1) AS i`,
    [artifacts, APPS],
  );
  // Mostly succeeded; 3% failed on Flux's word, some superseded or rejected; 1 in 50 successes was a no-op.
  await db.query(
    `INSERT INTO releases (id, app, env, artifact_id, sha, branch, trigger, released_by, status, gitops_commit, flux_status, flux_outcome, error,
                           timeline, run_id, seq, created_at, updated_at, decisions, finished_at)
     SELECT 'release:app-' || (a.n % $2) || ':' || e.env || ':' || a.id, 'app-' || (a.n % $2), e.env, a.id, a.sha, 'main', 'manual', 'ci', s.status,
            CASE WHEN s.status IN ('succeeded', 'failed') THEN md5(a.id || e.env) END,
            CASE WHEN s.status = 'succeeded' THEN 'ReconciliationSucceeded' WHEN s.status = 'failed' THEN 'ReconciliationFailed' END,
            CASE WHEN s.status = 'failed' THEN 'failed' WHEN s.status = 'succeeded' THEN 'succeeded' END,
            CASE WHEN s.status = 'failed' THEN 'Flux ReconciliationFailed' END,
            CASE WHEN s.status = 'failed' OR (s.status = 'succeeded' AND a.n % 50 <> 0)
              THEN jsonb_build_array(jsonb_build_object('status', 'pending', 'at', a.created_at), jsonb_build_object('status', 'committing', 'at', a.created_at),
                     jsonb_build_object('status', 'committed', 'at', a.created_at), jsonb_build_object('status', s.status, 'at', a.created_at))
              ELSE jsonb_build_array(jsonb_build_object('status', 'pending', 'at', a.created_at), jsonb_build_object('status', s.status, 'at', a.created_at)) END,
            'bench-run', 6, a.created_at + e.k * interval '30 seconds', a.created_at + e.k * interval '30 seconds' + interval '40 seconds', '[]'::jsonb,
            a.created_at + e.k * interval '30 seconds' + interval '40 seconds'
     FROM (SELECT id, sha, created_at, row_number() OVER (ORDER BY created_at) AS n FROM artifacts WHERE id LIKE 'bench-%' LIMIT $1::int) a
     CROSS JOIN (VALUES ('dev', 0), ('staging', 1), ('production', 2), ('qa', 3)) AS e(env, k)
     CROSS JOIN LATERAL (SELECT CASE
         WHEN (a.n * 7 + e.k) % 100 < 3 THEN 'failed'
         WHEN (a.n * 7 + e.k) % 100 < 5 THEN 'superseded'
         WHEN (a.n * 7 + e.k) % 100 < 6 THEN 'rejected'
         ELSE 'succeeded' END AS status) s
     LIMIT $3::int`,
    [artifacts, APPS, RELEASES],
  );
  // Every Flux failure is rolled back automatically, and 1% of successes by hand, a few minutes later.
  await db.query(
    `INSERT INTO releases (id, app, env, artifact_id, sha, branch, trigger, released_by, status, gitops_commit, flux_outcome, timeline, run_id, seq,
                           created_at, updated_at, finished_at, rollback_of)
     SELECT r.id || ':rollback', r.app, r.env, r.artifact_id, r.sha, 'main', 'rollback',
            CASE WHEN r.status = 'failed' THEN 'ferry:auto-rollback' ELSE 'alice' END, 'succeeded', md5(r.id || 'rb'), 'succeeded',
            jsonb_build_array(jsonb_build_object('status', 'committed', 'at', r.finished_at), jsonb_build_object('status', 'succeeded', 'at', r.finished_at)),
            'bench-run', 4, r.finished_at + interval '2 minutes', r.finished_at + interval '3 minutes', r.finished_at + interval '3 minutes', r.id
     FROM releases r WHERE r.status = 'failed' OR (r.status = 'succeeded' AND hashtext(r.id) % 100 = 0)`,
  );
  await db.query('ANALYZE artifacts');
  await db.query('ANALYZE releases');
}

async function main(): Promise<void> {
  const { db, releases: count, pgVersion, embedded, close } = await seededDatabase({ name: 'dora', poolSize: 4, seed });
  try {
    const to = new Date();
    const ago = (days: number) => new Date(to.getTime() - days * 86_400_000);
    const app = () => `app-${Math.floor(Math.random() * APPS)}`;
    const env = () => ENVS[Math.floor(Math.random() * ENVS.length)];
    const shapes: Array<{ name: string; q: () => DoraQuery }> = [
      { name: 'app + env, 30 days', q: () => ({ app: app(), env: env(), from: ago(30), to }) },
      { name: 'env, 30 days', q: () => ({ env: env(), from: ago(30), to }) },
      { name: 'app, 30 days', q: () => ({ app: app(), from: ago(30), to }) },
      { name: 'everything, 30 days', q: () => ({ from: ago(30), to }) },
      { name: 'everything, 365 days (all releases)', q: () => ({ from: ago(365), to }) },
      { name: '/metrics: per env, 30 days', q: () => ({ from: ago(30), to, byEnv: true }) },
    ];
    if (process.env.BENCH_EXPLAIN) {
      const { sql, params } = doraStatement(process.env.BENCH_EXPLAIN === 'app-env' ? { app: 'app-3', env: 'production', from: ago(30), to } : { from: ago(30), to });
      await db.query('SET jit = off');
      const plan = await db.query(`EXPLAIN (ANALYZE) ${sql}`, params);
      process.stderr.write(`${plan.rows.map((r) => r['QUERY PLAN']).join('\n')}\n`);
    }
    const rows: string[] = [];
    let sample = '';
    for (const s of shapes) {
      for (let i = 0; i < 3; i++) await doraFigures(db, s.q()); // warm-up
      const times: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        const t = performance.now();
        const f = await doraFigures(db, s.q());
        times.push(performance.now() - t);
        if (s.name === 'everything, 30 days' && i === 0) sample = JSON.stringify(f[0]);
      }
      times.sort((a, b) => a - b);
      const p = (q: number) => times[Math.min(times.length - 1, Math.ceil(q * times.length) - 1)].toFixed(1);
      rows.push(`| ${s.name} | ${p(0.5)} | ${p(0.95)} | ${times.at(-1)!.toFixed(1)} |`);
      process.stderr.write(`${s.name}: p50 ${p(0.5)} ms\n`);
    }
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    const cpu = os.cpus();
    const out = [
      `${new Date().toISOString().slice(0, 10)}, commit ${commit}, \`${embedded ? '' : 'DATABASE_URL=… '}npm run bench:dora\`. Machine: ${cpu[0]?.model ?? 'unknown CPU'} (${cpu.length} logical CPUs, shared), ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM, Node ${process.version}, PostgreSQL ${pgVersion} (${embedded ? 'embedded, default settings' : 'DATABASE_URL server'}), load average at start ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}.`,
      `Data: ${count} releases (${APPS} apps × ${ENVS.length} envs over ~${Math.round((RELEASES / ENVS.length) * 4 / 1440)} days, rollbacks included). ${RUNS} sequential runs of doraFigures per row after 3 warm-ups; times are client-side.`,
      '',
      '| Query | p50 ms | p95 ms | max ms |',
      '|---|---|---|---|',
      ...rows,
      '',
      `Sample answer (everything, 30 days): \`${sample}\``,
    ];
    process.stdout.write(`${out.join('\n')}\n`);
  } finally {
    await close();
  }
}

main().catch((err) => {
  process.stderr.write(`bench: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
