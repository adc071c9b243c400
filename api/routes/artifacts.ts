import { Router } from 'express';
import { ArtifactInputSchema, normalizeArtifact } from '../../src/artifact/schema';
import { ArtifactConflictError, getArtifact, saveArtifact } from '../../src/store/artifacts';
import { actorOf, requireRole } from '../auth';
import type { ApiContext } from '../context';
import { asyncRoute, HttpError, parseBody } from '../errors';

export function artifactRoutes(ctx: ApiContext): Router {
  const r = Router();

  r.post('/artifacts', requireRole(['ci', 'deployer']), asyncRoute(async (req, res) => {
    const artifact = normalizeArtifact(parseBody(ArtifactInputSchema, req.body));
    try {
      const saved = await saveArtifact(ctx.db, artifact, { actor: actorOf(req), tokenId: req.principal?.tokenId });
      ctx.log.info(saved.created ? 'artifact stored' : 'artifact already stored', { artifactId: artifact.id, by: actorOf(req) });
      res.status(saved.created ? 201 : 200).json({ ...saved.artifact, createdAt: saved.createdAt });
    } catch (err) {
      if (err instanceof ArtifactConflictError) throw new HttpError(409, err.message, { id: err.id });
      throw err;
    }
  }));

  r.get('/artifacts/:id', asyncRoute(async (req, res) => {
    const found = await getArtifact(ctx.db, String(req.params.id));
    if (!found) throw new HttpError(404, `artifact "${req.params.id}" not found`);
    res.json({ ...found.artifact, createdAt: found.createdAt });
  }));

  return r;
}
