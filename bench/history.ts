// `npm run bench:history`: release history and status over HTTP with 100,000 releases in PostgreSQL.
//
// Seeds an embedded PostgreSQL (or a scratch database on DATABASE_URL's server) with artifacts and releases shaped
// like real ones (timelines, decisions, a mix of outcomes), starts the real API, and measures each kind of history
// query the UI makes with sequential keep-alive requests. Prints the machine, the query plans and a Markdown table
// for docs/performance.md.
//
// Options (env): BENCH_RELEASES (100000), BENCH_REQUESTS per query kind (1000), BENCH_APPS (40).
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { Client, Connection } from '@temporalio/client';
import { createApi } from '../api/app';
import { adminTokenAuthenticator } from '../api/auth';
import { NO_ENVIRONMENTS } from '../src/config-files';
import { silentLogger } from '../src/log';
import type { Db } from '../src/store/db';
import { seededDatabase } from './support/database';

const RELEASES = Number(process.env.BENCH_RELEASES ?? 100_000);
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 1000);
const APPS = Number(process.env.BENCH_APPS ?? 40);
const ENVS = ['dev', 'staging', 'production', 'qa'];
const TOKEN = 'bench-admin-token-0123456789';

async function seed(db: Db): Promise<void> {
  const artifacts = Math.ceil(RELEASES / ENVS.length);
  // One artifact per CI build, released to each env one after another; a minute apart, newest last.
  await db.query(
    `INSERT INTO artifacts (id, repository, sha, branch, event, body, body_hash, created_at)
     SELECT 'bench-' || i, 'acme/app-' || (i % $2), md5(i::text) || substr(md5((i * 7)::text), 1, 8), 'main', 'push',
            jsonb_build_object('id', 'bench-' || i, 'version', jsonb_build_object('sha', md5(i::text) || substr(md5((i * 7)::text), 1, 8),
              'repositoryName', 'acme/app-' || (i % $2), 'branch', 'main', 'event', 'push', 'authorName', 'Ada', 'message', 'change ' || i),
              'vars', jsonb_build_object('IMAGE', 'registry.example.com/acme/app-' || (i % $2)), 'items', '[]'::jsonb, 'environments', '[]'::jsonb),
            md5('body' || i), now() - (($1 - i) * interval '1 minute')
     FROM generate_series(1, $1) AS i`,
    [artifacts, APPS],
  );
  // Outcomes: mostly succeeded; some failed, superseded, rejected, expired, timed out; the newest few in flight.
  await db.query(
    `INSERT INTO releases (id, app, env, artifact_id, sha, branch, trigger, released_by, status, gitops_commit, flux_status, error,
                           timeline, run_id, seq, created_at, updated_at, decisions, finished_at)
     SELECT 'release:app-' || (a.n % $2) || ':' || e.env || ':' || a.id,
            'app-' || (a.n % $2), e.env, a.id, a.sha, 'main',
            (ARRAY['manual', 'promote', 'promote', 'rollback'])[1 + (a.n + e.k) % 4],
            (ARRAY['ci', 'alice', 'bob', 'ferry:auto-promote'])[1 + (a.n * 3 + e.k) % 4],
            s.status,
            CASE WHEN s.status IN ('succeeded', 'failed', 'timed-out') THEN md5(a.id || e.env) || substr(md5(e.env), 1, 8) END,
            CASE WHEN s.status = 'succeeded' THEN 'ReconciliationSucceeded' END,
            CASE WHEN s.status = 'failed' THEN 'Flux ReconciliationFailed: dry-run failed' END,
            jsonb_build_array(
              jsonb_build_object('status', 'pending', 'at', a.created_at + e.k * interval '2 minutes', 'message', 'requested by ci (manual)'),
              jsonb_build_object('status', 'rendering', 'at', a.created_at + e.k * interval '2 minutes' + interval '1 second'),
              jsonb_build_object('status', 'committing', 'at', a.created_at + e.k * interval '2 minutes' + interval '2 seconds', 'message', '3 files'),
              jsonb_build_object('status', 'committed', 'at', a.created_at + e.k * interval '2 minutes' + interval '3 seconds', 'message', 'pushed'),
              jsonb_build_object('status', 'reconciling', 'at', a.created_at + e.k * interval '2 minutes' + interval '3 seconds'),
              jsonb_build_object('status', s.status, 'at', a.created_at + e.k * interval '2 minutes' + interval '40 seconds')),
            'bench-run', 6,
            a.created_at + e.k * interval '2 minutes', a.created_at + e.k * interval '2 minutes' + interval '40 seconds',
            CASE WHEN e.env = 'production' THEN jsonb_build_array(jsonb_build_object('kind', 'approve', 'by', 'bob', 'at', a.created_at, 'comment', 'ok')) ELSE '[]'::jsonb END,
            CASE WHEN s.status NOT IN ('awaiting-approval', 'reconciling') THEN a.created_at + e.k * interval '2 minutes' + interval '40 seconds' END
     FROM (SELECT id, sha, created_at, row_number() OVER (ORDER BY created_at) AS n FROM artifacts WHERE id LIKE 'bench-%') a
     CROSS JOIN (VALUES ('dev', 0), ('staging', 1), ('production', 2), ('qa', 3)) AS e(env, k)
     CROSS JOIN LATERAL (SELECT CASE
         WHEN a.n > $1 - 3 THEN 'awaiting-approval'
         WHEN (a.n * 7 + e.k) % 100 < 3 THEN 'failed'
         WHEN (a.n * 7 + e.k) % 100 < 6 THEN 'superseded'
         WHEN (a.n * 7 + e.k) % 100 < 7 THEN 'rejected'
         WHEN (a.n * 7 + e.k) % 200 = 15 THEN 'expired'
         WHEN (a.n * 7 + e.k) % 200 = 17 THEN 'timed-out'
         ELSE 'succeeded' END AS status) s
     LIMIT $3`,
    [artifacts, APPS, RELEASES],
  );
  await db.query('ANALYZE artifacts');
  await db.query('ANALYZE releases');
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function main(): Promise<void> {
  const { db, releases: count, pgVersion, embedded, close } = await seededDatabase({ name: 'history', poolSize: 10, seed });
  let server: Server | undefined;
  try {
    // The history routes never touch Temporal; a lazy connection is never opened.
    const temporal = new Client({ connection: Connection.lazy({ address: '127.0.0.1:1' }) });
    const app = createApi({
      db, temporal, log: silentLogger, authenticate: adminTokenAuthenticator(TOKEN), taskQueue: 'bench', writerTaskQueue: 'bench',
      awaitFlux: true, fluxTimeout: '15m', maxBody: '1mb', environments: NO_ENVIRONMENTS, branchRestrictions: [], mainBranch: 'main',
    });
    server = await new Promise<Server>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const get = async (route: string) => {
      const res = await fetch(`${base}${route}`, { headers: { authorization: `Bearer ${TOKEN}` } });
      const body = await res.json();
      if (res.status !== 200) throw new Error(`${route}: ${res.status} ${JSON.stringify(body)}`);
      return body as { items: Array<{ id: string }>; nextBefore: string | null };
    };

    const rnd = (n: number) => Math.floor(Math.random() * n);
    const anApp = () => `app-${rnd(APPS)}`;
    const anEnv = () => ENVS[rnd(ENVS.length)];
    // Cursors deep in one app/env's history (page 20 of 50 items), gathered before measuring.
    const deep: string[] = [];
    for (let i = 0; i < 20; i++) {
      let cursor: string | null = null;
      const app = anApp();
      const env = anEnv();
      for (let p = 0; p < 20; p++) cursor = (await get(`/api/releases?app=${app}&env=${env}${cursor ? `&before=${encodeURIComponent(cursor)}` : ''}`)).nextBefore;
      if (cursor) deep.push(`/api/releases?app=${app}&env=${env}&before=${encodeURIComponent(cursor)}`);
    }
    const someIds = (await get('/api/releases?limit=200')).items.map((r) => r.id);

    const kinds: Array<{ name: string; route: () => string }> = [
      { name: 'app + env, first page (50)', route: () => `/api/releases?app=${anApp()}&env=${anEnv()}` },
      { name: 'app, first page (50)', route: () => `/api/releases?app=${anApp()}` },
      { name: 'env + status=failed', route: () => `/api/releases?env=${anEnv()}&status=failed` },
      { name: 'status=rejected (rare)', route: () => `/api/releases?status=rejected` },
      { name: 'app + env + status=succeeded', route: () => `/api/releases?app=${anApp()}&env=${anEnv()}&status=succeeded` },
      { name: 'everything, first page (50)', route: () => '/api/releases' },
      // Small data sets (BENCH_RELEASES of a few thousand) have no page 21 to measure.
      ...(deep.length > 0 ? [{ name: 'app + env, page 21 (keyset)', route: () => deep[rnd(deep.length)]! }] : []),
      { name: 'app + env, 200 per page', route: () => `/api/releases?app=${anApp()}&env=${anEnv()}&limit=200` },
      { name: 'GET /api/releases/:id', route: () => `/api/releases/${encodeURIComponent(someIds[rnd(someIds.length)])}` },
      { name: 'GET /api/status?app= (4 envs)', route: () => `/api/status?app=${anApp()}` },
    ];

    const rows: string[] = [];
    for (const kind of kinds) {
      for (let i = 0; i < 50; i++) await get(kind.route()); // warm-up
      const times: number[] = [];
      for (let i = 0; i < REQUESTS; i++) {
        const route = kind.route();
        const t = performance.now();
        await get(route);
        times.push(performance.now() - t);
      }
      times.sort((a, b) => a - b);
      const f = (ms: number) => ms.toFixed(2);
      rows.push(`| ${kind.name} | ${f(percentile(times, 50))} | ${f(percentile(times, 95))} | ${f(percentile(times, 99))} | ${f(times[times.length - 1])} |`);
      process.stderr.write(`${kind.name}: p50 ${f(percentile(times, 50))} ms, p99 ${f(percentile(times, 99))} ms\n`);
    }

    const plans: string[] = [];
    for (const [label, sql, params] of [
      ['app + env', `SELECT * FROM releases WHERE app = $1 AND env = $2 ORDER BY created_at DESC, id DESC LIMIT 51`, ['app-1', 'production']],
      ['env + status', `SELECT * FROM releases WHERE env = $1 AND status = $2 ORDER BY created_at DESC, id DESC LIMIT 51`, ['production', 'failed']],
      ['app + env, keyset', `SELECT * FROM releases WHERE app = $1 AND env = $2 AND (created_at, id) < (now() - interval '5 days', 'x') ORDER BY created_at DESC, id DESC LIMIT 51`, ['app-1', 'production']],
      ['current (status)', `SELECT * FROM releases WHERE app = $1 AND env = $2 AND (status = 'succeeded' OR (status = 'committed' AND finished_at IS NOT NULL)) ORDER BY finished_at DESC, id DESC LIMIT 1`, ['app-1', 'production']],
    ] as const) {
      const plan = await db.query(`EXPLAIN ${sql}`, [...params]);
      plans.push(`${label}: ${plan.rows.map((r) => String(r['QUERY PLAN']).trim()).filter((l) => /Scan/.test(l)).join(' / ')}`);
    }

    const cpu = os.cpus();
    const out = [
      `Machine: ${cpu[0]?.model ?? 'unknown CPU'} (${cpu.length} logical CPUs), ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM, ${os.type()} ${os.release()}, Node ${process.version}, PostgreSQL ${pgVersion} (${embedded ? 'embedded, default settings' : 'DATABASE_URL server'}), load average at start ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}.`,
      `Data: ${count} releases (${APPS} apps × ${ENVS.length} envs), ${Math.ceil(RELEASES / ENVS.length)} artifacts. ${REQUESTS} sequential keep-alive requests per row after 50 warm-up requests; times are client-side, request to parsed JSON.`,
      '',
      '| Query | p50 ms | p95 ms | p99 ms | max ms |',
      '|---|---|---|---|---|',
      ...rows,
      '',
      'Plans:',
      ...plans.map((p) => `- ${p}`),
    ];
    process.stdout.write(`${out.join('\n')}\n`);
  } finally {
    if (server) await new Promise<void>((r) => { server?.close(() => r()); server?.closeAllConnections(); });
    await close();
  }
}

main().catch((err) => {
  process.stderr.write(`bench: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
