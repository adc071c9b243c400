// Response shapes, for the API description only (requests are described by the schemas the routes validate with).
import { z } from 'zod';
import { ArtifactInputSchema } from '../../src/artifact/schema';
import { RELEASE_STATUSES } from '../../src/release/types';

export const ReleaseSchema = z.looseObject({
  id: z.string(),
  app: z.string(),
  env: z.string(),
  artifactId: z.string(),
  sha: z.string(),
  branch: z.string(),
  trigger: z.string(),
  releasedBy: z.string().describe('who asked: the token owner and token name, an OIDC user, or admin'),
  status: z.enum(RELEASE_STATUSES),
  gitopsCommit: z.string().nullable(),
  fluxStatus: z.string().nullable(),
  error: z.string().nullable(),
  timeline: z.array(z.object({ status: z.enum(RELEASE_STATUSES), at: z.string(), message: z.string().optional() })),
  createdAt: z.string(),
  updatedAt: z.string(),
  final: z.boolean().optional().describe('true once the release will not change any more'),
});

export const StartedReleaseSchema = z.looseObject({
  id: z.string().describe('the release id; also its Temporal workflow id'),
  workflowId: z.string(),
  status: z.string(),
  existing: z.boolean(),
});

export const StoredArtifactSchema = ArtifactInputSchema.safeExtend({ id: z.string(), createdAt: z.string() });
export const GimletArtifactSchema = StoredArtifactSchema.safeExtend({ created: z.number().int().describe('unix seconds (Gimlet)') });

export const HealthSchema = z.object({
  status: z.enum(['ok', 'degraded']),
  checks: z.object({ postgres: z.enum(['ok', 'unreachable']), temporal: z.enum(['ok', 'unreachable']) }),
});

export const FluxAcceptedSchema = z.object({
  id: z.union([z.string(), z.number()]),
  duplicate: z.boolean(),
  outcome: z.string(),
  commit: z.string().nullable(),
  /** The environment the event speaks for (metadata `ferry.env`); null: it settles no release. */
  env: z.string().nullable().optional(),
  settling: z.boolean(),
});

/** Ferry's rollback request (shared API contract); Gimlet's form passes `env`, `app`, `sha` as query parameters. */
export const RollbackRequestSchema = z.object({
  app: z.string(),
  env: z.string(),
  to: z.string().optional().describe('artifact id or GitOps commit; the previous release when left out'),
});
