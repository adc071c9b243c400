// Starts (or connects to) the Temporal server Ferry's workflows run on.
//
// Without TEMPORAL_ADDRESS we run `temporal server start-dev` ourselves rather than
// through TestWorkflowEnvironment: `npm start` needs the Web UI and a persistent
// SQLite file, and we want the process lifecycle (ports, shutdown) in our hands.
// TestWorkflowEnvironment is only the fallback when no CLI binary is available,
// because it is the one path that can download a dev server.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Connection } from '@temporalio/client';
import { connectClient, type TemporalConnectionSettings } from './temporal-profile';
import {
  forwardLines,
  getFreePort,
  hasExited,
  resolveTemporalExecutable,
  terminateChild,
  type TemporalExecutable,
} from './tools';

export interface TemporalServerHandle {
  address: string;
  namespace: string;
  uiUrl?: string;
  stop(): Promise<void>;
}

export interface StartTemporalOptions {
  /** Existing server (TEMPORAL_ADDRESS or a profile's address). When set, nothing is spawned. */
  address?: string;
  /** TLS, API key and headers for the existing server (see temporal-profile.ts). */
  connection?: TemporalConnectionSettings;
  namespace?: string;
  /** Directory holding temporal.db; undefined = in-memory server. */
  dataDir?: string;
  /** 0 or undefined picks a free port. */
  port?: number;
  uiPort?: number;
  /** Defaults to true when uiPort is given, false otherwise. */
  ui?: boolean;
  log?: (msg: string) => void;
}

/** All Keyword. The typed SearchAttributeKeys live in workflows/; these names must match them. */
export const FERRY_SEARCH_ATTRIBUTE_NAMES: string[] = [
  'FerryApp',
  'FerryEnv',
  'FerryArtifactId',
  'FerrySha',
  'FerryBranch',
  'FerryStatus',
];

const DEFAULT_NAMESPACE = 'default';
const HOST = '127.0.0.1';
const READY_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 10_000;
// temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD; a wire-stable proto
// value, spelled out so we don't depend on @temporalio/proto directly.
const INDEXED_VALUE_TYPE_KEYWORD = 2;
const GRPC_ALREADY_EXISTS = 6;
const GRPC_PERMISSION_DENIED = 7;
const GRPC_UNIMPLEMENTED = 12;

export async function startTemporal(opts: StartTemporalOptions = {}): Promise<TemporalServerHandle> {
  const namespace = opts.namespace ?? DEFAULT_NAMESPACE;
  const log = opts.log ?? (() => {});
  if (opts.address) return connectExisting(opts.address, opts.connection ?? {}, namespace, log);

  const executable = resolveTemporalExecutable();
  const dbFilename = opts.dataDir ? prepareDbFile(opts.dataDir) : undefined;
  const port = opts.port || (await getFreePort(HOST));
  const ui = opts.ui ?? opts.uiPort !== undefined;
  const uiPort = ui ? opts.uiPort || (await getFreePort(HOST)) : undefined;
  const server = { namespace, dbFilename, port, uiPort, log };
  return executable.type === 'existing-path'
    ? spawnDevServer(executable.path, server)
    : startViaTestEnvironment(executable, server);
}

/**
 * Idempotently registers Ferry's search attributes. Needed even when the dev server
 * was given --search-attribute flags: those only apply when the SQLite file is created,
 * so a db from an older Ferry version would silently lack newer attributes.
 */
export async function ensureSearchAttributes(
  connection: Connection,
  namespace: string,
  names: readonly string[] = FERRY_SEARCH_ATTRIBUTE_NAMES,
): Promise<void> {
  const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
  const existing = customAttributes ?? {};
  const wrongType = names.filter((n) => n in existing && existing[n] !== INDEXED_VALUE_TYPE_KEYWORD);
  if (wrongType.length) {
    throw new Error(`search attributes ${wrongType.join(', ')} exist in namespace ${namespace} but are not Keyword`);
  }
  const missing = names.filter((n) => !(n in existing));
  if (!missing.length) return;
  try {
    await connection.operatorService.addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(missing.map((n) => [n, INDEXED_VALUE_TYPE_KEYWORD])),
    });
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    // Another process may have registered them concurrently; that is the outcome we want.
    if (code === GRPC_ALREADY_EXISTS) return;
    // Temporal Cloud (and a cluster whose operator API is locked down) only takes them from an administrator.
    if (code === GRPC_PERMISSION_DENIED || code === GRPC_UNIMPLEMENTED) {
      throw new Error(
        `namespace ${namespace} lacks Ferry's search attributes ${missing.join(', ')} (all Keyword) and this connection may not add them; ` +
          `add them as an administrator (docs/operations.md, "Search attributes"): ${(err as Error).message}`,
      );
    }
    throw err;
  }
}

