// Gimlet's artifact and release API, so pipelines using Gimlet's CLI or GitHub Action keep working when pointed at
// Ferry. Request and response shapes are Gimlet's; what happens behind them is Ferry's (docs/gimlet.md).
import path from 'node:path';
import { WorkflowFailedError, WorkflowNotFoundError } from '@temporalio/client';
import { type Request, Router, type RequestHandler } from 'express';
import { z } from 'zod';
import { type Artifact, normalizeArtifact } from '../../src/artifact/schema';
import { FLUX_DIR } from '../../src/flux/kustomization';
import { environmentConfig, freezeWindowsOf } from '../../src/gates/environments';
import { freezeStateAt } from '../../src/gates/freeze';
import { gimletArtifactId, toGimletArtifact, toGimletRelease } from '../../src/gimlet/shapes';
import { artifactTrack, type PolicyEvaluation, releaseTrack } from '../../src/gimlet/track';
import { zName } from '../../src/names';
import { listArtifacts, releasesOfArtifact } from '../../src/store/artifact-list';
import { getArtifact } from '../../src/store/artifacts';
import { latestWrittenPerApp, rolledBackIds, writtenReleases } from '../../src/store/gimlet-history';
import { getRelease, type ReleaseRow } from '../../src/store/releases';
import type { appRemovalWorkflow } from '../../workflows/app-removal';
import { type AppRemovalInput, appRemovalWorkflowId, artifactWorkflowId } from '../../workflows/definitions';
import { denial } from '../../src/auth/authorize';
import { actorOf, envFromQuery, requireRole } from '../auth';
import type { ApiContext } from '../context';
import { asyncRoute, HttpError, parseBody } from '../errors';
import { acceptArtifact, parseArtifact } from './artifacts';

const shaPrefix = z.string().regex(/^[0-9a-fA-F]{7,64}$/, 'must be a commit id or a prefix of at least 7 hex characters');
const oneOrMany = z.union([shaPrefix, z.array(shaPrefix).max(100)]).transform((v) => (Array.isArray(v) ? v : [v]));
const rfc3339 = z.iso.datetime({ offset: true });

export const ArtifactListQuerySchema = z.object({
  repository: z.string().optional().describe('owner/name'),
  branch: z.string().optional(),
  event: z.enum(['push', 'tag', 'pr']).optional(),
  sourceBranch: z.string().optional(),
  sha: oneOrMany.optional().describe('commit id or prefix (7+ characters); may repeat'),
  app: zName('app').optional().describe('Ferry: only artifacts with an environment file for this app'),
  env: zName('env').optional().describe('Ferry: only artifacts with an environment file for this env'),
  since: rfc3339.optional(),
  until: rfc3339.optional(),
  limit: z.coerce.number().int().min(1).max(500).default(10),
  offset: z.coerce.number().int().min(0).default(0),
});

export const ArtifactTrackQuerySchema = z.object({ artifactId: z.string().min(1) });
export const ReleaseTrackQuerySchema = z.object({ id: z.string().min(1) });
const boolish = z.enum(['true', 'false', '1', '0', 'TRUE', 'FALSE', 'True', 'False', 't', 'f', 'T', 'F']).transform((v) => ['true', '1', 't'].includes(v.toLowerCase()));

/** Gimlet's `release list`: env is required, as on Gimlet's server. */
export const GimletReleasesQuerySchema = z.object({
  env: zName('env'),
  app: zName('app').optional(),
  'git-repo': z.string().min(1).max(200).optional().describe('artifact repository, owner/name'),
  limit: z.coerce.number().int().min(1).max(500).default(10),
  offset: z.coerce.number().int().min(0).default(0),
  since: rfc3339.optional(),
  until: rfc3339.optional(),
  reverse: boolish.optional().describe('oldest first'),
});
export const GimletStatusQuerySchema = z.object({ env: zName('env'), app: zName('app').optional() });
export const GimletDeleteQuerySchema = z.object({ env: zName('env'), app: zName('app') });

export const GimletRollbackQuerySchema = z.object({ env: zName('env'), app: zName('app'), sha: z.string().min(1).describe('GitOps commit to return to') });

const GimletResultSchema = z.object({
  app: z.string(), env: z.string(), hash: z.string(), status: z.enum(['success', 'failure', 'pending']),
  gitopsCommitStatus: z.string(), gitopsCommitStatusDesc: z.string(), statusDesc: z.string(),
});
export const GimletReleaseStatusSchema = z.object({
  type: z.string().optional(),
  status: z.enum(['new', 'processed', 'error']),
  statusDesc: z.string(),
  results: z.array(GimletResultSchema),
});

/** Gimlet's `artifact add --field` makes items without a name; Ferry items are named, so they get one. */
function fromGimlet(body: unknown): unknown {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return body;
  const b = body as Record<string, unknown>;
  if (!Array.isArray(b.items)) return b;
  return { ...b, items: b.items.map((it, i) => (it && typeof it === 'object' && !('name' in it) ? { name: `item-${i + 1}`, ...it } : it)) };
}

