// Child process of bench/gitops-vs-ci.ts: Ferry's GitopsWriter (the production class) fed N releases at once.
// argv: remote cacheDir jobJson. Prints one JSON line: init time, per-release latency, writer stats.
import { readFileSync } from 'node:fs';
import { GitopsWriter, type AppChange } from '../../src/gitops/writer';

async function main(): Promise<void> {
  const [remote, cacheDir, jobFile] = process.argv.slice(2) as [string, string, string];
  const changes = JSON.parse(readFileSync(jobFile, 'utf8')) as AppChange[];
  const w = new GitopsWriter({ remote, branch: 'main', cacheDir, committer: { name: 'Ferry', email: 'ferry@bench' } });
  let t = performance.now();
  await w.init();
  const initMs = performance.now() - t;
  // signal readiness and wait for "go" so the parent starts its clock and memory sampling at the same moment
  process.stdout.write('ready\n');
  await new Promise<void>((r) => process.stdin.once('data', () => r()));
  t = performance.now();
  const lat = await Promise.all(
    changes.map(async (c) => {
      const s = performance.now();
      const r = await w.submit(c);
      if (r.status !== 'committed') throw new Error(`${c.releaseId}: ${r.status}`);
      return performance.now() - s;
    }),
  );
  const wallMs = performance.now() - t;
  const stats = { ...w.stats };
  await w.close();
  process.stdout.write(`${JSON.stringify({ initMs, wallMs, lat, stats })}\n`);
}

main().then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(`${(e as Error).stack}\n`);
    process.exit(1);
  },
);
