import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { Router } from 'express';
import { z } from 'zod';
import { ArtifactIdSchema, environmentFilesFor } from '../../src/artifact/schema';
import { autoPromotionsFrom, resolveGates } from '../../src/gates/environments';
import { zName } from '../../src/names';
import { releaseWorkflowId, type ReleaseState, type ReleaseTrigger } from '../../src/release/types';
import { getArtifact } from '../../src/store/artifacts';
import { getRelease, recordReleaseState } from '../../src/store/releases';
import {
  FERRY_APP, FERRY_ARTIFACT_ID, FERRY_BRANCH, FERRY_ENV, FERRY_SHA, FERRY_STATUS, type ReleaseInput,
} from '../../workflows/definitions';
import type { releaseWorkflow } from '../../workflows/release';
import type { ApiContext } from '../context';
import { asyncRoute, HttpError, parseBody } from '../errors';

const StartReleaseSchema = z.object({
  artifactId: ArtifactIdSchema,
  env: zName('env'),
  app: zName('app').optional(),
});

export interface StartedRelease {
  id: string;
  workflowId: string;
  status: string;
  existing: boolean;
  rollbackOf?: string | null;
  promotedFrom?: string | null;
}

export interface StartReleaseRequest {
  artifactId: string;
  env: string;
  app?: string;
  trigger: ReleaseTrigger;
  releasedBy: string;
  /** Makes a deliberate re-release of an artifact (a rollback) a release of its own, next to the original. */
  suffix?: string;
  /** Rollbacks: the release being rolled back. */
  rollbackOf?: string;
  /** Promotions: the source release in the previous environment. */
  promotedFrom?: string;
}

/** Starts (or finds) the release workflow of an artifact's app in an env. Shared by every way a release begins. */
export async function startRelease(ctx: ApiContext, req: StartReleaseRequest): Promise<StartedRelease> {
  const stored = await getArtifact(ctx.db, req.artifactId);
  if (!stored) throw new HttpError(404, `artifact "${req.artifactId}" not found`);
  const { artifact } = stored;
  const candidates = environmentFilesFor(artifact, req.env);
  if (candidates.length === 0) throw new HttpError(404, `artifact "${artifact.id}" has no environment file for env "${req.env}"`);
  let envFile = candidates[0];
  if (req.app) {
    const match = candidates.find((e) => e.app === req.app);
    if (!match) throw new HttpError(404, `artifact "${artifact.id}" has no environment file for app "${req.app}" in env "${req.env}"`);
    envFile = match;
  } else if (candidates.length > 1) {
    throw new HttpError(400, `artifact "${artifact.id}" has several apps for env "${req.env}"; name one with "app"`, {
      issues: [{ path: 'app', message: `required: one of ${candidates.map((c) => c.app).join(', ')}` }],
    });
  }

  const workflowId = releaseWorkflowId(envFile.app, req.env, artifact.id, req.suffix);
  const links = { ...(req.rollbackOf ? { rollbackOf: req.rollbackOf } : {}), ...(req.promotedFrom ? { promotedFrom: req.promotedFrom } : {}) };
  const input: ReleaseInput = {
    releaseId: workflowId,
    app: envFile.app,
    env: req.env,
    artifactId: artifact.id,
    sha: artifact.version.sha,
    branch: artifact.version.branch ?? '',
    trigger: req.trigger,
    releasedBy: req.releasedBy,
    writerTaskQueue: ctx.writerTaskQueue,
    awaitFlux: ctx.awaitFlux,
    fluxTimeout: ctx.fluxTimeout,
    // Gates are fixed when the release starts: a config change later does not alter a release already waiting.
    gates: resolveGates(ctx.environments, req.env, { rollback: req.trigger === 'rollback' }),
    autoPromote: autoPromotionsFrom(ctx.environments, req.env),
    ...links,
  };
  // Read before starting: a release already known (running, or ended well) is answered as existing.
  const before = await getRelease(ctx.db, workflowId);
  const existing = before !== null && before.status !== 'failed' && before.status !== 'timed-out';
  let runId: string;
  try {
    const handle = await ctx.temporal.workflow.start<typeof releaseWorkflow>('releaseWorkflow', {
      workflowId,
      taskQueue: ctx.taskQueue,
      args: [input],
      // A CI retry while the release runs joins it; a failed release may run again; a finished one may not.
      workflowIdConflictPolicy: 'USE_EXISTING',
      workflowIdReusePolicy: 'ALLOW_DUPLICATE_FAILED_ONLY',
      typedSearchAttributes: [
        { key: FERRY_APP, value: input.app },
        { key: FERRY_ENV, value: input.env },
        { key: FERRY_ARTIFACT_ID, value: input.artifactId },
        { key: FERRY_SHA, value: input.sha },
        { key: FERRY_BRANCH, value: input.branch },
        { key: FERRY_STATUS, value: 'pending' },
      ],
      staticSummary: `${input.app} → ${input.env}: ${input.artifactId}`,
    });
    runId = handle.firstExecutionRunId;
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    const row = await getRelease(ctx.db, workflowId);
    return { id: workflowId, workflowId, status: row?.status ?? 'pending', existing: true, ...links };
  }

  // The workflow records its own state too; this row only lets GET answer before the first activity ran.
  const now = new Date().toISOString();
  const pending: ReleaseState = {
    id: workflowId, app: input.app, env: input.env, artifactId: input.artifactId, sha: input.sha, branch: input.branch,
    trigger: input.trigger, releasedBy: input.releasedBy, status: 'pending', gitopsCommit: null, fluxStatus: null,
    error: null, timeline: [], createdAt: now, updatedAt: now, runId, seq: 0,
    rollbackOf: req.rollbackOf ?? null, promotedFrom: req.promotedFrom ?? null,
  };
  await recordReleaseState(ctx.db, pending);
  const row = await getRelease(ctx.db, workflowId);
  return { id: workflowId, workflowId, status: row?.status ?? 'pending', existing, ...links };
}

export function releaseRoutes(ctx: ApiContext): Router {
  const r = Router();

  r.post('/releases', asyncRoute(async (req, res) => {
    const body = parseBody(StartReleaseSchema, req.body);
    const started = await startRelease(ctx, { ...body, trigger: 'manual', releasedBy: req.principal?.name ?? 'unknown' });
    ctx.log.info('release requested', { releaseId: started.id, by: req.principal?.name, existing: started.existing });
    res.status(started.existing ? 200 : 202).json(started);
  }));

  r.get('/releases/:id', asyncRoute(async (req, res) => {
    const row = await getRelease(ctx.db, String(req.params.id));
    if (!row) throw new HttpError(404, `release "${req.params.id}" not found`);
    res.json(row);
  }));

  return r;
}
