// Shared by the GitOps benchmarks: a generated GitOps repository, peak RSS of a process tree, percentiles.
import { readdirSync, readFileSync } from 'node:fs';
import { runGit } from '../../src/gitops/git';

export const ENVS = ['staging', 'production'];

export function benchAppDir(i: number): string {
  return `${ENVS[i % ENVS.length]}/app${String(i).padStart(5, '0')}`;
}

/** A bare repo with `apps` app directories (two files each) and `commits` commits of history, built by fast-import. */
export async function generateRepo(remote: string, apps: number, commits: number): Promise<void> {
  await runGit(['init', '--bare', '--quiet', '--initial-branch=main', remote]);
  const chunks: string[] = [];
  const start = Math.floor(Date.now() / 1000) - 400 * 24 * 3600;
  const data = (s: string) => `data ${Buffer.byteLength(s)}\n${s}\n`;
  const perCommit = Math.max(1, Math.ceil(apps / Math.max(1, Math.min(commits, 100))));
  let n = 0;
  let made = 0;
  for (let a = 0; a < apps; a += perCommit, made++) {
    chunks.push(`commit refs/heads/main\ncommitter Gen <gen@x> ${start + n++} +0000\n${data(`add apps ${a}..`)}`);
    for (let i = a; i < Math.min(apps, a + perCommit); i++) {
      const d = benchAppDir(i);
      chunks.push(`M 100644 inline ${d}/kustomization.yaml\n${data(`resources:\n  - deploy.yaml\n`)}`);
      chunks.push(`M 100644 inline ${d}/deploy.yaml\n${data(`kind: Deployment\nmetadata:\n  name: app${i}\nimage: app${i}:0\n`)}`);
    }
    chunks.push('\n');
  }
  // history commits touch apps' deploy files so the history looks like years of releases
  for (let c = made; c < commits; c++) {
    const i = c % apps;
    chunks.push(
      `commit refs/heads/main\ncommitter Gen <gen@x> ${start + n++} +0000\n${data(`old release ${c}\n\nFerry-Release-Id: old-${c}\n`)}` +
        `M 100644 inline ${benchAppDir(i)}/deploy.yaml\n${data(`kind: Deployment\nmetadata:\n  name: app${i}\nimage: app${i}:old-${c}\n`)}\n`,
    );
  }
  chunks.push('done\n');
  await runGit(['fast-import', '--quiet', '--done'], { gitDir: remote, input: chunks.join('') });
  await runGit(['repack', '-a', '-d', '-q'], { gitDir: remote });
}

/** Sum of RSS (bytes) of `root` and all its descendants, from /proc. */
export function treeRss(root: number): number {
  const parent = new Map<number, number>();
  const rss = new Map<number, number>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parent.set(Number(d), Number(f[1]));
      rss.set(Number(d), Number(f[21]) * 4096);
    } catch {
      /* gone */
    }
  }
  let total = 0;
  for (const [pid, r] of rss) {
    let p: number | undefined = pid;
    for (let depth = 0; p && depth < 20; depth++) {
      if (p === root) {
        total += r;
        break;
      }
      p = parent.get(p);
    }
  }
  return total;
}

/** Samples treeRss(pid) every `ms` until stopped; returns the peak. */
export function rssSampler(pid: number, ms = 50): { stop(): number } {
  let peak = 0;
  const t = setInterval(() => (peak = Math.max(peak, treeRss(pid))), ms);
  peak = treeRss(pid);
  return {
    stop() {
      clearInterval(t);
      return Math.max(peak, 0);
    },
  };
}

export function pct(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

/** release id → commits on main carrying it (Ferry-Release-Id trailer), among commits newer than `since`. */
export async function releaseCounts(remote: string, prefix: string): Promise<Map<string, number>> {
  const out = (await runGit(['log', '-z', '--format=%(trailers:key=Ferry-Release-Id,valueonly)', '-n', '2000', 'main'], { gitDir: remote })).stdout;
  const counts = new Map<string, number>();
  for (const rec of out.split('\0')) {
    for (const id of rec.split('\n').map((s) => s.trim()).filter((s) => s.startsWith(prefix))) counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}

/**
 * CPU seconds used so far (user + system, including reaped children) by every process whose command line matches
 * one of the patterns, or whose ancestor's does, summed per pattern name: PostgreSQL's backends and Ferry's running
 * git commands are children whose own command lines say nothing. Read from /proc; processes that already exited
 * count only through the parent that reaped them.
 */
export function cpuByComponent(patterns: Record<string, RegExp>): Record<string, number> {
  const hz = 100; // USER_HZ on Linux
  const procs = new Map<number, { ppid: number; cmd: string; seconds: number }>();
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      // fields after the command name: state is field 3, ppid 4; utime 14, stime 15, cutime 16, cstime 17
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      procs.set(Number(pid), { ppid: Number(f[1]), cmd, seconds: (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / hz });
    } catch {
      // exited meanwhile
    }
  }
  const names = Object.keys(patterns);
  const out: Record<string, number> = Object.fromEntries(names.map((k) => [k, 0]));
  for (const proc of procs.values()) {
    let p: typeof proc | undefined = proc;
    for (let depth = 0; p && depth < 10; depth++, p = procs.get(p.ppid)) {
      const name = names.find((k) => patterns[k]!.test(p!.cmd));
      if (name) {
        out[name]! += proc.seconds;
        break;
      }
    }
  }
  return out;
}
