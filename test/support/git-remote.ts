// Test helpers around a bare "GitOps" remote: hooks that hold a push at pre-receive (before the branch moves) or
// post-receive (after it moved, before the pusher hears back) until the test gives a verdict; a writer running
// in a child process that the test can SIGKILL; and a history check (release id → commits carrying it).
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import type { WriterJob } from './writer-process';

export type HookPoint = 'pre' | 'post';

export interface HookedRemote {
  dir: string;
  ctl: string;
  hold(point: HookPoint, on: boolean): Promise<void>;
  /** Waits until a push that is not yet known arrives at `point`; returns its id (for `verdict`). */
  nextArrival(point: HookPoint, timeoutMs?: number): Promise<string>;
  /** Lets a held push go on (0) or declines it (non-zero; only meaningful at pre-receive). */
  verdict(id: string, code: number): Promise<void>;
  /** Lets every held push finish with `code` (cleanup after a kill). */
  releaseAll(code: number): Promise<void>;
  /** Pushes that carry this new tip pass the hooks untouched (for foreign commits made by the test). */
  pass(sha: string): Promise<void>;
}

const HOOK = (ctl: string, point: HookPoint) => `#!/bin/sh
CTL='${ctl}'
input=$(cat)
new=$(printf '%s\\n' "$input" | head -n1 | cut -d' ' -f2)
[ -e "$CTL/pass-$new" ] && exit 0
[ -e "$CTL/hold-${point}" ] || exit 0
id="${point}-$$"
printf '%s\\n' "$input" > "$CTL/tmp-$id"
mv "$CTL/tmp-$id" "$CTL/arrived-$id"
i=0
while [ ! -e "$CTL/verdict-$id" ]; do
  sleep 0.05
  i=$((i+1))
  [ $i -gt 2400 ] && exit 1
done
exit "$(cat "$CTL/verdict-$id")"
`;

export function gitSync(gitDir: string, ...args: string[]): string {
  return execFileSync('git', ['--git-dir', gitDir, ...args], {
    encoding: 'utf8',
    env: { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1' },
  }).trim();
}

/**
 * A writer with directLocalWrite runs no receive hooks; its `update-ref` runs `reference-transaction`, whose
 * "prepared" state (ref locked, not yet moved; non-zero aborts) and "committed" state (moved) stand in for
 * pre- and post-receive.
 */
const REFERENCE_TRANSACTION = `#!/bin/sh
case "$1" in
  prepared) exec "$(dirname "$0")/ferry-hold-pre" ;;
  committed) exec "$(dirname "$0")/ferry-hold-post" ;;
esac
cat >/dev/null
exit 0
`;

export async function makeHookedRemote(dir: string, opts: { direct?: boolean } = {}): Promise<HookedRemote> {
  execFileSync('git', ['init', '--bare', '--quiet', '--initial-branch=main', dir]);
  return hookRemote(dir, opts);
}

/** Installs the holding hooks into an existing bare repository (`direct`: for a writer with directLocalWrite). */
export async function hookRemote(dir: string, opts: { direct?: boolean } = {}): Promise<HookedRemote> {
  const ctl = `${dir}.ctl`;
  await mkdir(ctl, { recursive: true });
  for (const point of ['pre', 'post'] as const) {
    const f = path.join(dir, 'hooks', opts.direct ? `ferry-hold-${point}` : `${point}-receive`);
    await writeFile(f, HOOK(ctl, point));
    await chmod(f, 0o755);
  }
  if (opts.direct) {
    const f = path.join(dir, 'hooks', 'reference-transaction');
    await writeFile(f, REFERENCE_TRANSACTION);
    await chmod(f, 0o755);
  }
  const seen = new Set<string>();
  const arrivals = (point: HookPoint) =>
    readdirSync(ctl)
      .filter((f) => f.startsWith(`arrived-${point}-`))
      .map((f) => f.slice('arrived-'.length));
  const remote: HookedRemote = {
    dir,
    ctl,
    async hold(point, on) {
      const f = path.join(ctl, `hold-${point}`);
      if (on) await writeFile(f, '');
      else execFileSync('rm', ['-f', f]);
    },
    async nextArrival(point, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        const fresh = arrivals(point).find((a) => !seen.has(a));
        if (fresh) {
          seen.add(fresh);
          return fresh;
        }
        await new Promise((r) => setTimeout(r, 20));
      }
      throw new Error(`no push arrived at ${point}-receive within ${timeoutMs} ms`);
    },
    async verdict(id, code) {
      await writeFile(path.join(ctl, `verdict-${id}`), String(code));
    },
    async releaseAll(code) {
      for (const point of ['pre', 'post'] as const) {
        await remote.hold(point, false);
        for (const a of arrivals(point)) {
          if (!existsSync(path.join(ctl, `verdict-${a}`))) await writeFile(path.join(ctl, `verdict-${a}`), String(code));
        }
      }
    },
    async pass(sha) {
      await writeFile(path.join(ctl, `pass-${sha}`), '');
    },
  };
  return remote;
}