async function connectExisting(
  address: string,
  settings: TemporalConnectionSettings,
  namespace: string,
  log: (msg: string) => void,
): Promise<TemporalServerHandle> {
  const connection = await connectClient(address, settings);
  try {
    await ensureSearchAttributes(connection, namespace);
  } catch (err) {
    await connection.close();
    throw err;
  }
  log(`[temporal] using existing server at ${address}, namespace ${namespace}`);
  return { address, namespace, stop: () => connection.close() };
}

function prepareDbFile(dataDir: string): string {
  fs.mkdirSync(dataDir, { recursive: true });
  const dbFilename = path.join(path.resolve(dataDir), 'temporal.db');
  assertDbNotInUse(dbFilename);
  return dbFilename;
}

/**
 * A dev server orphaned by a SIGKILLed Ferry keeps running on its SQLite file, and a
 * second server on the same file would corrupt it. Linux-only check (via /proc);
 * elsewhere we cannot tell and go ahead.
 */
function assertDbNotInUse(dbFilename: string): void {
  let pids: string[];
  try {
    pids = fs.readdirSync('/proc').filter((entry) => /^\d+$/.test(entry));
  } catch {
    return;
  }
  for (const pid of pids) {
    let args: string[];
    try {
      args = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    } catch {
      continue; // exited meanwhile
    }
    const flag = args.indexOf('--db-filename');
    if (flag >= 0 && args[flag + 1] === dbFilename && args.includes('start-dev')) {
      throw new Error(
        `a Temporal dev server (pid ${pid}) is still running on ${dbFilename}, probably left behind by a Ferry process that was killed; stop it with \`kill ${pid}\` and start again`,
      );
    }
  }
}

export interface DevServerSettings {
  namespace: string;
  dbFilename?: string;
  port: number;
  uiPort?: number;
  log: (msg: string) => void;
}

function devServerArgs(s: DevServerSettings): string[] {
  // The update-workflow dynamic-config switches some setups pass are not needed:
  // the server bundled with CLI 1.5.1 (1.29.1) enables those APIs by default.
  return [
    'server',
    'start-dev',
    '--ip', HOST,
    '--port', String(s.port),
    ...(s.uiPort ? ['--ui-port', String(s.uiPort)] : ['--headless']),
    ...(s.namespace !== DEFAULT_NAMESPACE ? ['--namespace', s.namespace] : []),
    // SQLite's default rollback journal syncs the disk on every transaction; with it bench:e2e sustained 40% fewer
    // releases/s. A write-ahead log with synchronous=normal survives any process crash, SIGKILL included; only an OS
    // crash or power loss can drop the last transactions, which is acceptable for the embedded server (production
    // runs Temporal on its own database, see docker-compose.yml).
    ...(s.dbFilename ? ['--db-filename', s.dbFilename, '--sqlite-pragma', 'journal_mode=wal', '--sqlite-pragma', 'synchronous=normal'] : []),
    '--log-level', 'warn',
    // Ferry's API starts releases eagerly when the release worker shares its process (activities/release-starter.ts).
    '--dynamic-config-value', 'system.enableEagerWorkflowStart=true',
    // One server process has nothing to spread a task queue over: with the default four partitions, tasks and polls
    // land on different partitions and are forwarded between them.
    '--dynamic-config-value', 'matching.numTaskqueueReadPartitions=1',
    '--dynamic-config-value', 'matching.numTaskqueueWritePartitions=1',
    ...FERRY_SEARCH_ATTRIBUTE_NAMES.flatMap((n) => ['--search-attribute', `${n}=Keyword`]),
  ];
}

