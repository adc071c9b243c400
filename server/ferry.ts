import type { Server } from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { Client } from '@temporalio/client';
import type { Duration } from '@temporalio/common';
import type { Worker } from '@temporalio/worker';
import type { Express } from 'express';
import type { Promoter, Rollbacker } from '../activities/promotion-activities';
import { createAuthenticator } from '../api/auth';
import { createApi } from '../api/app';
import type { ApiContext } from '../api/context';
import { HttpError } from '../api/errors';
import { promote, rollback } from '../api/promotion';
import { systemPrincipal } from '../src/auth/authorize';
import { durationMs, type FerryConfig } from '../src/config';
import { GitopsWriters, type RepoLayout } from '../src/gitops/repos';
import { createLogger, type Logger } from '../src/log';
import { createMetrics, type FerryMetrics } from '../src/metrics';
import { ChartStore } from '../src/render/charts';
import { createPool, type Db, migrate } from '../src/store/db';
import { doraFigures } from '../src/store/insights';
import { getRelease } from '../src/store/releases';
import { useGitHelper } from '../src/gitops/git-helper';
import { localRemotePath } from '../src/gitops/writer';
import { pgWriteFence } from '../src/store/writer-lease';
import { createReleaseWorker } from '../worker/release-worker';
import { installRuntime } from '../worker/runtime';
import { createWriterWorker } from '../worker/writer-worker';
import { cloneDir, ensureDefaultRepo } from './gitops-repo';
import { resolveHelmBinary, resolveKustomizeBinary } from './tools';
import { startOpsServer } from './ops-server';
import { connectClient, connectNative, type TemporalConnectionSettings } from './temporal-profile';
import { drainServer } from './shutdown';
import { releaseChangeFeed } from '../src/store/release-changes';

