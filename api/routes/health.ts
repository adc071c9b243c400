import type { Client } from '@temporalio/client';
import { Router } from 'express';
import { remoteReachable } from '../../src/gitops/reachable';
import { type FerryMetrics, metricsText } from '../../src/metrics';
import type { Db } from '../../src/store/db';
import { type Authenticator, requireToken } from '../auth';
import { asyncRoute } from '../errors';

export interface HealthDeps {
  db: Db;
  temporal: Client;
  authenticate: Authenticator;
  gitopsRepo?: string;
  metrics?: FerryMetrics;
  temporalMetricsAddress?: string;
}

const CHECK_TIMEOUT_MS = 2_000;
const withTimeout = <T>(p: Promise<T>, ms: number) =>
  Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timed out')), ms).unref())]);

/**
 * /healthz is liveness: the process answers, nothing else is asked (a database outage must not get every pod
 * restarted). /readyz is readiness: 200 only when PostgreSQL, Temporal and the GitOps remote answer; the body
 * names the one that does not. Both are unauthenticated and reveal nothing but ok/unreachable.
 * /metrics needs a token like every other route (Prometheus sends it with `authorization.credentials_file`).
 */
export function healthRoutes(deps: HealthDeps): Router {
  const r = Router();
  r.get('/healthz', (_req, res) => void res.json({ status: 'ok' }));
  r.get('/readyz', asyncRoute(async (_req, res) => {
    const [pg, temporal, git] = await Promise.allSettled([
      withTimeout(deps.db.query('SELECT 1'), CHECK_TIMEOUT_MS),
      withTimeout(deps.temporal.workflowService.getSystemInfo({}), CHECK_TIMEOUT_MS),
      deps.gitopsRepo
        ? remoteReachable(deps.gitopsRepo, CHECK_TIMEOUT_MS).then((r) => (r.ok ? r : Promise.reject(new Error(r.reason))))
        : Promise.resolve({ ok: true }),
    ]);
    const state = (p: PromiseSettledResult<unknown>) => (p.status === 'fulfilled' ? 'ok' : 'unreachable');
    const checks = { postgres: state(pg), temporal: state(temporal), git: state(git) };
    const ready = Object.values(checks).every((c) => c === 'ok');
    res.status(ready ? 200 : 503).json({ status: ready ? 'ok' : 'degraded', checks });
  }));
  r.get('/metrics', requireToken(deps.authenticate), asyncRoute(async (_req, res) => {
    if (!deps.metrics) {
      res.status(404).json({ error: 'metrics are not enabled in this process' });
      return;
    }
    res.type(deps.metrics.registry.contentType).send(await metricsText(deps.metrics, deps.temporalMetricsAddress));
  }));
  return r;
}
