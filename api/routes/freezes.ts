import { Router, type Request } from 'express';
import { z } from 'zod';
import { deny, type Principal, type Role } from '../../src/auth/roles';
import { DurationSchema, durationMs } from '../../src/duration';
import { reconcileSettingsFor } from '../../src/reconcile/config';
import { zName } from '../../src/names';
import { activeFreezes, createFreeze, endFreeze, frozenReleases, getFreeze, listFreezes, type ManualFreeze } from '../../src/store/freezes';
import { freezeEndSignal, freezeLiftedSignal, freezeNoticeWorkflowId } from '../../workflows/definitions';
import type { freezeNoticeWorkflow } from '../../workflows/freeze-notice';
import { authorize } from '../auth';
import type { ApiContext } from '../context';
import { asyncRoute, HttpError, parseBody } from '../errors';

/** The longest freeze with an end that can be asked for; one without `until` holds until lifted. */
const MAX_FREEZE_MS = 90 * 86_400_000;
const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/i;

export const FreezeBodySchema = z
  .strictObject({
    env: zName('env').optional(),
    all: z.literal(true, { error: 'must be true to freeze every environment' }).optional(),
    // One line: it is shown in timelines, chat messages and the Temporal UI.
    reason: z.string({ error: 'required: why the line is stopped' }).trim().min(1, 'required: why the line is stopped').max(500, 'must be at most 500 characters')
      .regex(/^[^\u0000-\u001f\u007f]*$/, 'must be one line without control characters'),
    until: z.string().max(64).refine((v) => ISO_INSTANT.test(v) || DurationSchema.safeParse(v).success, {
      error: 'must be an ISO date-time with an offset (2026-12-24T18:00:00Z) or a duration from now (90m, 4h, 2d)',
    }).optional(),
  })
  .superRefine((b, ctx) => {
    if ((b.env === undefined) === (b.all === undefined)) ctx.addIssue({ code: 'custom', path: ['env'], message: 'give either env (one environment) or all: true' });
  });

export const FreezeListQuerySchema = z.strictObject({
  ended: z.enum(['true', 'false']).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});

/** Roles that may stop the line in an environment they hold. */
const FREEZERS: readonly Role[] = ['deployer', 'approver'];
/** Roles that may lift someone else's freeze: the gatekeepers. */
const LIFTERS: readonly Role[] = ['approver'];

/**
 * A freeze is a denial of service and lifting one is a control bypass, so both are scoped like releases: `env` must
 * be within the caller's limits, and `all` needs a grant for every environment.
 */
function mayActOn(p: Principal, roles: readonly Role[], env: string | null): string | null {
  if (env !== null) return deny(p, roles, env)?.message ?? null;
  const wanted = new Set<Role>([...roles, 'admin']);
  if (p.grants.some((g) => wanted.has(g.role) && g.envs === null)) return null;
  return deny(p, roles)?.message ?? `${p.actor} is limited to some environments and may not act on all of them`;
}

function forbid(message: string, env: string | null): never {
  throw new HttpError(403, `forbidden: ${message}`, { missing: { env: env ?? 'all' } });
}

const view = (f: ManualFreeze) => ({ ...f, all: f.env === null });

