import { createHash } from 'node:crypto';
import { z } from 'zod';
import { zName } from '../names';
import { globShapeProblem } from '../policy/glob';
import { unsupportedMessage, unsupportedSyntax } from '../regex';
import { patternBudgetIssue } from './pattern-budget';

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

// Only the checks that cost nothing here: translating and compiling waits until the artifact's pattern budget
// has been checked (./pattern-budget), so a thousand long globs cannot cost seconds before being refused.
const glob = (what: string) =>
  z.string().min(1).max(255).superRefine((g, ctx) => {
    const problem = globShapeProblem(g);
    if (problem) ctx.addIssue({ code: 'custom', message: `${what} ${problem}` });
  });

/**
 * When an artifact releases itself (all given conditions must hold). Without `event`, a `tag` condition means tag
 * events and anything else means pushes. `targetBranch` (Ferry's addition) is the PR target for `pr` events.
 */
export const DeploySchema = z
  .looseObject({
    branch: glob('branch glob').optional(),
    tag: glob('tag glob').optional(),
    event: z.union([EventSchema, z.array(EventSchema).min(1).max(3)]).optional(),
    targetBranch: glob('target branch glob').optional(),
    commitMessagePatterns: z.array(glob('commit message pattern')).max(50).optional(),
  })
  .superRefine((d, ctx) => {
    const events = d.event === undefined ? undefined : Array.isArray(d.event) ? d.event : [d.event];
    if (d.branch !== undefined && events && !events.some((e) => e !== 'tag')) {
      ctx.addIssue({ code: 'custom', path: ['branch'], message: 'a branch condition needs a push or pr event; tags have no branch' });
    }
    if (d.tag !== undefined && events && !events.includes('tag')) {
      ctx.addIssue({ code: 'custom', path: ['tag'], message: 'a tag condition needs the tag event' });
    }
    if (d.targetBranch !== undefined && events && !events.includes('pr')) {
      ctx.addIssue({ code: 'custom', path: ['targetBranch'], message: 'a targetBranch condition needs the pr event' });
    }
  });
export type Deploy = z.infer<typeof DeploySchema>;

/**
 * A chart from a chart repository (`repository` http(s):// or oci://, `name`, exact `version`), or `path`: a chart
 * directory below the server's chart root (FERRY_CHART_ROOT). Strings may hold template variables; the checks that
 * depend on their values run when the release renders.
 */
export const ChartSchema = z
  .looseObject({
    repository: z.string().min(1).max(2000).optional(),
    name: z.string().min(1).max(500).optional(),
    version: z.string().min(1).max(200).optional(),
    path: z.string().min(1).max(1000).optional(),
  })
  .superRefine((c, ctx) => {
    if (c.path !== undefined) {
      if (c.repository !== undefined) ctx.addIssue({ code: 'custom', path: ['path'], message: 'give either path (a local chart) or repository and name, not both' });
      return;
    }
    if (c.name === undefined) ctx.addIssue({ code: 'custom', path: ['name'], message: 'required: the chart name (or path for a local chart)' });
    if (c.repository === undefined) ctx.addIssue({ code: 'custom', path: ['repository'], message: 'required: the chart repository URL (or path for a local chart)' });
    if (c.version === undefined) ctx.addIssue({ code: 'custom', path: ['version'], message: 'required: an exact chart version, so that every render of this release is the same' });
  });
export type Chart = z.infer<typeof ChartSchema>;

/**
 * kustomize reads target fields as whole-string regular expressions (RE2 syntax). Backtracking-only syntax is named
 * here; the full check runs once per distinct target in ./pattern-budget, and for targets holding template
 * variables when the release renders.
 */
const Selector = z.string().min(1).max(253).superRefine((want, ctx) => {
  const unsupported = unsupportedSyntax(want);
  if (unsupported) ctx.addIssue({ code: 'custom', message: unsupportedMessage(unsupported) });
});
/** Gimlet's CLI writes every target field, unset ones as "": an empty selector means no selector. */
const withoutEmptyStrings = (v: unknown) =>
  v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).filter(([, x]) => x !== '')) : v;