export function gimletRoutes(ctx: ApiContext): Router {
  const r = Router();

  // Gimlet's server assigned each pushed artifact a new id; see gimletArtifactId for Ferry's rule.
  r.post('/artifact', requireRole(['ci', 'deployer']), asyncRoute(async (req, res) => {
    const { id: _ignored, ...input } = normalizeArtifact(parseArtifact(fromGimlet(req.body)));
    const artifact: Artifact = { ...input, id: gimletArtifactId(input) };
    const saved = await acceptArtifact(ctx, req, artifact);
    res.status(saved.created ? 201 : 200).json(toGimletArtifact(saved.artifact, saved.createdAt));
  }));

  r.get('/artifacts', asyncRoute(async (req, res) => {
    const q = parseBody(ArtifactListQuerySchema, req.query);
    const rows = await listArtifacts(ctx.db, {
      ...q, since: q.since ? new Date(q.since) : undefined, until: q.until ? new Date(q.until) : undefined,
    });
    res.json(rows.map((x) => toGimletArtifact(x.artifact, x.createdAt, { createdBy: x.createdBy })));
  }));

  r.get('/eventArtifactTrack', asyncRoute(async (req, res) => {
    const q = parseBody(ArtifactTrackQuerySchema, req.query);
    const exists = await ctx.db.query('SELECT 1 FROM artifacts WHERE id = $1', [q.artifactId]);
    if (exists.rowCount === 0) throw new HttpError(404, `artifact "${q.artifactId}" not found`);
    const policies = await policyEvaluation(ctx, q.artifactId);
    res.json(artifactTrack(await releasesOfArtifact(ctx.db, q.artifactId), ctx.awaitFlux, policies));
  }));

  r.get('/eventReleaseTrack', asyncRoute(async (req, res) => {
    const q = parseBody(ReleaseTrackQuerySchema, req.query);
    const row = await getRelease(ctx.db, q.id);
    if (!row) throw new HttpError(404, `release "${q.id}" not found`);
    res.json(releaseTrack(row, ctx.awaitFlux));
  }));

  // Ferry's history (`{items, nextBefore}`) and Gimlet's `release list` (a JSON array) share GET /api/releases.
  r.get('/releases', asyncRoute(async (req, res, next) => {
    if (!wantsGimletHistory(req)) return next();
    const q = parseBody(GimletReleasesQuerySchema, req.query);
    const rows = await writtenReleases(ctx.db, {
      env: q.env, app: q.app, repository: q['git-repo'], limit: q.limit, offset: q.offset,
      since: q.since ? new Date(q.since) : undefined, until: q.until ? new Date(q.until) : undefined,
    });
    if (q.reverse) rows.reverse();
    res.json(await gimletReleases(ctx, rows));
  }));

  // Gimlet's `release status` always names the env; Ferry's status takes only `app`.
  r.get('/status', asyncRoute(async (req, res, next) => {
    if (req.query.env === undefined) return next();
    const q = parseBody(GimletStatusQuerySchema, req.query);
    const releases = await gimletReleases(ctx, await latestWrittenPerApp(ctx.db, q.env, q.app));
    res.json(Object.fromEntries(releases.map((r) => [r.app, r])));
  }));

  r.post('/delete', requireRole(['deployer'], { env: envFromQuery }), asyncRoute(async (req, res) => {
    const q = parseBody(GimletDeleteQuerySchema, req.query);
    if (q.app === FLUX_DIR) throw new HttpError(400, 'invalid request', { issues: [{ path: 'app', message: `"${FLUX_DIR}" holds Flux's own files, not an app` }] });
    const refusal = deleteRefusal(ctx, q.env);
    if (refusal) throw new HttpError(409, `${q.app} cannot be deleted from ${q.env}: ${refusal}`, { reason: 'gated-environment' });
    // Only directories Ferry released into: hand-written infrastructure beside the apps is not Gimlet's to delete.
    const released = await ctx.db.query<{ repository: string }>(
      `SELECT a.repository FROM releases r JOIN artifacts a ON a.id = r.artifact_id WHERE r.app = $1 AND r.env = $2
       ORDER BY r.created_at DESC LIMIT 1`,
      [q.app, q.env],
    );
    const last = released.rows[0];
    if (!last) throw new HttpError(404, `${q.app} was never released to ${q.env}: nothing of Ferry's to delete`);
    // The same decision as any path to a commit: the caller's app and repository scopes apply too.
    const refused = denial(req.principal!, ['deployer'], { env: q.env, app: q.app, repository: last.repository });
    if (refused) throw new HttpError(403, `forbidden: ${refused.message}`);
    const input: AppRemovalInput = { env: q.env, app: q.app, requestedBy: actorOf(req), writerTaskQueue: ctx.writerTaskQueue };
    const handle = await ctx.temporal.workflow.start<typeof appRemovalWorkflow>('appRemovalWorkflow', {
      workflowId: appRemovalWorkflowId(q.env, q.app),
      taskQueue: ctx.taskQueue,
      args: [input],
      workflowIdConflictPolicy: 'USE_EXISTING',
      workflowIdReusePolicy: 'ALLOW_DUPLICATE',
      staticSummary: `delete ${q.app} from ${q.env}`,
    });
    ctx.log.info('app deletion requested', { env: q.env, app: q.app, workflowId: handle.workflowId, by: actorOf(req) });
    // Gimlet's delete answers once the removal is done, and its CLI reports success on any 2xx: wait for the commit.
    const result = await Promise.race([
      handle.result(),
      new Promise<null>((resolve) => setTimeout(resolve, DELETE_WAIT_MS, null).unref()),
    ]).catch((err: unknown) => {
      if (err instanceof WorkflowFailedError) throw new HttpError(500, `deleting ${q.env}/${q.app} failed: ${err.cause?.message ?? err.message}`, { workflowId: handle.workflowId });
      throw err;
    });
    if (!result) throw new HttpError(504, `deleting ${q.env}/${q.app} is still running; follow workflow ${handle.workflowId}`, { workflowId: handle.workflowId });
    res.json({ ...result, workflowId: handle.workflowId });
  }));

  // Gimlet posts rollbacks as `?env=&app=&sha=` without a body; Ferry's rollback takes `{app, env, to}`. A request
  // in Gimlet's shape is rewritten into Ferry's and handed to Ferry's rollback route, so both share one code path.
  const gimletRollback: RequestHandler = (req, _res, next) => {
    const hasBody = req.body && typeof req.body === 'object' && Object.keys(req.body).length > 0;
    if (hasBody || req.query.sha === undefined) return next();
    const q = parseBody(GimletRollbackQuerySchema, req.query);
    req.body = { app: q.app, env: q.env, to: q.sha };
    next();
  };
  r.post('/rollback', requireRole(['deployer'], { env: (req) => (typeof req.body?.env === 'string' ? req.body.env : envFromQuery(req)) }), (req, res, next) => {
    try {
      gimletRollback(req, res, next);
    } catch (err) {
      next(err);
    }
  });

  return r;
}