/** Starting and lifting freezes that stop releases, and the list of them. */
export function freezeRoutes(ctx: ApiContext): Router {
  const r = Router();

  r.get('/freezes', asyncRoute(async (req, res) => {
    const q = parseBody(FreezeListQuerySchema, { ...req.query });
    res.json({ items: (await listFreezes(ctx.db, { includeEnded: q.ended === 'true', limit: q.limit })).map(view) });
  }));

  r.post('/freezes', asyncRoute(async (req: Request, res) => {
    const p = authorize(req, FREEZERS);
    const body = parseBody(FreezeBodySchema, req.body ?? {});
    const env = body.all ? null : body.env!;
    const refusal = mayActOn(p, FREEZERS, env);
    if (refusal) forbid(refusal, env);
    if (env !== null && !Object.hasOwn(ctx.environments.environments, env)) {
      const known = await ctx.db.query('SELECT 1 FROM releases WHERE env = $1 LIMIT 1', [env]);
      if (known.rowCount === 0) throw new HttpError(400, 'invalid request', { issues: [{ path: 'env', message: `no environment "${env}": not configured and never released to` }] });
    }
    let until: string | null = null;
    if (body.until !== undefined) {
      const at = ISO_INSTANT.test(body.until) ? Date.parse(body.until) : Date.now() + durationMs(body.until);
      if (!Number.isFinite(at) || at <= Date.now() || at - Date.now() > MAX_FREEZE_MS) {
        throw new HttpError(400, 'invalid request', { issues: [{ path: 'until', message: 'must be in the future and at most 90 days away' }] });
      }
      until = new Date(at).toISOString();
    }
    const freeze = await createFreeze(ctx.db, { env, reason: body.reason, createdBy: p.actor, createdByName: p.name, until });
    ctx.log.info('freeze started', { freezeId: freeze.id, env: env ?? 'all', by: p.actor, until, reason: body.reason });
    // The freeze holds from the row above; the notice workflow only tells people, so failing to start it is logged.
    let notice = 'started';
    try {
      const envs = env === null ? Object.keys(ctx.reconcile?.file.environments ?? {}) : [env];
      const targets = envs.flatMap((e) => reconcileSettingsFor(ctx.reconcile, e).notifications.map((t) => t.id));
      await ctx.temporal.workflow.start<typeof freezeNoticeWorkflow>('freezeNoticeWorkflow', {
        taskQueue: ctx.taskQueue,
        workflowId: freezeNoticeWorkflowId(freeze.id),
        args: [{ freezeId: freeze.id, env, reason: freeze.reason, by: freeze.createdBy, createdAt: freeze.createdAt, until, targets }],
        staticSummary: `freeze ${freeze.id}: ${env ?? 'every environment'}`,
      });
    } catch (err) {
      notice = 'not started';
      ctx.log.warn('freeze notice not started', { freezeId: freeze.id, error: String(err) });
    }
    res.status(201).json({ ...view(freeze), notice });
  }));

  r.delete('/freezes/:id', asyncRoute(async (req, res) => {
    const p = authorize(req, FREEZERS);
    const id = String(req.params.id);
    const found = await getFreeze(ctx.db, id);
    if (!found) throw new HttpError(404, `freeze "${id}" not found`);
    // Whoever started a freeze may lift it while they still hold the right to start it; anyone else needs to be a
    // gatekeeper (approver or admin) of what it freezes.
    const own = found.createdByName === p.name;
    const refusal = mayActOn(p, own ? FREEZERS : LIFTERS, found.env);
    if (refusal) forbid(own ? refusal : `${refusal} (lifting someone else's freeze needs approver or admin)`, found.env);
    const ended = await endFreeze(ctx.db, id, p.actor);
    if (!ended) throw new HttpError(409, `freeze ${id} already ended${found.endedBy ? ` (lifted by ${found.endedBy})` : ''}`, { freeze: view(found) });
    ctx.log.info('freeze lifted', { freezeId: id, env: ended.env ?? 'all', by: p.actor });
    const stillHeld = ended.env === null ? [] : await activeFreezes(ctx.db, ended.env);
    await ctx.temporal.workflow.getHandle(freezeNoticeWorkflowId(id)).signal(freezeEndSignal, { by: p.actor, at: ended.endedAt! }).catch((err) => {
      ctx.log.warn('freeze notice not signalled', { freezeId: id, error: String(err) });
    });
    // Oldest first, so releases go on in the order they arrived; each one rechecks on its own if a signal is lost.
    const waiting = await frozenReleases(ctx.db, ended.env);
    let told = 0;
    for (const releaseId of waiting) {
      const ok = await ctx.temporal.workflow.getHandle(releaseId).signal(freezeLiftedSignal, { freezeId: id }).then(() => true, () => false);
      if (ok) told += 1;
    }
    res.json({ ...view(ended), releasesSignalled: told, stillFrozenBy: stillHeld.map((f) => f.id) });
  }));

  return r;
}
