import { createHash } from 'node:crypto';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import express, { Router } from 'express';
import { classifyFluxEvent, fluxEventCluster, fluxEventCommitSha, fluxEventRevision, FluxEventSchema } from '../../src/flux/event';
import { verifyFluxSignature } from '../../src/flux/signature';
import { saveFluxEvent } from '../../src/store/flux-events';
import type { fluxEventWorkflow } from '../../workflows/flux-event';
import type { ApiContext } from '../context';
import { asyncRoute, HttpError, parseBody } from '../errors';

/** Flux notification-controller events from a `generic-hmac` Provider. Authenticated by signature, not token. */
export function fluxRoutes(ctx: ApiContext): Router {
  const r = Router();
  // The signature covers the exact bytes, so this route reads the raw body and parses JSON only after checking it.
  r.post('/flux/events', express.raw({ type: () => true, limit: ctx.maxBody }), asyncRoute(async (req, res) => {
    const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    if (!ctx.fluxWebhookSecret || !verifyFluxSignature(raw, req.get('x-signature'), ctx.fluxWebhookSecret)) {
      throw new HttpError(401, 'missing or invalid X-Signature');
    }
    let json: unknown;
    try {
      json = JSON.parse(raw.toString('utf8'));
    } catch {
      throw new HttpError(400, 'body is not valid JSON');
    }
    const event = parseBody(FluxEventSchema, json);
    const verdict = classifyFluxEvent(event);
    const revision = fluxEventRevision(event) ?? null;
    const commitSha = fluxEventCommitSha(event);
    const stored = await saveFluxEvent(ctx.db, {
      bodyHash: createHash('sha256').update(raw).digest('hex'),
      cluster: fluxEventCluster(event) ?? null,
      kind: event.involvedObject.kind,
      namespace: event.involvedObject.namespace ?? '',
      name: event.involvedObject.name,
      severity: event.severity,
      reason: event.reason,
      revision,
      commitSha,
      outcome: verdict.outcome,
      message: verdict.message,
      eventTime: event.timestamp ?? null,
      body: event,
    });
    let settling = false;
    if (commitSha && verdict.outcome !== 'ignored') {
      settling = true;
      try {
        // Started for replays too: if an earlier delivery was stored but crashed before this point, it runs now.
        await ctx.temporal.workflow.start<typeof fluxEventWorkflow>('fluxEventWorkflow', {
          workflowId: `flux-event:${stored.id}`,
          taskQueue: ctx.taskQueue,
          args: [{ eventId: stored.id }],
          workflowIdReusePolicy: 'REJECT_DUPLICATE',
        });
      } catch (err) {
        if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      }
    }
    ctx.log.info('flux event', { eventId: stored.id, duplicate: stored.duplicate, reason: event.reason, commit: commitSha, outcome: verdict.outcome });
    res.status(202).json({ id: stored.id, duplicate: stored.duplicate, outcome: verdict.outcome, commit: commitSha, settling });
  }));
  return r;
}
