/**
 * Tiny `git` process wrapper: stdin support, captured stdout/stderr, timeouts that kill the whole process group,
 * and an environment that does not depend on the user's global/system git configuration.
 */
import { spawn } from 'node:child_process';

export interface GitRunOptions {
  /** Repository (GIT_DIR). Omit for commands that do not need one (e.g. `init`). */
  gitDir?: string;
  /** Working directory of the process; defaults to the gitDir or process.cwd(). */
  cwd?: string;
  /** Data written to stdin (then closed). */
  input?: string | Buffer | readonly Buffer[];
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** Kill the process group after this many ms (SIGTERM, then SIGKILL 2 s later). */
  timeoutMs?: number;
  /** Exit codes that count as success (default [0]). */
  okCodes?: readonly number[];
}

export interface GitRunResult {
  code: number;
  stdout: string;
  stderr: string;
  stdoutBuffer: Buffer;
}

export class GitCommandError extends Error {
  override name = 'GitCommandError';
  constructor(
    readonly args: readonly string[],
    readonly code: number | null,
    readonly stderr: string,
    readonly stdout: string,
    readonly timedOut: boolean,
    readonly signal: NodeJS.Signals | null,
  ) {
    const what = timedOut ? 'timed out' : code !== null ? `exited with code ${code}` : `killed by ${signal}`;
    const detail = (stderr || stdout).trim().split('\n').slice(-6).join(' | ');
    super(`git ${args.slice(0, 3).join(' ')} ${what}${detail ? `: ${detail}` : ''}`);
  }
}

/** Variables that would redirect git to another repository / object store if inherited (e.g. when run from a hook). */
const STRIPPED_ENV = [
  'GIT_DIR', 'GIT_WORK_TREE', 'GIT_INDEX_FILE', 'GIT_OBJECT_DIRECTORY', 'GIT_ALTERNATE_OBJECT_DIRECTORIES',
  'GIT_QUARANTINE_PATH', 'GIT_COMMON_DIR', 'GIT_NAMESPACE', 'GIT_CEILING_DIRECTORIES', 'GIT_CONFIG',
  'GIT_CONFIG_PARAMETERS', 'GIT_CONFIG_COUNT', 'GIT_AUTHOR_NAME', 'GIT_AUTHOR_EMAIL', 'GIT_AUTHOR_DATE',
  'GIT_COMMITTER_NAME', 'GIT_COMMITTER_EMAIL', 'GIT_COMMITTER_DATE', 'GIT_PREFIX', 'GIT_PUSH_OPTION_COUNT',
  'GIT_REFLOG_ACTION', 'GIT_TRACE', 'GIT_EDITOR',
];

export function gitEnv(extra?: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of STRIPPED_ENV) delete env[k];
  Object.assign(env, {
    GIT_TERMINAL_PROMPT: '0',
    GCM_INTERACTIVE: 'never',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_LITERAL_PATHSPECS: '1',
    LC_ALL: 'C',
    LANG: 'C',
  });
  if (!env.GIT_SSH_COMMAND && !env.GIT_SSH) env.GIT_SSH_COMMAND = 'ssh -o BatchMode=yes';
  if (extra) Object.assign(env, extra);
  return env;
}

/** FERRY_GIT_TRACE=1 prints every git invocation with its duration to stderr. */
const TRACE = process.env.FERRY_GIT_TRACE === '1';

export type GitRunner = (args: readonly string[], opts: GitRunOptions) => Promise<GitRunResult>;
/** git bound to one repository (the writer's cache). */
export type RepoGit = (args: readonly string[], opts?: GitRunOptions) => Promise<GitRunResult>;
let delegate: GitRunner | undefined;

/**
 * Routes every runGit call through `runner` (the git helper process, ./git-helper.ts) until called with undefined.
 * Forking a large process costs milliseconds of blocked event loop per git command; a small helper forks instead.
 */
export function setGitRunner(runner: GitRunner | undefined): void {
  delegate = runner;
}

export function runGit(args: readonly string[], opts: GitRunOptions = {}): Promise<GitRunResult> {
  return delegate ? delegate(args, opts) : spawnGit(args, opts);
}

/** Runs git as a child of this process. */
export function spawnGit(args: readonly string[], opts: GitRunOptions = {}): Promise<GitRunResult> {
  const okCodes = opts.okCodes ?? [0];
  const env = gitEnv(opts.env);
  if (opts.gitDir) env.GIT_DIR = opts.gitDir;
  const t0 = TRACE ? Date.now() : 0;
  return new Promise<GitRunResult>((resolve, reject) => {
    const child = spawn('git', args, {
      cwd: opts.cwd ?? opts.gitDir ?? process.cwd(),
      env,
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true, // own process group, so a timeout also kills ssh/remote helpers
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    let killTimer: NodeJS.Timeout | undefined;
    let hardKillTimer: NodeJS.Timeout | undefined;
    const killGroup = (sig: NodeJS.Signals) => {
      try {
        if (child.pid) process.kill(-child.pid, sig);
      } catch {
        /* already gone */
      }
    };
    if (opts.timeoutMs && opts.timeoutMs > 0) {
      killTimer = setTimeout(() => {
        timedOut = true;
        killGroup('SIGTERM');
        hardKillTimer = setTimeout(() => killGroup('SIGKILL'), 2000);
        hardKillTimer.unref();
      }, opts.timeoutMs);
    }
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.stdin.on('error', () => {
      /* EPIPE when git exits early; the exit code tells the story */
    });
    child.on('error', (e) => {
      clearTimeout(killTimer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(killTimer);
      if (TRACE) process.stderr.write(`[git ${Date.now() - t0}ms rc=${code}] git ${args.join(' ').slice(0, 160)}\n`);
      clearTimeout(hardKillTimer);
      const stdoutBuffer = Buffer.concat(out);
      const stdout = stdoutBuffer.toString('utf8');
      const stderr = Buffer.concat(err).toString('utf8');
      if (!timedOut && code !== null && okCodes.includes(code)) {
        resolve({ code, stdout, stderr, stdoutBuffer });
      } else {
        reject(new GitCommandError(args, code, stderr, stdout, timedOut, signal));
      }
    });
    const input = opts.input;
    if (input === undefined) {
      child.stdin.end();
    } else if (typeof input === 'string' || Buffer.isBuffer(input)) {
      child.stdin.end(input);
    } else {
      for (const chunk of input as readonly Buffer[]) child.stdin.write(chunk);
      child.stdin.end();
    }
  });
}
