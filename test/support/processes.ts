// Ferry as separate OS processes (`node --import tsx server/main.ts` with FERRY_ROLES) against a Temporal dev
// server with a database file, a PostgreSQL and a bare git remote, so that tests can kill, stop and restart any
// of them. Used by the chaos and shutdown tests.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { callApi } from './http';
import { signFluxBody } from '../../src/flux/signature';
import { createTestDatabase, startPostgres, type PostgresHandle } from '../../server/postgres';
import { startTemporal, type TemporalServerHandle } from '../../server/temporal-server';
import { forwardLines, getFreePort, REPO_ROOT } from '../../server/tools';
import { ADMIN_TOKEN, FLUX_SECRET } from './stack';

export type Role = 'api' | 'release-worker' | 'writer';

export interface FerryProcess {
  name: string;
  child: ChildProcess;
  /** Every stdout/stderr line of this process and of its earlier incarnations. */
  lines: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface ClusterOptions {
  /** An embedded PostgreSQL of the cluster's own, which the test may stop (default: a database on the runner's server). */
  ownPostgres?: boolean;
  env?: Record<string, string>;
  /** false: a Temporal dev server without a database file (in memory; it cannot be restarted with its state) */
  temporalDbFile?: boolean;
}

const FINAL = ['succeeded', 'failed', 'timed-out', 'committed'];

export class Cluster {
  readonly procs = new Map<string, FerryProcess>();
  /** Lines of processes that have exited, kept for the log checks. */
  readonly allLines: string[] = [];
  apiPort = 0;
  databaseUrl = '';
  temporalAddress = '';
  temporalPort = 0;
  pgPort = 0;
  private pg?: PostgresHandle;
  private dropDb?: () => Promise<void>;
  private temporalServer?: TemporalServerHandle;
  private client?: Client;

  private constructor(readonly dir: string, readonly gitopsRepo: string, readonly opts: ClusterOptions) {}

  static async start(opts: ClusterOptions = {}): Promise<Cluster> {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ferry-chaos-'));
    const repo = path.join(dir, 'gitops.git');
    execFileSync('git', ['init', '--bare', '--quiet', '--initial-branch=main', repo]);
    const c = new Cluster(dir, repo, opts);
    c.apiPort = await getFreePort();
    c.temporalPort = await getFreePort();
    await c.startTemporal();
    if (opts.ownPostgres) {
      c.pgPort = await getFreePort();
      await c.startPostgres();
    } else {
      const admin = process.env.FERRY_TEST_DATABASE_URL ?? process.env.DATABASE_URL;
      if (!admin) throw new Error('run through scripts/run-tests.ts (FERRY_TEST_DATABASE_URL) or set DATABASE_URL');
      const db = await createTestDatabase(admin);
      c.databaseUrl = db.url;
      c.dropDb = db.drop;
    }
    return c;
  }

  async startTemporal(): Promise<void> {
    const dataDir = this.opts.temporalDbFile === false ? undefined : path.join(this.dir, 'temporal');
    this.temporalServer = await startTemporal({ dataDir, port: this.temporalPort, ui: false });
    this.temporalAddress = this.temporalServer.address;
  }

  async stopTemporal(): Promise<void> {
    await this.temporalServer?.stop();
    this.temporalServer = undefined;
  }

  async startPostgres(): Promise<void> {
    this.pg = await startPostgres({ dataDir: path.join(this.dir, 'pg'), port: this.pgPort });
    this.databaseUrl = this.pg.url;
  }

  async stopPostgres(): Promise<void> {
    await this.pg?.stop();
    this.pg = undefined;
  }

