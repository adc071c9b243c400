import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { type Request, Router } from 'express';
import { type Artifact, ArtifactInputSchema, normalizeArtifact } from '../../src/artifact/schema';
import type { Principal } from '../../src/auth/roles';
import { ArtifactConflictError, ArtifactRefusedError, getArtifact, type SavedArtifact, saveArtifact } from '../../src/store/artifacts';
import { type ArtifactWorkflowInput, artifactWorkflowId } from '../../workflows/definitions';
import { actorOf, requireRole } from '../auth';
import type { ApiContext } from '../context';
import { asyncRoute, HttpError, issuesOf } from '../errors';

export function artifactRoutes(ctx: ApiContext): Router {
  const r = Router();

  r.post('/artifacts', requireRole(['ci', 'deployer']), asyncRoute(async (req, res) => {
    const saved = await acceptArtifact(ctx, req, normalizeArtifact(parseArtifact(req.body)));
    res.status(saved.created ? 201 : 200).json({ ...saved.artifact, createdAt: saved.createdAt });
  }));

  r.get('/artifacts/:id', asyncRoute(async (req, res) => {
    const found = await getArtifact(ctx.db, String(req.params.id));
    if (!found) throw new HttpError(404, `artifact "${req.params.id}" not found`);
    res.json({ ...found.artifact, createdAt: found.createdAt });
  }));

  return r;
}

/**
 * Stores a pushed artifact with its pusher's principal (an auto-release acts with exactly those rights); refusals
 * (repository scope, a commit claimed for another repository, a different body under the same id) become 4xx.
 */
export async function storeArtifact(ctx: ApiContext, artifact: Artifact, pusher: Principal): Promise<SavedArtifact> {
  try {
    return await saveArtifact(ctx.db, artifact, { actor: pusher.actor, tokenId: pusher.tokenId, pusher });
  } catch (err) {
    if (err instanceof ArtifactConflictError) throw new HttpError(409, err.message, { id: err.id });
    if (err instanceof ArtifactRefusedError) throw new HttpError(err.status, err.message, err.details);
    throw err;
  }
}

/**
 * The one way an artifact enters Ferry, for Ferry's `POST /api/artifacts` and Gimlet's `POST /api/artifact`: store
 * it with its pusher, then start its artifact workflow, which evaluates the deploy policies.
 */
export async function acceptArtifact(ctx: ApiContext, req: Request, artifact: Artifact): Promise<SavedArtifact> {
  const saved = await storeArtifact(ctx, artifact, req.principal!);
  ctx.log.info(saved.created ? 'artifact stored' : 'artifact already stored', { artifactId: artifact.id, by: actorOf(req), path: req.path });
  // Also for a re-push: if the first push was stored but crashed before this point, auto-release runs now.
  await startArtifactWorkflow(ctx, artifact.id);
  return saved;
}

/** Evaluates the artifact's environment files and auto-releases the matching ones; once per artifact, ever. */
async function startArtifactWorkflow(ctx: ApiContext, artifactId: string): Promise<void> {
  try {
    await ctx.temporal.workflow.start('artifactWorkflow', {
      workflowId: artifactWorkflowId(artifactId),
      taskQueue: ctx.taskQueue,
      args: [{ artifactId } satisfies ArtifactWorkflowInput],
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
      staticSummary: `auto-release of ${artifactId}`,
    });
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
  }
}

/** A 400 whose issues also name the environment file (`<env>/<app>`) each problem is in. */
export function parseArtifact(body: unknown) {
  const r = ArtifactInputSchema.safeParse(body);
  if (r.success) return r.data;
  const envs = (body as { environments?: unknown })?.environments;
  const issues = issuesOf(r.error).map((issue, i) => {
    const path = r.error.issues[i]!.path;
    if (path[0] !== 'environments' || typeof path[1] !== 'number' || !Array.isArray(envs)) return issue;
    const e = envs[path[1]] as { app?: unknown; env?: unknown } | undefined;
    const file = typeof e?.env === 'string' && typeof e?.app === 'string' ? `${e.env}/${e.app}` : `environments[${path[1]}]`;
    return { ...issue, file, message: `environment file ${file}: ${path.slice(2).join('.') || '(file)'}: ${issue.message}` };
  });
  throw new HttpError(400, 'invalid request', { issues });
}
