import { Router } from 'express';
import type { ApiContext } from '../context';

const withTimeout = <T>(p: Promise<T>, ms: number) =>
  Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timed out')), ms).unref())]);

/** 200 only when PostgreSQL and Temporal both answer; the body says which one does not. */
export function healthRoutes(ctx: ApiContext): Router {
  const r = Router();
  r.get('/healthz', async (_req, res) => {
    const [pg, temporal] = await Promise.allSettled([
      withTimeout(ctx.db.query('SELECT 1'), 2_000),
      withTimeout(ctx.temporal.workflowService.getSystemInfo({}), 2_000),
    ]);
    const checks = { postgres: pg.status === 'fulfilled' ? 'ok' : 'unreachable', temporal: temporal.status === 'fulfilled' ? 'ok' : 'unreachable' };
    res.status(pg.status === 'fulfilled' && temporal.status === 'fulfilled' ? 200 : 503).json({ status: checks.postgres === 'ok' && checks.temporal === 'ok' ? 'ok' : 'degraded', checks });
  });
  return r;
}
