import { Router } from 'express';
import { z } from 'zod';
import { ReleaseRefusedError, type StartedRelease, type StartReleaseRequest, startReleaseWorkflow } from '../../activities/release-starter';
import { ArtifactIdSchema } from '../../src/artifact/schema';
import { zName } from '../../src/names';
import { isFinal } from '../../src/release/types';
import { getRelease } from '../../src/store/releases';
import { actorOf, envFromBody, requireRole } from '../auth';
import type { ApiContext } from '../context';
import { asyncRoute, HttpError, parseBody } from '../errors';

export const StartReleaseSchema = z.object({
  artifactId: ArtifactIdSchema,
  env: zName('env'),
  app: zName('app').optional(),
});

export type { StartedRelease } from '../../activities/release-starter';

/**
 * Starts (or finds) the release workflow of an artifact's app in an env. Shared by every way a release begins; the
 * core (and the branch-restriction check) is in activities/release-starter.ts so that auto-release uses it too.
 * A branch restriction refuses with 422 and the reason. New optional fields (suffix, rollbackOf) belong in
 * StartReleaseRequest.
 */
export async function startRelease(
  ctx: ApiContext,
  req: StartReleaseRequest,
): Promise<StartedRelease> {
  try {
    return await startReleaseWorkflow(ctx, req);
  } catch (err) {
    if (!(err instanceof ReleaseRefusedError)) throw err;
    const status = err.kind === 'not-found' ? 404 : err.kind === 'ambiguous' ? 400 : err.kind === 'forbidden' ? 403 : 422;
    throw new HttpError(status, err.message, err.details);
  }
}

export function releaseRoutes(ctx: ApiContext): Router {
  const r = Router();

  r.post('/releases', requireRole(['ci', 'deployer'], { env: envFromBody }), asyncRoute(async (req, res) => {
    const body = parseBody(StartReleaseSchema, req.body);
    const started = await startRelease(ctx, { ...body, trigger: 'manual', releasedBy: actorOf(req), actor: req.principal! });
    ctx.log.info('release requested', { releaseId: started.id, by: actorOf(req), existing: started.existing });
    res.status(started.existing ? 200 : 202).json(started);
  }));

  r.get('/releases/:id', asyncRoute(async (req, res) => {
    const row = await getRelease(ctx.db, String(req.params.id));
    if (!row) throw new HttpError(404, `release "${req.params.id}" not found`);
    // `final` lets clients stop following without knowing whether this server waits for Flux. While Flux works on
    // the commit, the workflow mirrors each reason it accepts into `fluxStatus`, so the row shows the release moving.
    res.json({ ...row, final: isFinal(row.status, ctx.awaitFlux) });
  }));

  return r;
}
