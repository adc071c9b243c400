// `npm run bench:footprint`: resident memory of every process `npm start` runs (npm itself, the Ferry process, its
// git helper, the embedded Temporal dev server and PostgreSQL), idle after start-up and at its peak while releases
// run. The same for `npm run dev` (the TypeScript sources through tsx), for comparison. Writes a dated table into
// docs/performance.md. Needs `npm run build` (npm start runs it anyway).
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { arg } from './support/args';
import { machineDescription, writeDocSection } from './support/report';
import { makeArtifact } from '../test/support/stack';
import { getFreePort } from '../server/tools';

const ROOT = path.resolve(__dirname, '..');
const TOKEN = 'bench-footprint-admin-token-0123456789';
const releases = Number(arg('releases', '40'));
const idleSeconds = Number(arg('idle', '20'));

const GROUPS: Array<[string, (argv: string[]) => boolean]> = [
  ['npm', (a) => /^npm( |$)/.test(a[0] ?? '') || a.some((x) => /npm-cli\.js$/.test(x))],
  ['git helper', (a) => a.some((x) => x.includes('git-helper-main'))],
  ['esbuild services', (a) => a.some((x) => x.startsWith('--service'))],
  ['Ferry (node)', (a) => /(^|\/)node$/.test(a[0] ?? '') && a.some((x) => /server\/main\.(js|ts)$/.test(x))],
  ['Temporal dev server', (a) => a.some((x) => /temporal$/.test(x)) && a.includes('start-dev')],
  ['PostgreSQL', (a) => /postgres/.test(a[0] ?? '')],
  ['sh / other', () => true],
];

function tree(root: number): Map<number, { argv: string[]; rss: number }> {
  const parent = new Map<number, number>();
  const info = new Map<number, { argv: string[]; rss: number }>();
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parent.set(Number(d), Number(f[1]));
      info.set(Number(d), { argv: fs.readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0').filter(Boolean), rss: Number(f[21]) * 4096 });
    } catch {
      /* gone */
    }
  }
  const out = new Map<number, { argv: string[]; rss: number }>();
  for (const [pid, i] of info) {
    for (let p: number | undefined = pid, depth = 0; p && depth < 20; depth++, p = parent.get(p)) {
      if (p === root) {
        out.set(pid, i);
        break;
      }
    }
  }
  return out;
}

function byGroup(root: number): Map<string, { mb: number; n: number }> {
  const sums = new Map<string, { mb: number; n: number }>(GROUPS.map(([g]) => [g, { mb: 0, n: 0 }]));
  for (const { argv, rss } of tree(root).values()) {
    if (argv[0] === 'git' || argv[0]?.endsWith('/git')) continue; // a git command of the moment, not resident
    const g = GROUPS.find(([, match]) => match(argv))![0];
    const s = sums.get(g)!;
    s.mb += rss / 2 ** 20;
    s.n += 1;
  }
  return sums;
}

async function api(url: string, method: string, route: string, body?: unknown): Promise<any> {
  const res = await fetch(`${url}${route}`, { method, headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, body: await res.json().catch(() => null) };
}

async function measure(label: string, script: string): Promise<{ idle: Map<string, { mb: number; n: number }>; peak: Map<string, number> }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-footprint-'));
  const port = await getFreePort();
  const child: ChildProcess = spawn('npm', ['run', '--silent', script], {
    cwd: ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, FERRY_DATA_DIR: dir, FERRY_PORT: String(port), FERRY_ADMIN_TOKEN: TOKEN, FERRY_AWAIT_FLUX: 'false', FERRY_LOG_LEVEL: 'warn' },
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const url = `http://127.0.0.1:${port}`;
  try {
    const deadline = Date.now() + 300_000;
    while (!out.includes('Ferry API')) {
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`${label} did not start:\n${out.slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    // One release first, so every lazily started part (git helper, clones) exists, then let it settle.
    await runReleases(url, 1);
    await new Promise((r) => setTimeout(r, idleSeconds * 1000));
    const idle = byGroup(child.pid!);
    const peak = new Map<string, number>();
    const sampler = setInterval(() => {
      for (const [g, s] of byGroup(child.pid!)) peak.set(g, Math.max(peak.get(g) ?? 0, s.mb));
    }, 100);
    await runReleases(url, releases);
    clearInterval(sampler);
    process.stderr.write(`${label}: measured\n`);
    return { idle, peak };
  } finally {
    try {
      process.kill(-child.pid!, 'SIGTERM');
    } catch {
      /* gone */
    }
    await new Promise((r) => setTimeout(r, 5_000));
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      /* gone */
    }
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function runReleases(url: string, n: number): Promise<void> {
  const ids = await Promise.all(Array.from({ length: n }, async (_, i) => {
    const pushed = await api(url, 'POST', '/api/artifacts', makeArtifact({ apps: [{ app: `app-${i % 20}`, env: 'staging' }] }));
    if (pushed.status >= 300) throw new Error(`artifact: ${JSON.stringify(pushed.body)}`);
    const started = await api(url, 'POST', '/api/releases', { artifactId: pushed.body.id, env: 'staging' });
    if (started.status !== 202) throw new Error(`release: ${JSON.stringify(started.body)}`);
    return started.body.id as string;
  }));
  const deadline = Date.now() + 300_000;
  for (const id of ids) {
    for (;;) {
      const r = await api(url, 'GET', `/api/releases/${encodeURIComponent(id)}`);
      if (['committed', 'succeeded', 'failed', 'timed-out'].includes(r.body?.status)) break;
      if (Date.now() > deadline) throw new Error(`release ${id} not final`);
      await new Promise((r2) => setTimeout(r2, 250));
    }
  }
}

async function main(): Promise<void> {
  const runs = [
    { label: '`npm start` (compiled)', result: await measure('npm start', 'start') },
    { label: '`npm run dev` (tsx)', result: await measure('npm run dev', 'dev') },
  ];
  const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
  const lines = [
    `Run ${new Date().toISOString().slice(0, 16)}Z, commit ${commit}, idle = ${idleSeconds} s after one release, loaded = peak during ${releases} concurrent releases; ${machineDescription()}.`,
    '',
    '| process | ' + runs.map((r) => `${r.label} idle MB | loaded MB`).join(' | ') + ' |',
    '|---|' + runs.map(() => '---:|---:').join('|') + '|',
  ];
  for (const [g] of GROUPS) {
    const cells = runs.map((r) => {
      const idle = r.result.idle.get(g)!;
      return `${idle.n ? `${idle.mb.toFixed(0)}${idle.n > 1 ? ` (${idle.n} processes)` : ''}` : '–'} | ${r.result.peak.get(g) ? r.result.peak.get(g)!.toFixed(0) : '–'}`;
    });
    lines.push(`| ${g} | ${cells.join(' | ')} |`);
  }
  const total = (r: (typeof runs)[number], only?: (g: string) => boolean) => [...r.result.idle].filter(([g]) => !only || only(g)).reduce((a, [, s]) => a + s.mb, 0);
  const ferryOwn = (g: string) => ['Ferry (node)', 'git helper', 'esbuild services'].includes(g);
  lines.push(`| **total** | ${runs.map((r) => `**${total(r).toFixed(0)}** | `).join(' | ')} |`);
  lines.push(`| **Ferry's own** (Ferry, git helper, esbuild) | ${runs.map((r) => `**${total(r, ferryOwn).toFixed(0)}** | `).join(' | ')} |`);
  const body = lines.join('\n');
  writeDocSection('bench:footprint', body);
  process.stdout.write(`${body}\n`);
}

main().catch((err) => {
  process.stderr.write(`bench:footprint: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
