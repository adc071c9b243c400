// Running the `ferry` CLI as a subprocess, the way pipelines and people run it, and temporary git checkouts of an
// application repository for it to read.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Stack } from './stack';

export const FERRY_BIN = path.resolve(__dirname, '../../bin/ferry.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Only what the CLI needs: the test runner's own CI variables must not leak into "local" runs. */
export function cliEnv(extra: Record<string, string | undefined> = {}): Record<string, string> {
  const base: Record<string, string | undefined> = {
    PATH: process.env.PATH, HOME: process.env.HOME, TMPDIR: process.env.TMPDIR, LANG: 'C.UTF-8', FERRY_POLL_INTERVAL_MS: '200',
    // The sources under test, never a dist/ built earlier (test/build.test.ts runs the compiled CLI).
    FERRY_CLI_FROM_SOURCE: '1', ...extra,
  };
  return Object.fromEntries(Object.entries(base).filter(([, v]) => v !== undefined)) as Record<string, string>;
}

export function startCli(args: string[], opts: { cwd: string; env: Record<string, string>; command?: string[]; stdin?: string }) {
  // Run as pipelines do: the executable itself (its shebang picks the interpreter).
  const [cmd, ...pre] = opts.command ?? [FERRY_BIN];
  const child = spawn(cmd, [...pre, ...args], { cwd: opts.cwd, env: opts.env, stdio: [opts.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
  if (opts.stdin !== undefined) child.stdin?.end(opts.stdin);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d) => (stdout += d));
  child.stderr?.on('data', (d) => (stderr += d));
  const result = new Promise<CliResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
  return { child, result, output: () => ({ stdout, stderr }) };
}

export function runCli(args: string[], opts: { cwd: string; env: Record<string, string>; stdin?: string }): Promise<CliResult> {
  return startCli(args, opts).result;
}

/** Runs a shell script (an integration's step) with bash. */
export function runBash(script: string, opts: { cwd: string; env: Record<string, string> }): Promise<CliResult> {
  return startCli(['-c', script], { ...opts, command: ['bash'] }).result;
}

export const ENV_FILE = (app: string, env = 'staging', extra = '') => `app: ${app}
env: ${env}
namespace: ${app}
manifests: |
  apiVersion: v1
  kind: ConfigMap
  metadata:
    name: {{ .APP }}
  data:
    sha: "{{ .SHA }}"
    branch: "{{ .BRANCH }}"${extra}
`;

/** An application checkout: one commit with .ferry/ environment files, `origin` pointing at acme/<name>. */
export async function makeCheckout(opts: { name?: string; envFiles?: Record<string, string>; branch?: string; dir?: string } = {}): Promise<{ dir: string; sha: string }> {
  const dir = opts.dir ?? (await fs.mkdtemp(path.join(os.tmpdir(), 'ferry-app-')));
  const g = (...args: string[]) => execFileSync('git', args, { cwd: dir, encoding: 'utf8' }).trim();
  g('init', '-q', '-b', opts.branch ?? 'main');
  g('config', 'user.name', 'Grace Hopper');
  g('config', 'user.email', 'grace@example.com');
  g('remote', 'add', 'origin', `git@github.com:acme/${opts.name ?? 'web'}.git`);
  for (const [file, content] of Object.entries(opts.envFiles ?? { '.ferry/staging.yaml': ENV_FILE('web') })) {
    await fs.mkdir(path.dirname(path.join(dir, file)), { recursive: true });
    await fs.writeFile(path.join(dir, file), content);
  }
  g('add', '-A');
  g('commit', '-q', '-m', `Ship ${opts.name ?? 'web'} ${Math.random().toString(36).slice(2, 8)}`);
  return { dir, sha: g('rev-parse', 'HEAD') };
}

/** Plays Flux for a release of `app`: once it waits on its commit, post `reasons` in order (as notification-controller would). */
export async function settleWhenReconciling(stack: Stack, app: string, reasons: string[], fluxEvent: (reason: string, commit: string, o?: { message?: string; env?: string }) => unknown): Promise<string> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const r = await stack.ferry.db.query<{ id: string; env: string; gitops_commit: string }>(
      "SELECT id, env, gitops_commit FROM releases WHERE app = $1 AND status = 'reconciling' AND gitops_commit IS NOT NULL ORDER BY created_at DESC LIMIT 1",
      [app],
    );
    if (r.rows[0]) {
      for (const reason of reasons) {
        await new Promise((res) => setTimeout(res, 400));
        const posted = await stack.postFlux(fluxEvent(reason, r.rows[0].gitops_commit, { env: r.rows[0].env, ...(reason === 'ReconciliationFailed' ? { message: 'Deployment/web dry-run failed: spec.replicas invalid' } : {}) }));
        if (posted.status !== 202) throw new Error(`flux event refused: ${JSON.stringify(posted.body)}`);
      }
      return r.rows[0].id;
    }
    await new Promise((res) => setTimeout(res, 150));
  }
  throw new Error(`no release of ${app} reached reconciling`);
}