async function spawnDevServer(executable: string, s: DevServerSettings): Promise<TemporalServerHandle> {
  const address = `${HOST}:${s.port}`;
  const child = spawn(executable, devServerArgs(s), { stdio: ['ignore', 'pipe', 'pipe'] });
  // Keep the tail of the output so a failed start can say why.
  const recent: string[] = [];
  let stopping: Promise<void> | undefined;
  const onLine = (line: string) => {
    recent.push(line);
    if (recent.length > 20) recent.shift();
    // While shutting down the server logs a burst of expected dial/poll warnings.
    if (!stopping) s.log(`[temporal] ${line}`);
  };
  // Node leaves pid undefined when the exec itself failed and reports why via 'error'.
  if (child.pid === undefined) throw await new Promise<Error>((resolve) => child.once('error', resolve));
  forwardLines(child.stdout, onLine);
  forwardLines(child.stderr, onLine);

  // Safety net: a Ferry process that exits without calling stop() must not leave an
  // orphaned server holding the port and the SQLite file. ('exit' handlers must be sync.)
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const stop = () =>
    (stopping ??= terminateChild(child, 'SIGTERM', STOP_GRACE_MS).finally(() =>
      process.removeListener('exit', killOnExit),
    ));

  try {
    const connection = await waitUntilServing(address, child, recent);
    try {
      await ensureSearchAttributes(connection, s.namespace);
    } finally {
      await connection.close();
    }
  } catch (err) {
    await stop();
    throw err;
  }
  const uiUrl = s.uiPort ? `http://${HOST}:${s.uiPort}` : undefined;
  s.log(`[temporal] dev server ready at ${address}${uiUrl ? `, UI ${uiUrl}` : ''}`);
  return { address, namespace: s.namespace, uiUrl, stop };
}

async function waitUntilServing(
  address: string,
  child: ReturnType<typeof spawn>,
  recent: string[],
): Promise<Connection> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (hasExited(child)) {
      throw new Error(`temporal dev server exited (code ${child.exitCode ?? child.signalCode}):\n${recent.join('\n')}`);
    }
    try {
      // Connection.connect performs a GetSystemInfo round-trip, so success means the frontend serves.
      return await connectClient(address, {}, 1_000);
    } catch (err) {
      if (Date.now() > deadline) {
        throw new Error(`temporal dev server at ${address} not reachable after ${READY_TIMEOUT_MS / 1000}s: ${String(err)}`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

/**
 * Fallback for machines without a CLI binary: the SDK downloads and manages the dev
 * server. Exported so tests can drive this path with an existing binary.
 * @internal
 */
export async function startViaTestEnvironment(
  executable: TemporalExecutable,
  s: DevServerSettings,
): Promise<TemporalServerHandle> {
  // Lazy: @temporalio/testing loads the native worker runtime, which the normal path never needs.
  const { TestWorkflowEnvironment } = await import('@temporalio/testing');
  const { defineSearchAttributeKey, SearchAttributeType } = await import('@temporalio/common');
  s.log('[temporal] no temporal CLI found; letting the Temporal SDK provide a dev server (may download it)');
  const env = await TestWorkflowEnvironment.createLocal({
    server: {
      executable,
      ip: HOST,
      port: s.port,
      ui: s.uiPort !== undefined,
      uiPort: s.uiPort,
      namespace: s.namespace,
      dbFilename: s.dbFilename,
      searchAttributes: FERRY_SEARCH_ATTRIBUTE_NAMES.map((n) => defineSearchAttributeKey(n, SearchAttributeType.KEYWORD)),
    },
  });
  try {
    await ensureSearchAttributes(env.connection, s.namespace);
  } catch (err) {
    await env.teardown();
    throw err;
  }
  let stopping: Promise<void> | undefined;
  return {
    address: env.address,
    namespace: s.namespace,
    uiUrl: s.uiPort ? `http://${HOST}:${s.uiPort}` : undefined,
    stop: () => (stopping ??= env.teardown()),
  };
}