  /** Starts a Ferry process with the given roles and waits for its "ferry ready" line. */
  async spawn(name: string, roles: Role[], env: Record<string, string> = {}, nodeArgs: string[] = [], attempt = 1): Promise<FerryProcess> {
    const earlier = this.procs.get(name);
    const lines = earlier?.lines ?? [];
    const from = lines.length;
    const dataDir = path.join(this.dir, `data-${name}`);
    const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', 'server/main.ts'], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? os.tmpdir(),
        ...(process.env.TEMPORAL_CLI ? { TEMPORAL_CLI: process.env.TEMPORAL_CLI } : {}),
        DATABASE_URL: this.databaseUrl,
        TEMPORAL_ADDRESS: this.temporalAddress,
        FERRY_ROLES: roles.join(','),
        FERRY_DATA_DIR: dataDir,
        FERRY_GITOPS_REPO: this.gitopsRepo,
        FERRY_ADMIN_TOKEN: ADMIN_TOKEN,
        FERRY_FLUX_WEBHOOK_SECRET: FLUX_SECRET,
        FERRY_PORT: roles.includes('api') ? String(this.apiPort) : '0',
        FERRY_AWAIT_FLUX: 'false',
        FERRY_SHUTDOWN_GRACE: '10s',
        FERRY_LOG_LEVEL: 'info',
        ...this.opts.env,
        ...env,
      },
    });
    forwardLines(child.stdout, (l) => lines.push(l));
    forwardLines(child.stderr, (l) => lines.push(l));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.once('exit', (code, signal) => resolve({ code, signal })),
    );
    const proc: FerryProcess = { name, child, lines, exited };
    this.procs.set(name, proc);
    const deadline = Date.now() + 180_000;
    while (!lines.slice(from).some((l) => l.includes('"msg":"ferry ready"'))) {
      if (child.exitCode !== null || child.signalCode !== null) {
        // The API's port was free when the cluster picked it, but the OS may since have handed it to another
        // process (an outgoing connection of a parallel test, say): take another port, as an operator would.
        if (roles.includes('api') && lines.slice(from).some((l) => l.includes('EADDRINUSE')) && attempt < 3) {
          this.apiPort = await getFreePort();
          return this.spawn(name, roles, env, nodeArgs, attempt + 1);
        }
        throw new Error(`${name} exited during start (${child.exitCode ?? child.signalCode}):\n${lines.slice(from).slice(-30).join('\n')}`);
      }
      if (Date.now() > deadline) throw new Error(`${name} not ready after 180s:\n${lines.slice(from).slice(-30).join('\n')}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    return proc;
  }

  async kill(name: string, signal: NodeJS.Signals = 'SIGKILL'): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    const p = this.procs.get(name);
    if (!p) throw new Error(`no process ${name}`);
    if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill(signal);
    return p.exited;
  }

  url(route: string): string {
    return `http://127.0.0.1:${this.apiPort}${route}`;
  }

  api<T = any>(method: string, route: string, body?: unknown, o: { token?: string | null; timeoutMs?: number } = {}): Promise<{ status: number; body: T }> {
    return callApi<T>(`http://127.0.0.1:${this.apiPort}`, method, route, body, { ...o, timeoutMs: o.timeoutMs ?? 30_000 });
  }

  /** Like a CI job: retries on connection errors and 5xx until the deadline. */
  async apiRetrying<T = any>(method: string, route: string, body?: unknown, timeoutMs = 60_000): Promise<{ status: number; body: T }> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const r = await this.api<T>(method, route, body, { timeoutMs: 10_000 });
        if (r.status < 500) return r;
        if (Date.now() > deadline) return r;
      } catch (err) {
        if (Date.now() > deadline) throw err;
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  async postFlux(event: unknown): Promise<{ status: number; body: any }> {
    const raw = JSON.stringify(event);
    const res = await fetch(this.url('/api/flux/events'), {
      method: 'POST', headers: { 'content-type': 'application/json', 'x-signature': signFluxBody(Buffer.from(raw), FLUX_SECRET) }, body: raw,
    });
    return { status: res.status, body: await res.json().catch(() => null) };
  }

  async temporalClient(): Promise<Client> {
    this.client ??= new Client({ connection: await Connection.connect({ address: this.temporalAddress }), namespace: 'default' });
    return this.client;
  }

  git(...args: string[]): string {
    return execFileSync('git', ['--git-dir', this.gitopsRepo, ...args], { encoding: 'utf8', maxBuffer: 64 << 20 }).trim();
  }

  /** Release id → number of commits on main carrying its Ferry-Release-Id trailer. */
  commitsByRelease(): Map<string, number> {
    const counts = new Map<string, number>();
    let out = '';
    try {
      out = this.git('log', '--format=%(trailers:key=Ferry-Release-Id,valueonly)', 'main');
    } catch {
      return counts; // no commit yet
    }
    for (const id of out.split('\n').map((l) => l.trim()).filter(Boolean)) counts.set(id, (counts.get(id) ?? 0) + 1);
    return counts;
  }

  async waitForReleases(ids: string[], timeoutMs: number, statuses = FINAL): Promise<Map<string, any>> {
    const deadline = Date.now() + timeoutMs;
    const done = new Map<string, any>();
    let last: unknown;
    while (done.size < ids.length) {
      for (const id of ids) {
        if (done.has(id)) continue;
        try {
          const r = await this.api('GET', `/api/releases/${encodeURIComponent(id)}`, undefined, { timeoutMs: 5_000 });
          last = r.body;
          if (r.status === 200 && statuses.includes(r.body.status)) done.set(id, r.body);
        } catch (err) {
          last = String(err);
        }
        if (Date.now() > deadline) break;
      }
      if (done.size === ids.length) break;
      if (Date.now() > deadline) {
        const missing = ids.filter((id) => !done.has(id));
        // What each process said last is usually the only clue to why a release never moved.
        const tails = [...this.procs.values()].map((p) => `--- ${p.name} (last lines)\n${p.lines.slice(-25).join('\n')}`).join('\n');
        throw new Error(`${missing.length} of ${ids.length} releases not final after ${timeoutMs} ms, e.g. ${missing[0]}; last: ${JSON.stringify(last)}\n${tails}`);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    return done;
  }

  /** Release statuses straight from PostgreSQL (works while the API is down). */
  async databaseRows(ids: string[]): Promise<Map<string, string>> {
    const { Client: PgClient } = await import('pg');
    const c = new PgClient({ connectionString: this.databaseUrl });
    await c.connect();
    try {
      const { rows } = await c.query<{ id: string; status: string }>('SELECT id, status FROM releases WHERE id = ANY($1)', [ids]);
      return new Map(rows.map((r) => [r.id, r.status]));
    } finally {
      await c.end();
    }
  }

  async stop(): Promise<void> {
    for (const name of this.procs.keys()) await this.kill(name, 'SIGKILL').catch(() => undefined);
    await this.client?.connection.close().catch(() => undefined);
    await this.stopTemporal().catch(() => undefined);
    await this.stopPostgres().catch(() => undefined);
    await this.dropDb?.().catch(() => undefined);
    await fs.rm(this.dir, { recursive: true, force: true });
  }
}
