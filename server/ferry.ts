import type { Server } from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, type Worker } from '@temporalio/worker';
import { adminTokenAuthenticator } from '../api/auth';
import { createApi } from '../api/app';
import type { FerryConfig } from '../src/config';
import { GitopsWriters } from '../src/gitops/repos';
import { ChartStore } from '../src/render/charts';
import { createLogger, type Logger } from '../src/log';
import { loadReconcileConfig } from '../src/reconcile/config';
import { createPool, type Db, migrate } from '../src/store/db';
import { pgWriteFence } from '../src/store/writer-lease';
import { createReleaseWorker } from '../worker/release-worker';
import { installRuntime } from '../worker/runtime';
import { createWriterWorker } from '../worker/writer-worker';
import { cloneDir, ensureDefaultRepo } from './gitops-repo';
import { resolveHelmBinary, resolveKustomizeBinary } from './tools';

export interface FerryServices {
  databaseUrl: string;
  temporalAddress: string;
  namespace: string;
}

export interface FerryRoles {
  api?: boolean;
  releaseWorker?: boolean;
  writerWorker?: boolean;
}

export interface FerryHandle {
  url?: string;
  adminToken: string;
  gitopsRepo: string;
  db: Db;
  temporal: Client;
  stop(): Promise<void>;
}

const COMMITTER = { name: 'Ferry', email: 'ferry@localhost' };

/**
 * Wires one Ferry process: API and/or workers against already running PostgreSQL and Temporal. Every role is on
 * by default (`npm start`); tests and deployments can run roles in separate processes.
 */
export async function startFerry(
  config: FerryConfig,
  services: FerryServices,
  opts: { adminToken: string; roles?: FerryRoles; log?: Logger } ,
): Promise<FerryHandle> {
  const roles = { api: true, releaseWorker: true, writerWorker: true, ...opts.roles };
  const log = opts.log ?? createLogger();
  installRuntime();
  const stops: Array<() => Promise<unknown>> = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop().catch((err) => log.warn('shutdown step failed', { error: String(err) }));
  };
  try {
    // Read first: a missing secret variable or a bad file stops start-up before anything runs.
    const reconcile = loadReconcileConfig(config.reconcileConfigPath);
    const db = createPool(services.databaseUrl);
    stops.push(() => db.end());
    await migrate(db);

    const gitopsRepo = config.gitopsRepo ?? (await ensureDefaultRepo(config.dataDir, config.gitopsBranch));
    const connection = await Connection.connect({ address: services.temporalAddress });
    stops.push(() => connection.close());
    const temporal = new Client({ connection, namespace: services.namespace });

    const workers: Worker[] = [];
    if (roles.releaseWorker || roles.writerWorker) {
      const native = await NativeConnection.connect({ address: services.temporalAddress });
      stops.push(() => native.close());
      const layout = { defaultRemote: gitopsRepo, byEnv: config.gitopsRepoByEnv };
      if (roles.writerWorker) {
        // Replicas of this role serialise per repository through the PostgreSQL write lease.
        const fence = pgWriteFence(db);
        const retry = { maxElapsedMs: config.gitRetryForMs, initialDelayMs: 100, maxDelayMs: 5_000 };
        const writers = new GitopsWriters(layout, (remote) => ({ branch: config.gitopsBranch, cacheDir: cloneDir(config.dataDir, 'writer', remote), committer: COMMITTER, fence, retry, log: (m, f) => log.debug(m, f as Record<string, unknown>) }));
        await writers.initDefault();
        stops.push(() => writers.close());
        workers.push(await createWriterWorker({ connection: native, namespace: services.namespace, taskQueue: config.writerTaskQueue, deps: { db, writers } }));
      }
      if (roles.releaseWorker) {
        // Missing tools only matter to environment files that use charts or patches; those releases fail saying so.
        const helm = optionalTool(resolveHelmBinary, log);
        const kustomize = optionalTool(resolveKustomizeBinary, log);
        const charts = new ChartStore({ cacheDir: path.join(config.dataDir, 'charts'), helm, localRoot: config.chartRoot });
        const starter = {
          db, temporal, taskQueue: config.taskQueue, writerTaskQueue: config.writerTaskQueue, awaitFlux: config.awaitFlux,
          fluxTimeout: config.fluxTimeout, branchRestrictions: config.branchRestrictions, reconcile,
        };
        const reader = new GitopsWriters(layout, (remote) => ({ branch: config.gitopsBranch, cacheDir: cloneDir(config.dataDir, 'reader', remote), committer: COMMITTER }));
        await reader.initDefault();
        stops.push(() => reader.close());
        workers.push(await createReleaseWorker({
          connection: native, namespace: services.namespace, taskQueue: config.taskQueue,
          deps: { db, git: reader, log, notifyWebhookUrl: config.notifyWebhookUrl, reconcile, render: { helm, kustomize, charts } },
          policyDeps: { starter, mainBranch: config.mainBranch, log },
        }));
      }
    }
    const running = workers.map((w) => w.run());
    // Workers are shut down before their connection closes (stops run in reverse order).
    stops.push(async () => {
      for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
      await Promise.allSettled(running);
    });
    running.forEach((p) => p.catch((err) => log.error('worker stopped with an error', { error: String(err) })));

    let url: string | undefined;
    if (roles.api) {
      const app = createApi({
        db, temporal, log, authenticate: adminTokenAuthenticator(opts.adminToken), taskQueue: config.taskQueue,
        writerTaskQueue: config.writerTaskQueue, awaitFlux: config.awaitFlux, fluxTimeout: config.fluxTimeout,
        fluxWebhookSecret: config.fluxWebhookSecret, reconcile, maxBody: config.maxBody,
        branchRestrictions: config.branchRestrictions, mainBranch: config.mainBranch,
      });
      const server: Server = await new Promise((resolve, reject) => {
        const s = app.listen(config.port, config.host, () => resolve(s));
        // Longer than clients' and proxies' idle timeouts, so the server never closes a kept-alive connection
        // at the moment a client reuses it (which the client sees as ECONNRESET under load).
        s.keepAliveTimeout = 65_000;
        s.headersTimeout = 66_000;
        s.once('error', reject);
      });
      stops.push(() => new Promise<void>((resolve) => { server.close(() => resolve()); server.closeAllConnections(); }));
      const addr = server.address() as AddressInfo;
      url = `http://${addr.address}:${addr.port}`;
    }
    return { url, adminToken: opts.adminToken, gitopsRepo, db, temporal, stop: stopAll };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

function optionalTool(resolve: () => string, log: Logger): string | undefined {
  try {
    return resolve();
  } catch (err) {
    log.warn('tool not available', { error: (err as Error).message });
    return undefined;
  }
}
