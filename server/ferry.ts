import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, type Worker } from '@temporalio/worker';
import type { Promoter } from '../activities/promotion-activities';
import { adminTokenAuthenticator } from '../api/auth';
import { createApi } from '../api/app';
import type { ApiContext } from '../api/context';
import { HttpError } from '../api/errors';
import { promote } from '../api/promotion';
import type { FerryConfig } from '../src/config';
import { GitopsWriter } from '../src/gitops/writer';
import { createLogger, type Logger } from '../src/log';
import { createPool, type Db, migrate } from '../src/store/db';
import { createReleaseWorker } from '../worker/release-worker';
import { installRuntime } from '../worker/runtime';
import { createWriterWorker } from '../worker/writer-worker';
import { cloneDir, ensureDefaultRepo } from './gitops-repo';

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
    const db = createPool(services.databaseUrl);
    stops.push(() => db.end());
    await migrate(db);

    const gitopsRepo = config.gitopsRepo ?? (await ensureDefaultRepo(config.dataDir, config.gitopsBranch));
    const connection = await Connection.connect({ address: services.temporalAddress });
    stops.push(() => connection.close());
    const temporal = new Client({ connection, namespace: services.namespace });

    const apiContext: ApiContext = {
      db, temporal, log, authenticate: adminTokenAuthenticator(opts.adminToken, config.tokens), taskQueue: config.taskQueue,
      writerTaskQueue: config.writerTaskQueue, awaitFlux: config.awaitFlux, fluxTimeout: config.fluxTimeout,
      fluxWebhookSecret: config.fluxWebhookSecret, maxBody: config.maxBody, environments: config.environments,
    };
    // Auto-promotions start releases the way POST /api/promote does, with the same checks.
    const promoter: Promoter = async (r) => {
      try {
        return { ok: true, releaseId: (await promote(apiContext, r)).id };
      } catch (err) {
        if (err instanceof HttpError && err.status < 500) return { ok: false, reason: err.message };
        throw err;
      }
    };

    const workers: Worker[] = [];
    if (roles.releaseWorker || roles.writerWorker) {
      const native = await NativeConnection.connect({ address: services.temporalAddress });
      stops.push(() => native.close());
      if (roles.writerWorker) {
        const writer = new GitopsWriter({ remote: gitopsRepo, branch: config.gitopsBranch, cacheDir: cloneDir(config.dataDir, 'writer', gitopsRepo), committer: COMMITTER, log: (m, f) => log.debug(m, f as Record<string, unknown>) });
        await writer.init();
        stops.push(() => writer.close());
        workers.push(await createWriterWorker({ connection: native, namespace: services.namespace, taskQueue: config.writerTaskQueue, deps: { db, writer } }));
      }
      if (roles.releaseWorker) {
        const reader = new GitopsWriter({ remote: gitopsRepo, branch: config.gitopsBranch, cacheDir: cloneDir(config.dataDir, 'reader', gitopsRepo), committer: COMMITTER });
        await reader.init();
        stops.push(() => reader.close());
        workers.push(await createReleaseWorker({
          connection: native, namespace: services.namespace, taskQueue: config.taskQueue,
          deps: { db, git: reader, log, notifyWebhookUrl: config.notifyWebhookUrl },
          lanes: { temporal, taskQueue: config.taskQueue, eventsPerRun: config.laneEventsPerRun, holderCheck: config.laneHolderCheck },
          promote: promoter,
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
      const app = createApi(apiContext);
      const server: Server = await new Promise((resolve, reject) => {
        const s = app.listen(config.port, config.host, () => resolve(s));
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