const DELETE_WAIT_MS = 120_000;

/**
 * Gimlet's Go client sends no `Accept` header (an empty one counts as none); Ferry's clients, curl and browsers do. Gimlet-only parameters also
 * ask for Gimlet's shape.
 */
function wantsGimletHistory(req: Request): boolean {
  const gimletOnly = ['git-repo', 'offset', 'since', 'until', 'reverse'].some((k) => req.query[k] !== undefined);
  return gimletOnly || !req.get('accept');
}

async function gimletReleases(ctx: ApiContext, rows: ReleaseRow[]) {
  const rolledBack = await rolledBackIds(ctx.db, rows.map((r) => r.id));
  const artifacts = new Map<string, Artifact | null>();
  for (const id of new Set(rows.map((r) => r.artifactId))) artifacts.set(id, (await getArtifact(ctx.db, id))?.artifact ?? null);
  const repo = ctx.gitopsRepo ? path.basename(ctx.gitopsRepo.replace(/\/+$/, '')).replace(/\.git$/, '') : '';
  return rows.map((r) => toGimletRelease(r, artifacts.get(r.artifactId) ?? null, repo, rolledBack.has(r.id)) as { app: string });
}

/**
 * A delete is one commit without a release, so it has no approval step and no freeze check of its own: it is
 * refused where either applies, and the app is removed there through a reviewed change instead.
 */
function deleteRefusal(ctx: ApiContext, env: string): string | null {
  if (environmentConfig(ctx.environments, env).approvals) return `releases to ${env} need approval, and a delete cannot be approved; remove ${env}/<app> with a reviewed change to the GitOps repository`;
  const freeze = freezeStateAt(freezeWindowsOf(ctx.environments, env), Date.now());
  if (freeze.frozen) return `${env} is frozen by "${freeze.window}" until ${freeze.until}`;
  return null;
}

/** Whether the artifact workflow has decided the artifact's deploy policies (and started what they release). */
async function policyEvaluation(ctx: ApiContext, artifactId: string): Promise<PolicyEvaluation> {
  try {
    const d = await ctx.temporal.workflow.getHandle(artifactWorkflowId(artifactId)).describe();
    if (d.status.name === 'RUNNING') return 'pending';
    if (d.status.name === 'COMPLETED') return 'evaluated';
    return { failed: `the artifact workflow ended ${d.status.name.toLowerCase()}` };
  } catch (err) {
    // Past Temporal's retention the workflow is gone; it ended long ago and nothing more will be released by it.
    if (err instanceof WorkflowNotFoundError) return 'evaluated';
    throw err;
  }
}

