import { createHash } from 'node:crypto';
import { z } from 'zod';
import { zName } from '../names';

/** Ids appear in workflow ids, commit titles and URLs: keep them to a URL- and path-safe alphabet. */
export const ArtifactIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, 'must be 1-128 characters of A-Z, a-z, 0-9, ".", "_" and "-", starting with a letter or digit')
  .refine((s) => !s.includes('..'), 'must not contain ".."');

export const EventSchema = z.enum(['push', 'tag', 'pr']);
export type SourceEvent = z.infer<typeof EventSchema>;

const text = z.string().max(10_000);

export const VersionSchema = z.looseObject({
  sha: z.string().regex(/^[0-9a-fA-F]{7,64}$/, 'must be a hex commit id (7-64 characters)'),
  repositoryName: z.string().min(1).max(200),
  branch: z.string().max(255).default(''),
  event: EventSchema.default('push'),
  sourceBranch: z.string().max(255).optional(),
  targetBranch: z.string().max(255).optional(),
  tag: z.string().max(255).optional(),
  authorName: text.optional(),
  authorEmail: text.optional(),
  committerName: text.optional(),
  committerEmail: text.optional(),
  message: text.optional(),
  name: text.optional(),
  url: text.optional(),
  created: z.union([z.string(), z.number()]).optional(),
});

/**
 * One environment file of the app (`.ferry/<env>.yaml`, or Gimlet's `.gimlet/<env>.yaml` as is).
 * Only what every release needs is strict here; deploy policies, charts and patches are typed where they are used.
 */
export const EnvironmentFileSchema = z.looseObject({
  app: zName('app'),
  env: zName('env'),
  namespace: zName('namespace'),
  manifests: z.string().max(2_000_000).optional(),
  deploy: z.record(z.string(), z.unknown()).optional(),
  chart: z.record(z.string(), z.unknown()).optional(),
  values: z.record(z.string(), z.unknown()).optional(),
  strategicMergePatches: z.string().optional(),
  json6902Patches: z.unknown().optional(),
  preview: z.boolean().optional(),
  cleanup: z.record(z.string(), z.unknown()).optional(),
});
export type EnvironmentFile = z.infer<typeof EnvironmentFileSchema>;

const ItemSchema = z.looseObject({ name: z.string().min(1).max(200) });

const StringMap = z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'keys must be variable names'), z.string().max(100_000));

export const ArtifactInputSchema = z
  .looseObject({
    id: ArtifactIdSchema.optional(),
    version: VersionSchema,
    context: StringMap.optional(),
    vars: StringMap.optional(),
    environments: z.array(EnvironmentFileSchema).max(200).default([]),
    items: z.array(ItemSchema).max(200).optional(),
    artifacts: z.array(ItemSchema).max(200).optional(),
  })
  .superRefine((a, ctx) => {
    const seen = new Set<string>();
    a.environments.forEach((e, i) => {
      const key = `${e.env}/${e.app}`;
      if (seen.has(key)) ctx.addIssue({ code: 'custom', path: ['environments', i], message: `duplicate environment file for app "${e.app}" in env "${e.env}"` });
      seen.add(key);
    });
  });
export type ArtifactInput = z.infer<typeof ArtifactInputSchema>;

/** The stored form: id always set, CI variables merged under `vars`, items under `items`. */
export interface Artifact {
  id: string;
  version: z.infer<typeof VersionSchema>;
  [extra: string]: unknown;
  vars: Record<string, string>;
  items: Array<Record<string, unknown> & { name: string }>;
  environments: EnvironmentFile[];
}

/** Repository, sha and event fix the id, so a CI retry lands on the same artifact. */
export function deriveArtifactId(repositoryName: string, sha: string, event: SourceEvent): string {
  const slug = repositoryName.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 48) || 'repo';
  const digest = createHash('sha256').update(`${repositoryName}\0${sha.toLowerCase()}\0${event}`).digest('hex').slice(0, 8);
  return `${slug}-${sha.slice(0, 12).toLowerCase()}-${event}-${digest}`;
}

export function normalizeArtifact(input: ArtifactInput): Artifact {
  const { context, artifacts, id, ...rest } = input;
  return {
    ...rest,
    version: input.version,
    id: id ?? deriveArtifactId(input.version.repositoryName, input.version.sha, input.version.event),
    vars: { ...(context ?? {}), ...(input.vars ?? {}) },
    items: [...(input.items ?? []), ...(artifacts ?? [])] as Artifact['items'],
    environments: input.environments,
  };
}

/** Key order must not matter when comparing a re-pushed artifact with the stored one. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export function artifactDigest(a: Artifact): string {
  return createHash('sha256').update(canonicalJson(a)).digest('hex');
}

/** Environment files of this artifact that target `env` (one per app). */
export function environmentFilesFor(a: Pick<Artifact, 'environments'>, env: string): EnvironmentFile[] {
  return a.environments.filter((e) => e.env === env);
}
