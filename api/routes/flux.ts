import { createHash } from 'node:crypto';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import express, { Router } from 'express';
import { classifyFluxEvent, fluxEventCluster, fluxEventCommitSha, fluxEventRevision, FluxEventSchema } from '../../src/flux/event';
import { verifyFluxSignature } from '../../src/flux/signature';
import { fluxKustomizationOf, orderedEnvironments } from '../../src/gates/environments';
import { validateName } from '../../src/names';
import { fluxSetupManifests } from '../../src/reconcile/manifests';
import { envSourceManifests, envsWithOwnSource } from '../../src/gitops/flux-sources';
import { saveFluxEvent } from '../../src/store/flux-events';
import { requireToken } from '../auth';
import type { fluxEventWorkflow } from '../../workflows/flux-event';
import type { ApiContext } from '../context';
import { asyncRoute, HttpError, parseBody } from '../errors';

/**
 * Which secret verifies a delivery, and which cluster it speaks for. A cluster named in the path or in the event's
 * metadata (Alert eventMetadata) must be verified with that cluster's own secret; only deliveries naming no
 * configured cluster fall back to FERRY_FLUX_WEBHOOK_SECRET.
 */
function deliveryIdentity(ctx: ApiContext, raw: Buffer, pathCluster: string | undefined): { secret: string | undefined; cluster: string | null } {
  if (pathCluster !== undefined) {
    const bad = validateName('cluster', pathCluster);
    if (bad) throw new HttpError(400, bad, { issues: [{ path: 'cluster', message: bad }] });
    // Unknown clusters get the same answer as a bad signature: the route does not tell strangers which exist.
    return { secret: ctx.reconcile?.clusterSecret(pathCluster), cluster: pathCluster };
  }
  let claimed: unknown;
  try {
    claimed = (JSON.parse(raw.toString('utf8')) as { metadata?: { cluster?: unknown } })?.metadata?.cluster;
  } catch {
    claimed = undefined;
  }
  if (typeof claimed === 'string' && claimed !== '') {
    const own = ctx.reconcile?.clusterSecret(claimed);
    if (own !== undefined) return { secret: own, cluster: claimed };
    // Not a configured cluster: the single-cluster secret vouches for it; keep the name only if it is one.
    return { secret: ctx.fluxWebhookSecret, cluster: validateName('cluster', claimed) ? null : claimed };
  }
  return { secret: ctx.fluxWebhookSecret, cluster: null };
}

/** Flux notification-controller events from a `generic-hmac` Provider. Authenticated by signature, not token. */
export function fluxRoutes(ctx: ApiContext): Router {
  const r = Router();
  // The signature covers the exact bytes, so these routes read the raw body and parse JSON only after checking it.
  const receive = asyncRoute(async (req, res) => {
    const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const pathCluster = typeof req.params.cluster === 'string' ? req.params.cluster : undefined;
    const who = deliveryIdentity(ctx, raw, pathCluster);
    if (!who.secret || !verifyFluxSignature(raw, req.get('x-signature'), who.secret)) {
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
    const cluster = who.cluster ?? (pathCluster === undefined ? null : pathCluster);
    const stored = await saveFluxEvent(ctx.db, {
      // The same bytes from two clusters are two facts: the cluster is part of the identity.
      bodyHash: createHash('sha256').update(cluster ? `${cluster}\n` : '').update(raw).digest('hex'),
      cluster,
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
    ctx.log.info('flux event', { eventId: stored.id, cluster, duplicate: stored.duplicate, reason: event.reason, commit: commitSha, outcome: verdict.outcome });
    res.status(202).json({ id: stored.id, cluster, duplicate: stored.duplicate, outcome: verdict.outcome, commit: commitSha, settling });
  });
  const rawBody = express.raw({ type: () => true, limit: ctx.maxBody });
  r.post('/flux/events', rawBody, receive);
  r.post('/flux/events/:cluster', rawBody, receive);

  // `ferry flux setup <cluster>` prints this. Token-authenticated like every other API route.
  r.get('/flux/manifests/:cluster', requireToken(ctx.authenticate), asyncRoute(async (req, res) => {
    const cluster = String(req.params.cluster);
    const bad = validateName('cluster', cluster);
    if (bad) throw new HttpError(400, bad, { issues: [{ path: 'cluster', message: bad }] });
    const clusters = ctx.reconcile?.file.clusters ?? {};
    if (!Object.hasOwn(clusters, cluster)) throw new HttpError(404, `cluster "${cluster}" is not configured`);
    const publicUrl = ctx.reconcile?.file.reconcile.publicUrl ?? `${req.protocol}://${req.get('host')}`;
    // An environment naming no clusters may run on any one, so its layout concerns this cluster too.
    const envClusters = ctx.reconcile?.file.environments ?? {};
    const onCluster = (env: string) => {
      const named = Object.hasOwn(envClusters, env) ? envClusters[env]!.clusters : [];
      return named.length === 0 || named.includes(cluster);
    };
    const perAppEnvs = orderedEnvironments(ctx.environments).filter((env) => fluxKustomizationOf(ctx.environments, env) && onCluster(env));
    const ownSource = ctx.gitopsLayout ? envsWithOwnSource(ctx.gitopsLayout, orderedEnvironments(ctx.environments)).filter(onCluster) : [];
    const sources = ctx.gitopsLayout ? envSourceManifests({ layout: ctx.gitopsLayout, envs: ownSource, perAppEnvs }) : '';
    res.type('application/yaml').send(fluxSetupManifests({ cluster, config: clusters[cluster], publicUrl, perAppEnvs }) + (sources ? `---\n${sources}` : ''));
  }));
  return r;
}
