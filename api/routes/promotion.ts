import { Router } from 'express';
import { z } from 'zod';
import { zName } from '../../src/names';
import type { ApiContext } from '../context';
import { asyncRoute, parseBody } from '../errors';
import { promote, rollback } from '../promotion';
import { actorOf, envFromBody, requireRole } from '../auth';

export const PromoteSchema = z.strictObject({ app: zName('app'), env: zName('env') });
const RollbackSchema = z.strictObject({
  app: zName('app'),
  env: zName('env'),
  /** An artifact id or a GitOps commit (full or at least 7 hex digits). */
  to: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, 'must be an artifact id or a GitOps commit').optional(),
});

export function promotionRoutes(ctx: ApiContext): Router {
  const r = Router();

  r.post('/promote', requireRole(['deployer'], { env: envFromBody }), asyncRoute(async (req, res) => {
    const body = parseBody(PromoteSchema, req.body);
    const started = await promote(ctx, { ...body, by: actorOf(req), actor: req.principal! });
    ctx.log.info('promotion requested', { releaseId: started.id, by: req.principal?.name, existing: started.existing });
    res.status(started.existing ? 200 : 202).json(started);
  }));

  r.post('/rollback', requireRole(['deployer'], { env: envFromBody }), asyncRoute(async (req, res) => {
    const body = parseBody(RollbackSchema, req.body);
    const started = await rollback(ctx, { ...body, by: actorOf(req), actor: req.principal! });
    ctx.log.info('rollback requested', { releaseId: started.id, rollbackOf: started.rollbackOf, by: req.principal?.name, existing: started.existing });
    res.status(started.existing ? 200 : 202).json(started);
  }));

  return r;
}
