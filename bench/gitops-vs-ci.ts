/**
 * `npm run bench:gitops`: "CI today" against Ferry's GitopsWriter, side by side on the same bare repository
 * (local file remote, so the network is not measured).
 *
 *   CI today:  N concurrent jobs, each `git clone --depth 1`, edit one app's YAML, commit, push; on rejection
 *              `git pull --rebase` and push again until it lands.
 *   Ferry:     one process running the production GitopsWriter (persistent clone, warm), fed the same N
 *              releases at once through GitopsWriter.submit.
 *
 * For N = 1, 10, 100 on repositories of 100 and 10,000 apps (a few thousand commits of history): releases/s,
 * p50/p99 request → pushed, commits and pushes, peak RSS of the process tree (sampled from /proc). Every release
 * is checked to be on the branch exactly once. Results go to stdout and into docs/performance.md.
 *
 *   node --import tsx bench/gitops-vs-ci.ts [--quick] [--no-docs]
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { AppChange } from '../src/gitops/writer';
import { benchAppDir, generateRepo, pct, releaseCounts, rssSampler } from './support/repo';
import { machineDescription, writeDocSection } from './support/report';

const QUICK = process.argv.includes('--quick');
const REPOS = QUICK ? [{ apps: 100, commits: 500 }] : [{ apps: 100, commits: 2_000 }, { apps: 10_000, commits: 3_000 }];
const NS = QUICK ? [1, 10] : [1, 10, 100];
const CI_TIMEOUT_MS = 120_000;

interface Result {
  repo: string;
  n: number;
  who: 'CI today' | 'Ferry';
  wallMs: number;
  perSec: number;
  p50: number;
  p99: number;
  commits: number;
  pushes: number;
  pushAttempts: number;
  peakRssMb: number;
  exactlyOnce: boolean;
  note?: string;
}

const GIT_ENV = { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1', LC_ALL: 'C' };

const CI_JOB = `
set -u
REMOTE="$1"; W="$2"; DIR="$3"; ID="$4"; OUT="$5"
git clone --quiet --depth 1 --branch main "file://$REMOTE" "$W" 2>/dev/null || { echo fail > "$OUT"; exit 1; }
cd "$W"
mkdir -p "$DIR"
printf 'kind: Deployment\\nimage: %s\\n' "$ID" > "$DIR/deploy.yaml"
git add -A
git -c user.name=CI -c user.email=ci@x commit --quiet -m "release $ID" -m "Ferry-Release-Id: $ID"
attempts=1
until git push --quiet origin HEAD:refs/heads/main 2>/dev/null; do
  attempts=$((attempts+1))
  [ $attempts -gt 1000 ] && { echo fail > "$OUT"; exit 1; }
  git -c user.name=CI -c user.email=ci@x pull --quiet --rebase origin main >/dev/null 2>&1 || git rebase --abort >/dev/null 2>&1
done
echo "$(date +%s%N) $attempts" > "$OUT"
`;

/**
 * A hundred shallow clones of the 10,000-app repository are ~3 GB of small files; fs.rm takes minutes and
 * gigabytes of heap for that, rm -rf seconds.
 */
function removeTree(dir: string): void {
  spawnSync('rm', ['-rf', dir], { stdio: 'ignore' });
}

function changesFor(prefix: string, n: number, apps: number, round: number): AppChange[] {
  return Array.from({ length: n }, (_, i) => {
    const id = `${prefix}-${i}`;
    const dir = benchAppDir((i * 37 + round * 101) % apps);
    return {
      releaseId: id,
      dir,
      files: { 'kustomization.yaml': 'resources:\n  - deploy.yaml\n', 'deploy.yaml': `kind: Deployment\nimage: ${id}\n` },
      title: `release ${id}`,
      trailers: {},
      notBefore: new Date(Date.now() - 60_000).toISOString(),
    };
  });
}

