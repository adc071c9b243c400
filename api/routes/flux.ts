import { createHash } from 'node:crypto';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import express, { Router } from 'express';
import { classifyFluxEvent, fluxEventCluster, fluxEventCommitSha, fluxEventRevision, FluxEventSchema } from '../../src/flux/event';
import { fluxEventEnv } from '../../src/flux/attribution';
import { verifyFluxSignature } from '../../src/flux/signature';
import { fluxKustomizationOf, orderedEnvironments } from '../../src/gates/environments';
import { validateName } from '../../src/names';
import { DEFAULT_CLUSTER, fluxSetupManifests } from '../../src/reconcile/manifests';
import { envSourceManifests, envSourceName, envsWithOwnSource } from '../../src/gitops/flux-sources';
import { revisionNamesEnvBranch } from '../../src/gitops/repos';
import { saveFluxEvent } from '../../src/store/flux-events';
import { releasedEnvironments } from '../../src/store/releases';
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

/** A Kustomization in the namespace of some environment's per-app Kustomizations: its name may be `<env>-<app>`. */
function mayBeAppKustomization(ctx: ApiContext, o: { kind: string; namespace: string }): boolean {
  if (o.kind !== 'Kustomization') return false;
  return Object.keys(ctx.environments.environments).some((env) => fluxKustomizationOf(ctx.environments, env)?.namespace === o.namespace);
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
    // An event settles only releases of the environment it speaks for (src/flux/attribution.ts): one naming none,
    // and not from a per-app Kustomization, is kept for the record and answered with `env: null, settling: false`.
    const env = fluxEventEnv(event.metadata) ?? null;
    const attributable = env !== null || mayBeAppKustomization(ctx, event.involvedObject) || (ctx.gitopsLayout !== undefined && revisionNamesEnvBranch(ctx.gitopsLayout, revision));
    let settling = false;
    if (commitSha && verdict.outcome !== 'ignored' && attributable) {
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
    ctx.log.info('flux event', { eventId: stored.id, cluster, env, duplicate: stored.duplicate, reason: event.reason, commit: commitSha, outcome: verdict.outcome, settling });
    res.status(202).json({ id: stored.id, cluster, env, duplicate: stored.duplicate, outcome: verdict.outcome, commit: commitSha, settling });
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
    const configured = Object.hasOwn(clusters, cluster);
    // The single-secret setup is the cluster `default` unless FERRY_CONFIG defines a cluster of that name.
    const single = !configured && cluster === DEFAULT_CLUSTER && ctx.fluxWebhookSecret !== undefined;
    if (!configured && !single) {
      throw new HttpError(404, cluster === DEFAULT_CLUSTER ? 'cluster "default" (the single-secret setup) needs FERRY_FLUX_WEBHOOK_SECRET' : `cluster "${cluster}" is not configured`);
    }
    const publicUrl = ctx.reconcile?.file.reconcile.publicUrl ?? `${req.protocol}://${req.get('host')}`;
    const envs = await setupEnvironments(ctx, cluster, single, req.query.env);
    // Environments with a repository or branch of their own get a GitRepository of their own to apply from; those
    // only named by FERRY_GITOPS_REPO_<ENV>/FERRY_GITOPS_BRANCH_<ENV> name no cluster, so belong to `default`.
    const withOwn = ctx.gitopsLayout ? envsWithOwnSource(ctx.gitopsLayout, orderedEnvironments(ctx.environments)) : [];
    if (single && req.query.env === undefined) {
      for (const env of withOwn) if (!envs.includes(env) && !Object.hasOwn(ctx.environments.environments, env)) envs.push(env);
    }
    const ownSource = new Set(withOwn.filter((e) => envs.includes(e)));
    const envSetups = envs.map((env) => ({
      env, perApp: fluxKustomizationOf(ctx.environments, env),
      ...(ownSource.has(env) ? { source: { kind: 'GitRepository' as const, name: envSourceName(env), namespace: 'flux-system' } } : {}),
    }));
    const perAppEnvs = envSetups.filter((e) => e.perApp).map((e) => e.env);
    const sources = ctx.gitopsLayout ? envSourceManifests({ layout: ctx.gitopsLayout, envs: [...ownSource], perAppEnvs, sourcesOnly: true }) : '';
    res.type('application/yaml').send(fluxSetupManifests({ cluster, webhookSecret: configured ? clusters[cluster]!.webhookSecret : undefined, publicUrl, envs: envSetups }) + (sources ? `---\n${sources}` : ''));
  }));
  return r;
}

/**
 * The environments a cluster's setup applies: those named by `?env=` (comma-separated or repeated), else the
 * configured environments naming this cluster; for the single-secret setup (`default`), those naming no cluster and
 * the environments Ferry has released to without configuring them.
 */
async function setupEnvironments(ctx: ApiContext, cluster: string, single: boolean, query: unknown): Promise<string[]> {
  if (query !== undefined) {
    const asked = (Array.isArray(query) ? query : [query]).flatMap((q) => String(q).split(',')).map((e) => e.trim()).filter(Boolean);
    if (asked.length > 100) throw new HttpError(400, 'env names at most 100 environments', { issues: [{ path: 'env', message: 'at most 100 environments' }] });
    for (const env of asked) {
      const bad = validateName('env', env);
      if (bad) throw new HttpError(400, bad, { issues: [{ path: 'env', message: bad }] });
    }
    return [...new Set(asked)];
  }
  const envClusters = ctx.reconcile?.file.environments ?? {};
  const namedClusters = (env: string) => (Object.hasOwn(envClusters, env) ? envClusters[env]!.clusters : []);
  // A named cluster applies only the environments that name it: applied as served, its manifests must not start
  // deploying an environment that runs elsewhere. Environments naming no cluster belong to the single-secret setup.
  const envs = orderedEnvironments(ctx.environments).filter((env) => (single ? namedClusters(env).length === 0 : namedClusters(env).includes(cluster)));
  if (single) {
    for (const env of await releasedEnvironments(ctx.db)) {
      if (!envs.includes(env) && namedClusters(env).length === 0 && !Object.hasOwn(ctx.environments.environments, env)) envs.push(env);
    }
  }
  return envs;
}
