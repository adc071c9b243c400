import { compileGlob, type GlobKind, parseGlob } from '../policy/glob';
import { PatternError, regexSyntaxProblem } from '../regex';

/**
 * One artifact carries many patterns (up to 200 environment files, each with globs and patch targets), and all of
 * them are compiled and matched on the event loop that also serves the API. Each match is linear, but the work
 * still adds up across patterns, so an artifact gets a budget:
 *
 * - the distinct patterns' characters (compiling costs about that much), and
 * - for each distinct glob, its length times the length of what it is matched against (the commit message for
 *   message patterns, a branch or tag of at most 255 characters otherwise): matching costs at most about that.
 *
 * Honest artifacts repeat a few short globs and stay far below both; the numbers are in docs/security-inputs.md.
 */
export const MAX_PATTERN_CHARS = 8192;
export const MAX_MATCH_WORK = 2_000_000;
const NAME_LENGTH = 255;

interface PatternUse {
  kind: GlobKind | 'selector';
  pattern: string;
  /** Where it is, for the 400 (`environments.3.deploy.branch`). */
  path: Array<string | number>;
}

interface EnvFileLike {
  deploy?: { branch?: string; tag?: string; targetBranch?: string; commitMessagePatterns?: string[] };
  cleanup?: { branch?: string };
  json6902Patches?: Array<{ target: Record<string, unknown> }>;
}

function usesOf(environments: EnvFileLike[]): PatternUse[] {
  const uses: PatternUse[] = [];
  environments.forEach((e, i) => {
    const d = e.deploy;
    if (d?.branch) uses.push({ kind: 'branch', pattern: d.branch, path: ['environments', i, 'deploy', 'branch'] });
    if (d?.targetBranch) uses.push({ kind: 'branch', pattern: d.targetBranch, path: ['environments', i, 'deploy', 'targetBranch'] });
    if (d?.tag) uses.push({ kind: 'tag', pattern: d.tag, path: ['environments', i, 'deploy', 'tag'] });
    d?.commitMessagePatterns?.forEach((p, j) => uses.push({ kind: 'message', pattern: p, path: ['environments', i, 'deploy', 'commitMessagePatterns', j] }));
    if (e.cleanup?.branch) uses.push({ kind: 'branch', pattern: e.cleanup.branch, path: ['environments', i, 'cleanup', 'branch'] });
    e.json6902Patches?.forEach((p, j) => {
      for (const field of ['group', 'version', 'kind', 'name', 'namespace']) {
        const want = p.target[field];
        if (typeof want === 'string' && want !== '' && !want.includes('{{')) {
          uses.push({ kind: 'selector', pattern: want, path: ['environments', i, 'json6902Patches', j, 'target', field] });
        }
      }
    });
  });
  return uses;
}

export interface BudgetIssue {
  path: Array<string | number>;
  message: string;
}

/**
 * Checks the artifact's patterns against the budget, then compiles each distinct one (so a pattern RE2 refuses is
 * a 400 now, not a failed release later). Null when all is well.
 */
export function patternBudgetIssue(environments: EnvFileLike[], messageLength: number): BudgetIssue | null {
  const distinct = new Map<string, PatternUse>();
  for (const use of usesOf(environments)) {
    const key = `${use.kind}\0${use.pattern}`;
    if (!distinct.has(key)) distinct.set(key, use);
  }
  let chars = 0;
  let work = 0;
  for (const use of distinct.values()) {
    chars += use.pattern.length;
    work += use.kind === 'selector' ? 0 : use.pattern.length * Math.max(1, use.kind === 'message' ? messageLength : NAME_LENGTH);
  }
  if (chars > MAX_PATTERN_CHARS) {
    return { path: ['environments'], message: `the artifact's distinct patterns (globs and patch targets) add up to ${chars} characters, more than the ${MAX_PATTERN_CHARS} Ferry compiles for one artifact` };
  }
  if (work > MAX_MATCH_WORK) {
    return {
      path: ['environments'],
      message: `the artifact's globs would take too much matching (${work} units, at most ${MAX_MATCH_WORK}: each distinct glob's length times the length of the branch, tag or commit message it is matched against); use fewer or shorter commit message patterns`,
    };
  }
  for (const use of distinct.values()) {
    if (use.kind === 'selector') {
      const problem = regexSyntaxProblem(`^(?:${use.pattern})$`);
      if (problem) return { path: use.path, message: problem };
    } else {
      try {
        compileGlob(parseGlob(use.pattern).pattern, use.kind);
      } catch (err) {
        if (err instanceof PatternError) return { path: use.path, message: err.message };
        throw err;
      }
    }
  }
  return null;
}
