import { Router } from 'express';
import { z } from 'zod';
import { zName } from '../../src/names';
import { doraFigures } from '../../src/store/insights';
import type { ApiContext } from '../context';
import { asyncRoute, parseBody } from '../errors';

export const DoraQuerySchema = z.strictObject({
  app: zName('app').optional(),
  env: zName('env').optional(),
  days: z.coerce.number({ error: 'must be a whole number of days' }).int('must be a whole number of days').min(1, 'must be at least 1').max(365, 'must be at most 365').default(30),
});

/** DORA figures from the releases in PostgreSQL; definitions in docs/insights.md. */
export function insightRoutes(ctx: ApiContext): Router {
  const r = Router();
  r.get('/insights/dora', asyncRoute(async (req, res) => {
    const q = parseBody(DoraQuerySchema, { ...req.query });
    const to = new Date();
    const from = new Date(to.getTime() - q.days * 86_400_000);
    const [figures] = await doraFigures(ctx.db, { app: q.app, env: q.env, from, to });
    res.json({ filter: { app: q.app ?? null, env: q.env ?? null }, window: { days: q.days, from: from.toISOString(), to: to.toISOString() }, ...figures, env: undefined });
  }));
  return r;
}
