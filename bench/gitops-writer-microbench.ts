/**
 * Per-release cost of GitopsWriter on a small repo (100 apps, 100 commits) vs a big one (10,000 apps, 100,000 commits).
 *
 *   node --import tsx bench/gitops-writer-microbench.ts [--apps 10000] [--commits 100000] [--seq 20] [--burst 100]
 *
 * Repositories are generated with git fast-import: apps are spread over two environment directories, the history
 * commits (dated in the past) touch a small bookkeeping file so generation stays fast.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { runGit } from '../src/gitops/git';
import { GitopsWriter } from '../src/gitops/writer';
import { arg as textArg } from './support/args';

const arg = (name: string, def: number): number => Number(textArg(name, String(def)));

const ENVS = ['staging', 'production'];

function appDir(i: number): string {
  return `${ENVS[i % ENVS.length]}/app${String(i).padStart(5, '0')}`;
}

async function generate(remote: string, apps: number, commits: number): Promise<void> {
  await runGit(['init', '--bare', '--quiet', '--initial-branch=main', remote]);
  const chunks: string[] = [];
  const start = Math.floor(Date.now() / 1000) - 400 * 24 * 3600; // history from ~400 days ago
  const data = (s: string) => `data ${Buffer.byteLength(s)}\n${s}\n`;
  const appsPerCommit = Math.max(1, Math.ceil(apps / Math.max(1, Math.min(commits, 100))));
  let n = 0;
  let made = 0;
  for (let a = 0; a < apps; a += appsPerCommit, made++) {
    chunks.push(`commit refs/heads/main\ncommitter Gen <gen@x> ${start + n++} +0000\n${data(`add apps ${a}..`)}`);
    for (let i = a; i < Math.min(apps, a + appsPerCommit); i++) {
      const d = appDir(i);
      chunks.push(`M 100644 inline ${d}/kustomization.yaml\n${data(`resources:\n  - deploy.yaml\n# ${d}\n`)}`);
      chunks.push(`M 100644 inline ${d}/deploy.yaml\n${data(`kind: Deployment\nmetadata:\n  name: app${i}\nimage: app${i}:0\n`)}`);
    }
    chunks.push('\n');
  }
  for (let c = made; c < commits; c++) {
    chunks.push(
      `commit refs/heads/main\ncommitter Gen <gen@x> ${start + n++} +0000\n${data(`history ${c}\n\nFerry-Release-Id: old-${c}\n`)}` +
        `M 100644 inline meta/counter-${c % 64}\n${data(String(c))}\n`,
    );
  }
  chunks.push('done\n');
  await runGit(['fast-import', '--quiet', '--done'], { gitDir: remote, input: chunks.join('') });
  await runGit(['repack', '-a', '-d', '-q'], { gitDir: remote });
}

interface Row {
  repo: string;
  initMs: number;
  seqMedianMs: number;
  seqP90Ms: number;
  burstMsPerRelease: number;
  burstPushes: number;
}

async function measure(label: string, apps: number, commits: number, seq: number, burst: number): Promise<Row> {
  const root = await mkdtemp(path.join(tmpdir(), 'ferry-bench-'));
  try {
    const remote = path.join(root, 'remote.git');
    let t = Date.now();
    await generate(remote, apps, commits);
    const genMs = Date.now() - t;
    const w = new GitopsWriter({
      remote,
      branch: 'main',
      cacheDir: path.join(root, 'cache'),
      committer: { name: 'Bench', email: 'bench@x' },
    });
    t = Date.now();
    await w.init();
    const initMs = Date.now() - t;
    const notBefore = new Date(Date.now() - 60_000).toISOString();
    // warm-up
    await w.submit({ releaseId: 'warm', dir: appDir(0), files: { 'deploy.yaml': 'warm\n' }, title: 'warm', trailers: {}, notBefore });

    const lat: number[] = [];
    for (let i = 0; i < seq; i++) {
      const app = (i * 7919) % apps;
      const t1 = Date.now();
      const r = await w.submit({
        releaseId: `seq-${i}`,
        dir: appDir(app),
        files: { 'kustomization.yaml': 'resources:\n  - deploy.yaml\n', 'deploy.yaml': `image: app${app}:seq${i}\n` },
        title: `[${appDir(app)}] release seq-${i}`,
        trailers: { 'Ferry-App': `app${app}` },
        notBefore,
      });
      if (r.status !== 'committed') throw new Error(`unexpected ${r.status}`);
      lat.push(Date.now() - t1);
    }
    lat.sort((a, b) => a - b);

    const pushesBefore = w.stats.pushes;
    t = Date.now();
    await Promise.all(
      Array.from({ length: burst }, (_, i) => {
        const app = (i * 104729 + 13) % apps;
        return w.submit({
          releaseId: `burst-${i}`,
          dir: appDir(app),
          files: { 'kustomization.yaml': 'resources:\n  - deploy.yaml\n', 'deploy.yaml': `image: app${app}:burst${i}\n` },
          title: `[${appDir(app)}] release burst-${i}`,
          trailers: { 'Ferry-App': `app${app}` },
          notBefore,
        });
      }),
    );
    const burstMs = (Date.now() - t) / burst;
    const row = {
      repo: `${label} (${apps} apps, ${commits} commits; generated in ${genMs} ms)`,
      initMs,
      seqMedianMs: lat[Math.floor(lat.length / 2)]!,
      seqP90Ms: lat[Math.floor(lat.length * 0.9)]!,
      burstMsPerRelease: Math.round(burstMs * 10) / 10,
      burstPushes: w.stats.pushes - pushesBefore,
    };
    await w.close();
    return row;
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const seq = arg('seq', 20);
  const burst = arg('burst', 100);
  const rows = [
    await measure('small', 100, 100, seq, burst),
    await measure('big', arg('apps', 10_000), arg('commits', 100_000), seq, burst),
  ];
  for (const r of rows) {
    console.log(
      `${r.repo}\n  init (clone): ${r.initMs} ms\n` +
        `  sequential (1 release per push): median ${r.seqMedianMs} ms, p90 ${r.seqP90Ms} ms per release\n` +
        `  burst of ${burst}: ${r.burstMsPerRelease} ms/release, ${r.burstPushes} pushes`,
    );
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