/** release id → number of commits on `branch` carrying it as Ferry-Release-Id. */
export function releaseCounts(remote: string, branch = 'main'): Map<string, number> {
  const out = gitSync(remote, 'log', '-z', '--format=%H%n%(trailers:key=Ferry-Release-Id,valueonly)', branch);
  const counts = new Map<string, number>();
  for (const rec of out.split('\0').filter(Boolean)) {
    for (const id of rec.split('\n').slice(1).map((s) => s.trim()).filter(Boolean)) counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}

/** A commit made by "someone else" directly on the remote (a temporary clone), passed through the hooks. */
export async function pushForeign(remote: HookedRemote | string, work: string, files: Record<string, string>, msg: string): Promise<string> {
  const dir = typeof remote === 'string' ? remote : remote.dir;
  const env = { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1', GIT_AUTHOR_NAME: 'Human', GIT_AUTHOR_EMAIL: 'h@x', GIT_COMMITTER_NAME: 'Human', GIT_COMMITTER_EMAIL: 'h@x' };
  const g = (...args: string[]) => execFileSync('git', args, { cwd: work, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  for (let i = 0; ; i++) {
    if (!existsSync(path.join(work, '.git'))) execFileSync('git', ['clone', '--quiet', dir, work], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    g('fetch', '--quiet', 'origin');
    try {
      g('reset', '--quiet', '--hard', 'origin/main');
    } catch {
      /* empty remote */
    }
    for (const [p, content] of Object.entries(files)) {
      await mkdir(path.dirname(path.join(work, p)), { recursive: true });
      await writeFile(path.join(work, p), content);
    }
    g('add', '-A');
    g('commit', '--quiet', '--allow-empty', '-m', msg);
    const sha = g('rev-parse', 'HEAD');
    if (typeof remote !== 'string') await remote.pass(sha);
    try {
      g('push', '--quiet', 'origin', 'HEAD:refs/heads/main');
      return sha;
    } catch (e) {
      if (i > 50) throw e;
      await new Promise((r) => setTimeout(r, 10 + Math.random() * 40));
    }
  }
}

export interface WriterChild {
  proc: ChildProcess;
  events: any[];
  waitFor(pred: (e: any) => boolean, timeoutMs?: number): Promise<any>;
  exited: Promise<number | null>;
  kill(): Promise<void>;
}

/** Runs test/support/writer-process.ts with `job` (written to `jobFile`). */
export async function spawnWriter(job: WriterJob, jobFile: string): Promise<WriterChild> {
  await writeFile(jobFile, JSON.stringify(job));
  const proc = spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, 'writer-process.ts'), jobFile], {
    stdio: ['ignore', 'pipe', 'pipe'],
    cwd: path.resolve(__dirname, '../..'),
  });
  const events: any[] = [];
  let buf = '';
  let stderr = '';
  proc.stdout!.on('data', (b: Buffer) => {
    buf += b.toString();
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      if (line.trim()) events.push(JSON.parse(line));
    }
  });
  proc.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
  const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  return {
    proc,
    events,
    exited,
    async waitFor(pred, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        const hit = events.find(pred);
        if (hit) return hit;
        if (proc.exitCode !== null && !events.find(pred)) {
          throw new Error(`writer process exited (${proc.exitCode}) first; events ${JSON.stringify(events)}; stderr ${stderr.slice(-2000)}`);
        }
        await new Promise((r) => setTimeout(r, 20));
      }
      throw new Error(`timed out; events ${JSON.stringify(events)}; stderr ${stderr.slice(-2000)}`);
    },
    async kill() {
      proc.kill('SIGKILL');
      await exited;
    },
  };
}

export function readJson(file: string): unknown {
  return JSON.parse(readFileSync(file, 'utf8'));
}
