import { WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { Router } from 'express';
import { z } from 'zod';
import { getRelease } from '../../src/store/releases';
import { approveUpdate, DECISION_REFUSALS, type DecisionResult, overrideFreezeUpdate, rejectUpdate } from '../../workflows/definitions';
import type { ApiContext } from '../context';
import { asyncRoute, HttpError, parseBody } from '../errors';
import { envOfRelease, forbidden, requireRole } from '../auth';
import { denial } from '../../src/auth/authorize';
import { releaseAppName } from '../../src/policy/deploy';
import { getArtifact } from '../../src/store/artifacts';

export const DecisionBodySchema = z.strictObject({ comment: z.string().max(2000, 'must be at most 2000 characters').optional() });

const REFUSAL_STATUS: Record<string, number> = {
  [DECISION_REFUSALS.notAllowed]: 403,
  [DECISION_REFUSALS.notWaiting]: 409,
  [DECISION_REFUSALS.invalid]: 422,
};

/**
 * Approve, reject, override a freeze: each is a Temporal Update on the release workflow whose synchronous validator
 * refuses at once (not an approver, four-eyes, already approved, not waiting). The decision's author is the caller's
 * principal, never a field of the body. The request says it came through the API (`channel`); decisions sent to
 * Temporal directly are recorded as such.
 */
export function decisionRoutes(ctx: ApiContext): Router {
  const r = Router();
  const updates = { approve: approveUpdate, reject: rejectUpdate, hotfix: overrideFreezeUpdate } as const;

  for (const [action, update] of Object.entries(updates)) {
    // Approving and rejecting need the approver role for the release's env; a hotfix override is a deployer's call.
    r.post(`/releases/:id/${action}`, requireRole(action === 'hotfix' ? ['deployer'] : ['approver'], { env: envOfRelease(ctx.db) }), asyncRoute(async (req, res) => {
      const body = parseBody(DecisionBodySchema, req.body ?? {});
      const id = String(req.params.id);
      const row = await getRelease(ctx.db, id);
      if (!row) throw new HttpError(404, `release "${id}" not found`);
      const principal = req.principal!;
      // Roles and environment were checked by the route; repository and app scopes need the release's artifact.
      const stored = await getArtifact(ctx.db, row.artifactId);
      const sourceApp = stored?.artifact.environments.find((e) => e.env === row.env && releaseAppName(e, stored.artifact.version) === row.app)?.app ?? row.app;
      const refused = denial(principal, action === 'hotfix' ? ['deployer'] : ['approver'], { env: row.env, app: sourceApp, repository: stored?.artifact.version.repositoryName });
      if (refused) throw forbidden(refused);
      const by = principal.name;
      const byId = principal.id;
      let result: DecisionResult;
      try {
        // An Update needs a running worker; rather than hang while none runs, give up and let the caller retry.
        result = await ctx.temporal.withDeadline(Date.now() + 30_000, () =>
          ctx.temporal.workflow.getHandle(id).executeUpdate(update, { args: [{ by, byId, channel: 'api', ...(body.comment !== undefined ? { comment: body.comment } : {}) }] }),
        );
      } catch (err) {
        if (err instanceof WorkflowUpdateFailedError && err.cause instanceof ApplicationFailure) {
          const status = REFUSAL_STATUS[err.cause.type ?? ''] ?? 422;
          ctx.log.info('decision refused', { releaseId: id, action, by, reason: err.cause.message });
          throw new HttpError(status, err.cause.message, { id, status: row.status });
        }
        if (err instanceof WorkflowNotFoundError || /already completed|not found/i.test(String((err as Error)?.message))) {
          throw new HttpError(409, `release is ${row.status}: there is nothing to ${action}`, { id, status: row.status });
        }
        throw err;
      }
      ctx.log.info('decision', { releaseId: id, action, by, decision: result.decision });
      res.json(result);
    }));
  }
  return r;
}
