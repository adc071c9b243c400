// Gimlet's artifact and release API, so pipelines using Gimlet's CLI or GitHub Action keep working when pointed at
// Ferry. Request and response shapes are Gimlet's; what happens behind them is Ferry's (docs/gimlet.md).
import { Router, type RequestHandler } from 'express';
import { z } from 'zod';
import { ArtifactInputSchema, normalizeArtifact } from '../../src/artifact/schema';
import { artifactTrack, releaseTrack } from '../../src/gimlet/track';
import { zName } from '../../src/names';
import { listArtifacts, releasesOfArtifact } from '../../src/store/artifact-list';
import { getRelease } from '../../src/store/releases';
import { actorOf, envFromQuery, requireRole } from '../auth';
import type { ApiContext } from '../context';
import { storeArtifact } from './artifacts';
import { asyncRoute, HttpError, parseBody } from '../errors';

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

const unix = (iso: string) => Math.floor(Date.parse(iso) / 1000);

export function gimletRoutes(ctx: ApiContext): Router {
  const r = Router();

  r.post('/artifact', requireRole(['ci', 'deployer']), asyncRoute(async (req, res) => {
    const artifact = normalizeArtifact(parseBody(ArtifactInputSchema, fromGimlet(req.body)));
    const saved = await storeArtifact(ctx, artifact, req.principal!);
    ctx.log.info(saved.created ? 'artifact stored (gimlet api)' : 'artifact already stored (gimlet api)', { artifactId: artifact.id, by: actorOf(req) });
    res.status(saved.created ? 201 : 200).json({ created: unix(saved.createdAt), ...saved.artifact, createdAt: saved.createdAt });
  }));

  r.get('/artifacts', asyncRoute(async (req, res) => {
    const q = parseBody(ArtifactListQuerySchema, req.query);
    const rows = await listArtifacts(ctx.db, {
      ...q, since: q.since ? new Date(q.since) : undefined, until: q.until ? new Date(q.until) : undefined,
    });
    res.json(rows.map((x) => ({ created: unix(x.createdAt), ...x.artifact, createdAt: x.createdAt, createdBy: x.createdBy })));
  }));

  r.get('/eventArtifactTrack', asyncRoute(async (req, res) => {
    const q = parseBody(ArtifactTrackQuerySchema, req.query);
    const exists = await ctx.db.query('SELECT 1 FROM artifacts WHERE id = $1', [q.artifactId]);
    if (exists.rowCount === 0) throw new HttpError(404, `artifact "${q.artifactId}" not found`);
    res.json(artifactTrack(await releasesOfArtifact(ctx.db, q.artifactId), ctx.awaitFlux));
  }));

  r.get('/eventReleaseTrack', asyncRoute(async (req, res) => {
    const q = parseBody(ReleaseTrackQuerySchema, req.query);
    const row = await getRelease(ctx.db, q.id);
    if (!row) throw new HttpError(404, `release "${q.id}" not found`);
    res.json(releaseTrack(row, ctx.awaitFlux));
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
