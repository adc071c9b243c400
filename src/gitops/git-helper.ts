/**
 * A small child process that runs Ferry's git commands. Every git command is a fork of the process that starts it,
 * and forking Ferry's process (hundreds of MB, many threads) blocks its event loop for 10–80 ms per command under
 * load (docs/performance.md); the helper is a fraction of that size and forks off the main thread. Results and
 * errors (GitCommandError included) come back as if git had run here.
 *
 * If the helper dies, the commands it was running fail with an ordinary Error (the writer retries those like any
 * other failed git command) and the next command starts a new helper.
 *
 * git sees the helper's environment, which is this process's as it was when the helper started (plus each call's
 * `env`): Ferry sets its environment before it starts.
 */
import { type ChildProcess, fork } from 'node:child_process';
import path from 'node:path';
import { GitCommandError, type GitRunOptions, type GitRunResult, type GitRunner, setGitRunner } from './git';

export interface HelperRequest {
  id: number;
  args: readonly string[];
  opts: GitRunOptions;
}

export type HelperReply =
  | { id: number; ok: true; code: number; stdout: Uint8Array; stderr: string }
  | { id: number; ok: false; git: { code: number | null; stderr: string; stdout: string; timedOut: boolean; signal: NodeJS.Signals | null } }
  | { id: number; ok: false; error: { message: string; code?: string } };

export interface GitHelper {
  run: GitRunner;
  /** Ends the helper; commands still running in it fail. */
  stop(): Promise<void>;
}

// Compiled (dist/), the helper is plain JavaScript started by a bare node: no transpiler in a second process.
const COMPILED = path.extname(__filename) === '.js';
const MAIN = path.join(__dirname, COMPILED ? 'git-helper-main.js' : 'git-helper-main.ts');

/**
 * The helper's node flags. From sources only the loader flags (tsx): a test runner's own flags (--test ...) would
 * make the helper run as a test.
 */
function loaderArgs(): string[] {
  const out: string[] = [];
  // The helper allocates little and briefly: a small young generation keeps its resident size near bare Node's.
  if (COMPILED) return ['--max-semi-space-size=1'];
  const argv = process.execArgv;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--import' || a === '--require' || a === '-r' || a === '--loader') out.push(a, argv[++i]!);
    else if (/^--(import|require|loader)=/.test(a)) out.push(a);
  }
  return out;
}

/** An idle helper must not keep the process alive; a busy one must, to hear its answers (or its exit). */
function idle(c: ChildProcess): void {
  c.unref();
  c.channel?.unref();
}
function busy(c: ChildProcess): void {
  c.ref();
  c.channel?.ref();
}

export function startGitHelper(): GitHelper {
  let child: ChildProcess | undefined;
  let nextId = 1;
  const pending = new Map<number, { args: readonly string[]; resolve: (r: GitRunResult) => void; reject: (e: Error) => void }>();
  let stopping = false;

  function failAll(why: string): void {
    for (const p of pending.values()) p.reject(new Error(`git ${p.args.slice(0, 3).join(' ')}: ${why}`));
    pending.clear();
  }

  function ensure(): ChildProcess {
    if (child) return child;
    const c = fork(MAIN, [], { execArgv: loaderArgs(), serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'], cwd: process.cwd() });
    c.on('message', (reply: HelperReply) => {
      const p = pending.get(reply.id);
      if (!p) return;
      pending.delete(reply.id);
      if (reply.ok) {
        const stdoutBuffer = Buffer.from(reply.stdout.buffer, reply.stdout.byteOffset, reply.stdout.byteLength);
        p.resolve({ code: reply.code, stdout: stdoutBuffer.toString('utf8'), stderr: reply.stderr, stdoutBuffer });
      } else if ('git' in reply) {
        const g = reply.git;
        p.reject(new GitCommandError(p.args, g.code, g.stderr, g.stdout, g.timedOut, g.signal));
      } else {
        p.reject(Object.assign(new Error(reply.error.message), reply.error.code ? { code: reply.error.code } : {}));
      }
    });
    c.on('exit', (code, signal) => {
      if (child === c) child = undefined;
      failAll(`the git helper process exited (${signal ?? `code ${code}`}) while it ran`);
    });
    c.on('error', () => {
      // 'exit' follows and fails what was pending.
    });
    child = c;
    idle(c);
    return c;
  }

  return {
    run(args, opts) {
      if (stopping) return Promise.reject(new Error('git helper stopped'));
      return new Promise<GitRunResult>((resolve, reject) => {
        const id = nextId++;
        pending.set(id, { args, resolve, reject });
        const c = ensure();
        busy(c);
        const req: HelperRequest = { id, args, opts };
        c.send(req, (err) => {
          if (err && pending.delete(id)) reject(err);
        });
      }).finally(() => {
        if (pending.size === 0 && child) idle(child);
      });
    },
    async stop() {
      stopping = true;
      const c = child;
      child = undefined;
      if (!c || c.exitCode !== null || c.signalCode !== null) return; // already gone: 'exit' failed what was pending
      await new Promise<void>((resolve) => {
        c.once('exit', () => resolve());
        busy(c); // to hear the exit
        c.kill('SIGTERM');
      });
      failAll('git helper stopped');
    },
  };
}

let shared: { helper: GitHelper; users: number } | undefined;

/**
 * Routes this process's git commands through one shared helper until every user has called the function returned.
 * Several Ferry instances in one process (tests) share it.
 */
export function useGitHelper(): () => Promise<void> {
  if (!shared) {
    const helper = startGitHelper();
    shared = { helper, users: 0 };
    setGitRunner(helper.run);
  }
  const mine = shared;
  mine.users += 1;
  let released = false;
  return async () => {
    if (released) return;
    released = true;
    mine.users -= 1;
    if (mine.users > 0 || shared !== mine) return;
    shared = undefined;
    setGitRunner(undefined);
    await mine.helper.stop();
  };
}
