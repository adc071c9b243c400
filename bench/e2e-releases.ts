/**
 * `npm run bench:e2e`: the whole path through real components — artifacts pushed over HTTP, releases started over
 * HTTP at increasing rates, run by real Temporal workers, committed by the GitopsWriter (FERRY_AWAIT_FLUX=false,
 * so a release ends at `committed`). Reports sustained releases/s and p50/p99 from the API call to the pushed
 * commit (the `committed` timeline entry, written right after the push returned).
 *
 *   node --import tsx bench/e2e-releases.ts [--rates 5,10,20,40] [--seconds 8] [--no-docs]
 */
import { makeArtifact, startStack, stopSharedTemporal } from '../test/support/stack';
import { pct } from './support/repo';
import { machineDescription, writeDocSection } from './support/report';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : def;
}

const RATES = arg('rates', '5,10,20,40').split(',').map(Number);
const SECONDS = Number(arg('seconds', '8'));

interface Row {
  rate: number;
  offered: number;
  committed: number;
  sustained: number;
  p50: number;
  p99: number;
  apiP99: number;
}

async function main(): Promise<void> {
  const stack = await startStack({ env: { FERRY_AWAIT_FLUX: 'false' } });
  const rows: Row[] = [];
  try {
    let step = 0;
    for (const rate of RATES) {
      step++;
      const n = rate * SECONDS;
      // artifacts first (CI pushes them when the build ends, before anyone releases)
      const ids: Array<{ id: string; app: string }> = [];
      for (let i = 0; i < n; i += 20) {
        await Promise.all(
          Array.from({ length: Math.min(20, n - i) }, async (_, k) => {
            const app = `s${step}-app${i + k}`;
            const res = await stack.api('POST', '/api/artifacts', makeArtifact({ apps: [{ app, env: 'production' }] }));
            if (res.status !== 201 && res.status !== 200) throw new Error(`artifact push: ${res.status} ${JSON.stringify(res.body)}`);
            ids.push({ id: res.body.id, app });
          }),
        );
      }
      const calls: Array<{ releaseId: string; at: number; apiMs: number }> = [];
      const t0 = Date.now();
      const inflight: Promise<void>[] = [];
      for (let i = 0; i < n; i++) {
        const due = t0 + (i * 1000) / rate;
        const wait = due - Date.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        const a = ids[i]!;
        inflight.push(
          (async () => {
            const at = Date.now();
            const res = await stack.api('POST', '/api/releases', { artifactId: a.id, env: 'production', app: a.app });
            if (res.status !== 202 && res.status !== 201) throw new Error(`release: ${res.status} ${JSON.stringify(res.body)}`);
            calls.push({ releaseId: res.body.id, at, apiMs: Date.now() - at });
          })(),
        );
      }
      await Promise.all(inflight);
      const done = await Promise.all(calls.map((c) => stack.waitForRelease(c.releaseId, ['committed', 'failed', 'succeeded'], 300_000)));
      const lat: number[] = [];
      let lastCommit = 0;
      done.forEach((r, i) => {
        const entry = (r.timeline as Array<{ status: string; at: string }>).find((t) => t.status === 'committed');
        if (!entry) return;
        const at = Date.parse(entry.at);
        lastCommit = Math.max(lastCommit, at);
        lat.push(at - calls[i]!.at);
      });
      const row: Row = {
        rate,
        offered: n,
        committed: lat.length,
        sustained: (lat.length / (lastCommit - t0)) * 1000,
        p50: pct(lat, 50),
        p99: pct(lat, 99),
        apiP99: pct(calls.map((c) => c.apiMs), 99),
      };
      rows.push(row);
      process.stderr.write(`${JSON.stringify(row)}\n`);
    }
    // every release exactly once in the GitOps repo
    const log = stack.git('log', '--format=%(trailers:key=Ferry-Release-Id,valueonly)', 'main').split('\n').map((s) => s.trim()).filter(Boolean);
    const dup = log.length - new Set(log).size;
    const total = rows.reduce((s, r) => s + r.committed, 0);
    const md = [
      `Run ${new Date().toISOString().slice(0, 16)}Z, ${machineDescription()}. One Ferry process (API, release worker, writer worker), Temporal dev server, embedded PostgreSQL, local bare GitOps repo; ${SECONDS} s per rate; FERRY_AWAIT_FLUX=false.`,
      '',
      '| offered releases/s | releases | committed | sustained releases/s | p50 API→pushed ms | p99 API→pushed ms | p99 POST /api/releases ms |',
      '|---:|---:|---:|---:|---:|---:|---:|',
      ...rows.map((r) => `| ${r.rate} | ${r.offered} | ${r.committed} | ${r.sustained.toFixed(1)} | ${r.p50.toFixed(0)} | ${r.p99.toFixed(0)} | ${r.apiP99.toFixed(0)} |`),
      '',
      `Commits carrying a release id: ${log.length} for ${total} releases, duplicates: ${dup}.`,
    ].join('\n');
    process.stdout.write(`${md}\n`);
    if (!process.argv.includes('--no-docs')) writeDocSection('bench:e2e', md);
  } finally {
    await stack.stop();
    await stopSharedTemporal();
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(`${(e as Error).stack}\n`);
    process.exit(1);
  },
);
