import { z } from 'zod';
import { NAME_RE, zName } from '../names';
import { cachedRegex, PatternError, regexSyntaxProblem } from '../regex';
import { globMatches, globProblem } from './glob';

/**
 * Stored release policies (the API's `PUT /api/policies`) and the server-wide branch restrictions from
 * FERRY_BRANCH_RESTRICTIONS. One policy of each kind per app and environment; its id is `<kind>:<app>:<env>`.
 */
export const POLICY_KINDS = ['auto-release', 'branch-restriction'] as const;
export type PolicyKind = (typeof POLICY_KINDS)[number];

const MAX_REGEX = 500;

/** Null when `source` is a regular expression Ferry accepts (RE2 syntax, so it matches in linear time), else why not. */
export function regexProblem(source: string): string | null {
  if (source.length === 0) return 'must not be empty';
  if (source.length > MAX_REGEX) return `must be at most ${MAX_REGEX} characters`;
  return regexSyntaxProblem(source);
}

const BranchGlob = z.string({ error: 'must be a string' }).min(1).max(255).superRefine((g, ctx) => {
  const problem = globProblem(g);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});
const BranchRegex = z.string({ error: 'must be a string' }).superRefine((r, ctx) => {
  const problem = regexProblem(r);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

export const AutoReleaseInputSchema = z.strictObject({
  kind: z.literal('auto-release'),
  app: zName('app'),
  env: zName('env'),
  /** Pushes to branches matching this glob release to `env` by themselves. */
  branch: BranchGlob,
  id: z.string().optional(),
});
export const BranchRestrictionInputSchema = z.strictObject({
  kind: z.literal('branch-restriction'),
  app: zName('app'),
  env: zName('env'),
  /** Every release of the app to `env` (manual, auto, promote, rollback) needs an artifact branch matching this. */
  branchRegex: BranchRegex,
  id: z.string().optional(),
});
export const PolicyInputSchema = z.discriminatedUnion('kind', [AutoReleaseInputSchema, BranchRestrictionInputSchema], {
  error: (issue) => (issue.code === 'invalid_union' ? `must be one of ${POLICY_KINDS.map((k) => `"${k}"`).join(', ')}` : undefined),
});
export type PolicyInput = z.infer<typeof PolicyInputSchema>;

export interface Policy {
  id: string;
  kind: PolicyKind;
  /** `*` for server-wide restrictions, which apply to every app. */
  app: string;
  env: string;
  branch?: string;
  branchRegex?: string;
  /** `server` policies come from configuration and cannot be changed or removed through the API. */
  source: 'api' | 'server';
  createdBy: string;
  createdAt: string | null;
  updatedBy: string;
  updatedAt: string | null;
}

export function policyId(kind: PolicyKind, app: string, env: string): string {
  return `${kind}:${app}:${env}`;
}

export const SERVER_RESTRICTIONS_VAR = 'FERRY_BRANCH_RESTRICTIONS';

/**
 * `production=^main$,staging=^(main|release/.+)$`. A comma starts a new entry only when `<env>=` follows it, so
 * regexes may contain commas (`{1,3}`).
 */
export function parseServerRestrictions(text: string | undefined): Policy[] {
  if (!text || text.trim() === '') return [];
  const seen = new Set<string>();
  return text.split(/,(?=\s*[a-z0-9][a-z0-9-]*\s*=)/).map((entry) => {
    const eq = entry.indexOf('=');
    const env = entry.slice(0, eq).trim();
    const branchRegex = entry.slice(eq + 1).trim();
    if (eq < 0 || !NAME_RE.test(env)) throw new Error(`${SERVER_RESTRICTIONS_VAR}: "${entry}" is not <env>=<regex> with a valid env name`);
    const problem = regexProblem(branchRegex);
    if (problem) throw new Error(`${SERVER_RESTRICTIONS_VAR}: the regex for "${env}" ${problem}`);
    if (seen.has(env)) throw new Error(`${SERVER_RESTRICTIONS_VAR}: "${env}" is given twice`);
    seen.add(env);
    return {
      id: `server:branch-restriction:${env}`, kind: 'branch-restriction', app: '*', env, branchRegex, source: 'server',
      createdBy: SERVER_RESTRICTIONS_VAR, createdAt: null, updatedBy: SERVER_RESTRICTIONS_VAR, updatedAt: null,
    } satisfies Policy;
  });
}

export function describePolicy(p: Policy): string {
  if (p.kind === 'auto-release') return `auto-release policy ${p.id} (${p.app} to ${p.env} from branches "${p.branch}")`;
  if (p.source === 'server') return `server-wide branch restriction for ${p.env} (/${p.branchRegex}/, from ${SERVER_RESTRICTIONS_VAR})`;
  return `branch restriction ${p.id} (/${p.branchRegex}/)`;
}

/** Server-wide restrictions win: an app-level one only applies to environments without a server-wide one. */
export function effectiveRestriction(app: string, env: string, server: Policy[], stored: Policy[]): Policy | null {
  return (
    server.find((p) => p.env === env) ??
    stored.find((p) => p.kind === 'branch-restriction' && p.app === app && p.env === env) ??
    null
  );
}

/** Null when the branch may be released under `restriction`, else the reason it may not. */
export function restrictionRefusal(restriction: Policy | null, branch: string): string | null {
  if (!restriction?.branchRegex) return null;
  let allowed: boolean;
  try {
    allowed = cachedRegex(restriction.branchRegex).test(branch);
  } catch (err) {
    // Stored before Ferry matched in linear time: it refuses everything until it is replaced.
    if (!(err instanceof PatternError)) throw err;
    return `${describePolicy(restriction)} cannot be evaluated: it ${err.message}; replace it`;
  }
  if (allowed) return null;
  return `${describePolicy(restriction)} refuses ${branch === '' ? 'artifacts without a branch' : `branch "${branch}"`}`;
}

const COMMON_BRANCHES = ['main', 'master', 'develop', 'dev', 'staging', 'production', 'x', 'feature/x', 'release/x', 'release/1.0', 'hotfix/x', 'renovate/x'];

const MAX_SAMPLES = 64;

/**
 * Expands `{a,b}` alternatives (one level, enough for branch globs) and replaces wildcards with a letter. Stops at
 * MAX_SAMPLES: `{a,b}` repeated fifty times would otherwise expand to 2^50 strings.
 */
function globSamples(pattern: string, out: string[] = []): string[] {
  if (out.length >= MAX_SAMPLES) return out;
  const brace = /\{([^{}]*)\}/.exec(pattern);
  if (brace) {
    for (const alt of brace[1]!.split(',')) globSamples(pattern.slice(0, brace.index) + alt + pattern.slice(brace.index + brace[0].length), out);
    return out;
  }
  const plain = pattern.replace(/\*\*/g, 'x/x').replace(/\*/g, 'x').replace(/\?/g, 'x').replace(/\[!?\^?([^\]])[^\]]*\]/g, '$1').replace(/\\(.)/g, '$1');
  out.push(plain, pattern.replace(/\*\*\/?/g, '').replace(/\*/g, 'x').replace(/\?/g, 'x'));
  return out;
}

/** Branches that certainly match `glob`: real examples, checked with the matcher itself. */
export function exampleBranches(glob: string): string[] {
  const base = glob.startsWith('!') ? glob.slice(1) : glob;
  const candidates = [...new Set([...globSamples(base), ...COMMON_BRANCHES])];
  return candidates.filter((b) => b !== '' && globMatches(glob, b, 'branch'));
}

/**
 * Whether an auto-release policy and a branch restriction contradict each other: a branch the policy would release
 * that the restriction refuses. Globs and regexes cannot be compared in general, so this looks for a concrete
 * example among the glob's own expansions and common branch names; it reports only real contradictions.
 */
export function conflictBetween(autoRelease: Policy, restriction: Policy): string | null {
  if (!autoRelease.branch || !restriction.branchRegex) return null;
  if (regexSyntaxProblem(restriction.branchRegex)) return null;
  const re = cachedRegex(restriction.branchRegex);
  const refused = exampleBranches(autoRelease.branch).find((b) => !re.test(b));
  if (refused === undefined) return null;
  return `${describePolicy(autoRelease)} conflicts with ${describePolicy(restriction)}: branch "${refused}" would be released automatically but the restriction refuses it`;
}
