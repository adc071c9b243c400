// Locates and manages the external programs Ferry drives (Temporal dev server,
// helm, kustomize, embedded Postgres). Executable lookup order is the same for every tool:
// explicit env var, PATH, then the project-local copy that `npm run tools`
// (scripts/install-tools.sh) builds.
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

// Compiled code lives in <root>/dist/server; .tools/ and the sources' tree start at <root> either way.
const ABOVE = path.resolve(__dirname, '..');
export const REPO_ROOT = path.basename(ABOVE) === 'dist' && path.extname(__filename) === '.js' ? path.dirname(ABOVE) : ABOVE;
export const TOOLS_BIN_DIR = path.join(REPO_ROOT, '.tools', 'bin');

/** Same shape as @temporalio/testing's EphemeralServerExecutable, so it can be passed straight through. */
export type TemporalExecutable = { type: 'existing-path'; path: string } | { type: 'cached-download' };

function isExecutableFile(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

function findOnPath(name: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    // An empty PATH entry means "cwd" to a shell; we deliberately don't honour that.
    if (!dir) continue;
    const candidate = path.join(dir, name);
    if (isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}

/** An explicitly configured path that is wrong should fail loudly, not silently fall through. */
function fromEnv(variable: string, env: NodeJS.ProcessEnv): string | undefined {
  const value = env[variable];
  if (!value) return undefined;
  const resolved = path.resolve(value);
  if (!isExecutableFile(resolved)) {
    throw new Error(`${variable} is set to ${value}, but that is not an executable file`);
  }
  return resolved;
}

function findTool(name: string, envVar: string, env: NodeJS.ProcessEnv): string | undefined {
  const local = path.join(TOOLS_BIN_DIR, name);
  return fromEnv(envVar, env) ?? findOnPath(name, env) ?? (isExecutableFile(local) ? local : undefined);
}

/**
 * $TEMPORAL_CLI, else `temporal` on PATH, else <repo>/.tools/bin/temporal, else let the
 * Temporal SDK download a dev server at runtime (needs internet access).
 */
export function resolveTemporalExecutable(env: NodeJS.ProcessEnv = process.env): TemporalExecutable {
  const found = findTool('temporal', 'TEMPORAL_CLI', env);
  return found ? { type: 'existing-path', path: found } : { type: 'cached-download' };
}

/** A tool Ferry cannot do without once it is needed: there is no download fallback, so say how to get it. */
function requireTool(name: string, envVar: string, env: NodeJS.ProcessEnv): string {
  const found = findTool(name, envVar, env);
  if (!found) {
    throw new Error(`${name} not found: set ${envVar}, put ${name} on PATH, or run \`npm run tools\` to build it into ${TOOLS_BIN_DIR}`);
  }
  return found;
}

/** $HELM_BIN, else `helm` on PATH, else <repo>/.tools/bin/helm. */
export function resolveHelmBinary(env: NodeJS.ProcessEnv = process.env): string {
  return requireTool('helm', 'HELM_BIN', env);
}

/** $KUSTOMIZE_BIN, else `kustomize` on PATH, else <repo>/.tools/bin/kustomize. */
export function resolveKustomizeBinary(env: NodeJS.ProcessEnv = process.env): string {
  return requireTool('kustomize', 'KUSTOMIZE_BIN', env);
}

/**
 * Asks the OS for a currently free TCP port. There is an unavoidable window between
 * closing our probe socket and the real server binding it; for local dev/test that
 * race is acceptable.
 */
/** True when nothing listens on the port (so a server of ours may take it). */
export function portIsFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, host, () => probe.close(() => resolve(true)));
  });
}

export function getFreePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === 'object') resolve(address.port);
        else reject(new Error('could not determine a free port'));
      });
    });
  });
}

export function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/** Sends `signal`, and SIGKILL if the child has not exited within `graceMs`. Resolves once it has exited. */
export async function terminateChild(child: ChildProcess, signal: NodeJS.Signals, graceMs: number): Promise<void> {
  if (hasExited(child)) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(signal);
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(true), graceMs);
  });
  const late = await Promise.race([exited.then(() => false), timedOut]);
  clearTimeout(timer);
  if (late) {
    child.kill('SIGKILL');
    await exited;
  }
}

/** Splits a child's output stream into lines for a logger; always drains it so the child never blocks on a full pipe. */
export function forwardLines(stream: NodeJS.ReadableStream | null, onLine: (line: string) => void): void {
  if (!stream) return;
  let pending = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    pending += chunk;
    const lines = pending.split(/\r?\n/);
    pending = lines.pop() ?? '';
    for (const line of lines) if (line.trim()) onLine(line);
  });
  stream.on('end', () => {
    if (pending.trim()) onLine(pending);
  });
}