export interface FerryServices {
  databaseUrl: string;
  temporalAddress: string;
  namespace: string;
  /** The Temporal UI people use (the embedded dev server's, or FERRY_TEMPORAL_UI_URL). */
  temporalUiUrl?: string;
  /** TLS, API key and headers (temporal-profile.ts); plaintext when absent. */
  temporalConnection?: TemporalConnectionSettings;
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
  metrics: FerryMetrics;
  /** Set when a worker-only process serves /healthz, /readyz and /metrics (FERRY_METRICS_PORT). */
  opsUrl?: string;
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
  const fromConfig = config.roles ?? ['api', 'release-worker', 'writer'];
  const roles = {
    api: fromConfig.includes('api'), releaseWorker: fromConfig.includes('release-worker'), writerWorker: fromConfig.includes('writer'),
    ...opts.roles,
  };
  const log = opts.log ?? createLogger();
  const grace = (config.shutdownGrace ?? '20s') as Duration;
  const metrics = createMetrics();
  installRuntime('WARN', config.temporalMetricsAddress);
  const stops: Array<() => Promise<unknown>> = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop().catch((err) => log.warn('shutdown step failed', { error: String(err) }));
  };
  try {
    const reconcile = config.reconcile;
    const db = createPool(services.databaseUrl);
    stops.push(() => db.end());
    await migrate(db);
    metrics.watchReleases(async () => (await db.query<{ status: string; n: number }>('SELECT status, count(*)::int AS n FROM releases GROUP BY status')).rows);
    if (roles.api) metrics.watchDora(() => doraFigures(db, { from: new Date(Date.now() - config.doraWindowMs), to: new Date(), byEnv: true }), config.doraWindowMs / 1000);

    const gitopsRepo = config.gitopsRepo ?? (await ensureDefaultRepo(config.dataDir, config.gitopsBranch));
    // A process that runs workers talks to Temporal over the workers' native (Rust) connection for everything: its
    // calls cost less CPU than the JavaScript gRPC client's, and releases it starts can be started eagerly (their
    // first workflow task comes back in the start call's answer instead of through a poll).
    const temporalSettings = services.temporalConnection ?? {};
    const native = roles.releaseWorker || roles.writerWorker ? await connectNative(services.temporalAddress, temporalSettings) : undefined;
    const connection = native ?? (await connectClient(services.temporalAddress, temporalSettings));
    stops.push(() => connection.close());
    const temporal = new Client({ connection, namespace: services.namespace });

    const layout: RepoLayout = { defaultRemote: gitopsRepo, byEnv: config.gitopsRepoByEnv, defaultBranch: config.gitopsBranch, branchByEnv: config.gitopsBranchByEnv };
    const countStart = (eagerly: boolean) => metrics.releaseStarts.inc({ eager: String(eagerly) });
    const authenticate = createAuthenticator({ db, adminToken: opts.adminToken, oidc: config.oidc, log, staticTokens: config.tokens });
    const apiContext: ApiContext = {
      db, temporal, log, authenticate, taskQueue: config.taskQueue,
      writerTaskQueue: config.writerTaskQueue, awaitFlux: config.awaitFlux, fluxTimeout: config.fluxTimeout,
      fluxWebhookSecret: config.fluxWebhookSecret, reconcile, maxBody: config.maxBody,
      branchRestrictions: config.branchRestrictions, mainBranch: config.mainBranch, environments: config.environments,
      metrics, gitopsRepo, gitopsLayout: layout, temporalMetricsAddress: config.temporalMetricsAddress, eagerStart: roles.releaseWorker, onStarted: countStart,
      namespace: services.namespace, temporalUiUrl: services.temporalUiUrl, publicUrl: config.publicUrl,
      oidcSignIn: config.oidc && config.oidcSignIn ? { ...config.oidcSignIn, issuer: config.oidc.issuer } : undefined,
    };
    // Auto-promotions start releases the way POST /api/promote does, with the same checks, acting for the
    // principal behind the release they promote.
    const promoter: Promoter = async (r) => {
      try {
        return { ok: true, releaseId: (await promote(apiContext, { app: r.app, env: r.env, by: r.by, expectArtifactId: r.expectArtifactId, automatic: true })).id };
      } catch (err) {
        if (err instanceof HttpError && err.status < 500) return { ok: false, reason: err.message };
        throw err;
      }
    };
    // Automatic rollbacks go the way POST /api/rollback does: same target choice, gates and ordering.
    const rollbacker: Rollbacker = async (r) => {
      try {
        // Configured by the operator (autoRollback in FERRY_CONFIG) and only ever back to what ran there before.
        const started = await rollback(apiContext, { app: r.app, env: r.env, by: r.by, expectHead: r.failedReleaseId, actor: systemPrincipal('auto-rollback') });
        const row = await getRelease(db, started.id);
        return { ok: true, releaseId: started.id, artifactId: row?.artifactId ?? '', existing: started.existing };
      } catch (err) {
        if (err instanceof HttpError && err.status < 500) return { ok: false, reason: err.message };
        throw err;
      }
    };

    const workers: Worker[] = [];
    if (native) {
      // Registered first so it stops last: the writer and the reader run git until they close.
      if (config.gitHelper) stops.push(useGitHelper());
      // Ferry's own embedded repository has no receive hooks to honour, so by default only it skips git's transport.
      const directLocalWrite = (remote: string) =>
        config.gitopsDirectWrite === 'true'
          ? localRemotePath(remote) !== null
          : config.gitopsDirectWrite === 'auto' && config.gitopsRepo === undefined && remote === gitopsRepo;
      if (roles.writerWorker) {
        // Replicas of this role serialise per repository through the PostgreSQL write lease.
        const fence = pgWriteFence(db);
        const retry = { maxElapsedMs: config.gitRetryForMs, initialDelayMs: 100, maxDelayMs: 5_000 };
        const writers = new GitopsWriters(layout, (remote) => ({ branch: config.gitopsBranch, cacheDir: cloneDir(config.dataDir, 'writer', remote), committer: COMMITTER, fence, retry, directLocalWrite: directLocalWrite(remote), signing: config.gitopsSigning, log: (m, f) => log.debug(m, f as Record<string, unknown>) }));
        writers.onWriter((w) => metrics.watchWriter(w.stats));
        await writers.initDefault();
        stops.push(() => writers.close());
        workers.push(await createWriterWorker({ connection: native, namespace: services.namespace, taskQueue: config.writerTaskQueue, deps: { db, writers, environments: config.environments }, metrics, shutdownGraceTime: grace }));
      }
      if (roles.releaseWorker) {
        // Missing tools only matter to environment files that use charts or patches; those releases fail saying so.
        const helm = optionalTool(resolveHelmBinary, log);
        const kustomize = optionalTool(resolveKustomizeBinary, log);
        const charts = new ChartStore({ cacheDir: path.join(config.dataDir, 'charts'), localRoot: config.chartRoot, sources: config.chartSources });
        const starter = {
          db, temporal, taskQueue: config.taskQueue, writerTaskQueue: config.writerTaskQueue, awaitFlux: config.awaitFlux,
          fluxTimeout: config.fluxTimeout, branchRestrictions: config.branchRestrictions, reconcile, environments: config.environments,
          eagerStart: true, onStarted: countStart,
        };
        // Lane joins and leaves hold a session while they wait on a lane workflow; their own pool keeps them from
        // starving the release steps (local activities hold workflow task slots while they wait for a session).
        const laneDb = createPool(services.databaseUrl);
        stops.push(() => laneDb.end());
        const reader = new GitopsWriters(layout, (remote) => ({ branch: config.gitopsBranch, cacheDir: cloneDir(config.dataDir, 'reader', remote), committer: COMMITTER, directLocalWrite: directLocalWrite(remote) }));
        await reader.initDefault();
        stops.push(() => reader.close());
        workers.push(await createReleaseWorker({
          connection: native, namespace: services.namespace, taskQueue: config.taskQueue,
          deps: { db, git: reader, log, notifyWebhookUrl: config.notifyWebhookUrl, reconcile, render: { helm, kustomize, charts }, allowClusterScoped: config.allowClusterScoped, environments: config.environments, freezeRecheckMs: config.freezeRecheckMs },
          policyDeps: { starter, mainBranch: config.mainBranch, log },
          lanes: { temporal, db: laneDb, taskQueue: config.taskQueue, eventsPerRun: config.laneEventsPerRun, holderCheck: config.laneHolderCheck },
          promote: promoter,
          rollback: rollbacker,
          metrics, shutdownGraceTime: grace,
        }));
      }
    }
    const running = workers.map((w) => w.run());
    running.forEach((p) => p.catch((err) => log.error('worker stopped with an error', { error: String(err) })));
    // Workers stop polling at once and get the grace time to finish running activities (the SDK then cancels
    // them, and Temporal retries them elsewhere); the workers' stop runs before their connection closes.
    const stopWorkers = async () => {
      for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
      await Promise.allSettled(running);
    };

    const health = { db, temporal, gitopsRepo, metrics, temporalMetricsAddress: config.temporalMetricsAddress, authenticate };
    let url: string | undefined;
    let server: Server | undefined;
    if (roles.api) {
      apiContext.releaseFeed = releaseChangeFeed(db);
      const app = createApi(apiContext);
      server = await listen(app, config.port, config.host);
      const addr = server.address() as AddressInfo;
      url = `http://${addr.address}:${addr.port}`;
    }
    let opsUrl: string | undefined;
    if (!roles.api && config.metricsPort !== undefined) {
      server = await startOpsServer(health, config.metricsPort, config.host);
      const addr = server.address() as AddressInfo;
      opsUrl = `http://${addr.address}:${addr.port}`;
    }
    const api = server;
    // The API drains (no new connections, requests in flight may finish) while the workers wind down.
    // Live console streams never end on their own: they are closed first so that the drain does not wait for them.
    const feed = apiContext.releaseFeed;
    const drainApi = async () => {
      await feed?.stop();
      if (api) await drainServer(api, durationMs(String(grace)));
    };
    stops.push(() => Promise.all([drainApi(), stopWorkers()]));
    return { url, opsUrl, adminToken: opts.adminToken, gitopsRepo, db, temporal, metrics, stop: stopAll };
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

export function listen(app: Express, port: number, host: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    // Express 5 calls this callback with the error when binding fails (a port in use): resolving then would hand
    // back a server that is not listening.
    const s = app.listen(port, host, (err?: Error) => (err ? reject(err) : resolve(s)));
    // Longer than common load-balancer and client idle timeouts (60 s): a server closing a kept-alive socket just as
    // a client reuses it makes that request fail ("socket hang up"). Shutdown closes idle sockets itself.
    s.keepAliveTimeout = 65_000;
    s.headersTimeout = 66_000;
    s.once('error', reject);
  });
}