export const Json6902PatchSchema = z.looseObject({
  target: z.preprocess(withoutEmptyStrings, z.looseObject({
    group: Selector.optional(),
    version: Selector.optional(),
    kind: Selector.optional(),
    name: Selector.optional(),
    namespace: Selector.optional(),
    labelSelector: z.string().max(1000).optional(),
    annotationSelector: z.string().max(1000).optional(),
  })),
  /** RFC 6902 operations, as YAML/JSON text or as a list. */
  patch: z.union([z.string().min(1).max(1_000_000), z.array(z.record(z.string(), z.unknown())).min(1).max(1000)]),
});
export type Json6902Patch = z.infer<typeof Json6902PatchSchema>;

export const CleanupSchema = z.looseObject({
  event: z.literal('branchDeleted', { error: 'the only cleanup event is branchDeleted' }),
  branch: glob('branch glob'),
  /** The app to remove, a template over BRANCH (e.g. `shop-{{ .BRANCH | sanitizeDNSName }}`). */
  app: z.string().min(1).max(500),
});
export type Cleanup = z.infer<typeof CleanupSchema>;

/**
 * One environment file of the app (`.ferry/<env>.yaml`, or Gimlet's `.gimlet/<env>.yaml` as is). Unknown fields
 * are kept, so Gimlet files are accepted unchanged.
 */
/**
 * Gimlet's CLI writes `chart` as a Go struct, so an environment file without a chart arrives as `{"name": ""}`:
 * a chart whose fields are all empty is no chart.
 */
const noEmptyChart = (v: unknown) =>
  v && typeof v === 'object' && !Array.isArray(v) && Object.values(v).every((x) => x === '' || x === undefined || x === null) ? undefined : v;

export const EnvironmentFileSchema = z.looseObject({
  app: zName('app'),
  env: zName('env'),
  namespace: zName('namespace'),
  manifests: z.string().max(2_000_000).optional(),
  deploy: DeploySchema.optional(),
  chart: z.preprocess(noEmptyChart, ChartSchema.optional()),
  values: z.record(z.string(), z.unknown()).optional(),
  strategicMergePatches: z.string().max(1_000_000).optional(),
  json6902Patches: z.array(Json6902PatchSchema).max(200).optional(),
  preview: z.boolean().optional(),
  cleanup: CleanupSchema.optional(),
});
export type EnvironmentFile = z.infer<typeof EnvironmentFileSchema>;

const ItemSchema = z.looseObject({ name: z.string().min(1).max(200) });

/**
 * Gimlet's `artifact add --field docker-image=…` copies field keys into `vars`, so keys may hold `-` and `.`.
 * Templates reach only keys that are identifiers (`{{ .IMAGE }}`), as in Gimlet, whose templates cannot name
 * `.docker-image` either; the other keys are kept as data.
 */
const StringMap = z.record(
  z.string().regex(/^[A-Za-z_][A-Za-z0-9_.-]{0,199}$/, 'keys must be 1-200 characters of A-Z, a-z, 0-9, "_", "-" and ".", starting with a letter or "_"'),
  z.string().max(100_000),
);

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
    // An id of the derived form names a repository and commit: a caller may not take the one another repository's
    // CI push will get (the real push would then be refused and a release of that id would ship the squatter's).
    if (a.id !== undefined && DERIVED_ID_RE.test(a.id)) {
      const own = deriveArtifactId(a.version.repositoryName, a.version.sha, a.version.event);
      if (a.id !== own) ctx.addIssue({ code: 'custom', path: ['id'], message: `has the form of a derived id but is not this artifact's ("${own}"); leave it out or choose another form` });
    }
    const budget = patternBudgetIssue(a.environments, a.version);
    if (budget) ctx.addIssue({ code: 'custom', path: budget.path, message: budget.message });
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

const DERIVED_ID_RE = /-[0-9a-fA-F]{7,12}-(push|tag|pr)-[0-9a-f]{8}$/;

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