async function runCi(root: string, remote: string, changes: AppChange[]): Promise<Omit<Result, 'repo' | 'n' | 'who'>> {
  const script = path.join(root, 'ci-job.sh');
  await writeFile(script, CI_JOB);
  const outs = changes.map((_, i) => path.join(root, `ci-out-${i}`));
  // one shell starts all jobs and waits: its process tree is what CI would run on the runners
  const launcher = changes
    .map((c, i) => `bash ${script} ${remote} ${path.join(root, `ci-w-${i}`)} ${c.dir} ${c.releaseId} ${outs[i]} &`)
    .join('\n') + '\nwait\n';
  const start = Date.now();
  // own process group: a timeout must stop every job and its git processes, not only the launcher
  const child = spawn('bash', ['-c', launcher], { env: GIT_ENV, stdio: 'ignore', detached: true });
  const rss = rssSampler(child.pid!);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }, CI_TIMEOUT_MS);
  await new Promise((r) => child.on('exit', r));
  clearTimeout(timer);
  if (timedOut) await new Promise((r) => setTimeout(r, 1000)); // let the killed group's files settle
  const wallMs = Math.min(Date.now() - start, CI_TIMEOUT_MS);
  const peak = rss.stop();
  const lat: number[] = [];
  let attempts = 0;
  for (const f of outs) {
    if (!existsSync(f)) continue;
    const [end, a] = readFileSync(f, 'utf8').trim().split(' ');
    if (end === 'fail') continue;
    lat.push(Number(BigInt(end!) / 1_000_000n) - start);
    attempts += Number(a);
  }
  return {
    wallMs,
    perSec: (lat.length / wallMs) * 1000,
    p50: pct(lat, 50),
    p99: pct(lat, 99),
    commits: lat.length,
    pushes: lat.length,
    pushAttempts: attempts,
    peakRssMb: peak / 1048576,
    exactlyOnce: false,
    note: timedOut ? `stopped after ${CI_TIMEOUT_MS / 1000} s with ${lat.length}/${changes.length} landed` : undefined,
  };
}

async function runFerry(root: string, remote: string, cacheDir: string, changes: AppChange[]): Promise<Omit<Result, 'repo' | 'n' | 'who'> & { initMs: number }> {
  const jobFile = path.join(root, 'ferry-job.json');
  await writeFile(jobFile, JSON.stringify(changes));
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, 'support/ferry-writer-run.ts'), remote, cacheDir, jobFile], {
    cwd: path.resolve(__dirname, '..'),
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  while (!out.includes('ready\n')) {
    if (child.exitCode !== null) throw new Error('ferry writer process died');
    await new Promise((r) => setTimeout(r, 10));
  }
  const rss = rssSampler(child.pid!);
  child.stdin!.write('go\n');
  await new Promise((r) => child.on('exit', r));
  const peak = rss.stop();
  const res = JSON.parse(out.split('\n').find((l) => l.startsWith('{'))!) as { initMs: number; wallMs: number; lat: number[]; stats: any };
  return {
    initMs: res.initMs,
    wallMs: res.wallMs,
    perSec: (changes.length / res.wallMs) * 1000,
    p50: pct(res.lat, 50),
    p99: pct(res.lat, 99),
    commits: res.stats.commits,
    pushes: res.stats.pushes,
    pushAttempts: res.stats.pushAttempts,
    peakRssMb: peak / 1048576,
    exactlyOnce: false,
  };
}

async function main(): Promise<void> {
  const root = await mkdtemp(path.join(tmpdir(), 'ferry-bench-ci-'));
  const results: Result[] = [];
  const inits: string[] = [];
  const t0 = Date.now();
  try {
    for (const spec of REPOS) {
      const label = `${spec.apps.toLocaleString('en')} apps, ${spec.commits.toLocaleString('en')} commits`;
      const remote = path.join(root, `remote-${spec.apps}.git`);
      const g = Date.now();
      await generateRepo(remote, spec.apps, spec.commits);
      process.stderr.write(`generated ${label} in ${Date.now() - g} ms\n`);
      const cacheDir = path.join(root, `ferry-cache-${spec.apps}`);
      let round = 0;
      for (const n of NS) {
        for (const who of ['CI today', 'Ferry'] as const) {
          round++;
          const prefix = `b${spec.apps}-${n}-${who === 'Ferry' ? 'f' : 'c'}`;
          const changes = changesFor(prefix, n, spec.apps, round);
          const work = path.join(root, `run-${round}-${spec.apps}`);
          removeTree(work);
          await mkdir(work, { recursive: true });
          let r: Omit<Result, 'repo' | 'n' | 'who'>;
          if (who === 'CI today') r = await runCi(work, remote, changes);
          else {
            const fr = await runFerry(work, remote, cacheDir, changes);
            if (n === NS[0]) inits.push(`${label}: first start (full fetch into the persistent clone) ${fr.initMs.toFixed(0)} ms`);
            r = fr;
          }
          const counts = await releaseCounts(remote, `${prefix}-`);
          r.exactlyOnce = counts.size === r.commits && [...counts.values()].every((c) => c === 1) && (r.note !== undefined || counts.size === n);
          const row: Result = { repo: label, n, who, ...r };
          results.push(row);
          process.stderr.write(`${JSON.stringify(row)}\n`);
          removeTree(work);
        }
      }
    }
  } finally {
    removeTree(root);
  }
  const totalS = ((Date.now() - t0) / 1000).toFixed(0);
  const md = report(results, inits, totalS);
  process.stdout.write(md + '\n');
  if (!process.argv.includes('--no-docs') && !QUICK) writeDocSection('bench:gitops', md);
}

function report(rows: Result[], inits: string[], totalS: string): string {
  const f = (x: number, d = 0) => (Number.isFinite(x) ? x.toFixed(d) : '–');
  const lines = [
    `Run ${new Date().toISOString().slice(0, 16)}Z, ${machineDescription()}; whole run ${totalS} s.`,
    '',
    '| repo | N | who | releases/s | p50 ms | p99 ms | commits | pushes (attempts) | peak RSS MB | each release once |',
    '|---|---:|---|---:|---:|---:|---:|---:|---:|---|',
    ...rows.map((r) =>
      `| ${r.repo} | ${r.n} | ${r.who} | ${r.commits === 0 && r.note ? `< ${f(1000 / CI_TIMEOUT_MS, 3)}` : f(r.perSec, r.perSec < 1 ? 3 : 1)} | ${f(r.p50)} | ${f(r.p99)} | ${r.commits} | ${r.pushes} (${r.pushAttempts}) | ${f(r.peakRssMb)} | ${r.exactlyOnce ? 'yes' : 'NO'}${r.note ? ` — ${r.note}` : ''} |`,
    ),
    '',
    'Throughput ratio Ferry / CI:',
    '',
    ...[...new Set(rows.map((r) => `${r.repo}|${r.n}`))].map((k) => {
      const [repo, n] = k.split('|');
      const ci = rows.find((r) => r.repo === repo && String(r.n) === n && r.who === 'CI today')!;
      const fe = rows.find((r) => r.repo === repo && String(r.n) === n && r.who === 'Ferry')!;
      // CI landing nothing before the timeout only bounds its rate: under one release per timeout
      if (ci.commits === 0) return `- ${repo}, N=${n}: > ${(fe.perSec / (1000 / CI_TIMEOUT_MS)).toFixed(0)}× (CI landed none in ${CI_TIMEOUT_MS / 1000} s, so its rate is below 1 per ${CI_TIMEOUT_MS / 1000} s)`;
      return `- ${repo}, N=${n}: ${(fe.perSec / ci.perSec).toFixed(1)}×${ci.note ? ' (CI stopped at the timeout; its rate is what landed by then)' : ''}`;
    }),
    '',
    ...inits.map((s) => `- ${s}`),
  ];
  return lines.join('\n');
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
});
