import { type GlobKind, globProblem } from '../policy/glob';
import { regexSyntaxProblem } from '../regex';

/**
 * One artifact carries many patterns (up to 200 environment files, each with globs and patch targets), and all of
 * them are compiled and matched on the event loop that also serves the API. Each match is linear, but the work
 * still adds up across patterns, so an artifact gets a budget:
 *
 * - the distinct patterns' characters (compiling costs about that much), and
 * - for each distinct deploy glob, its length times the length of what this artifact offers it (its branches, tag
 *   or commit message): matching costs at most about that. Cleanup globs are matched later, one deleted branch
 *   at a time, and count towards the characters only.
 *
 * Honest artifacts repeat a few short globs and stay far below both; the numbers are in docs/security-inputs.md.
 */
export const MAX_PATTERN_CHARS = 4096;
export const MAX_MATCH_WORK = 600_000;

interface PatternUse {
  kind: GlobKind | 'selector' | 'cleanup';
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
    if (e.cleanup?.branch) uses.push({ kind: 'cleanup', pattern: e.cleanup.branch, path: ['environments', i, 'cleanup', 'branch'] });
    e.json6902Patches?.forEach((p, j) => {
      if (!p?.target || typeof p.target !== 'object') return;
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
 * Checks the artifact's patterns against the budget, then each distinct one (patch targets are compiled, so one
 * RE2 refuses is a 400 now, not a failed release later). Null when all is well.
 */
export function patternBudgetIssue(
  environments: EnvFileLike[],
  version: { branch?: string; sourceBranch?: string; targetBranch?: string; tag?: string; message?: string },
): BudgetIssue | null {
  const branchLength = Math.max(version.branch?.length ?? 0, version.sourceBranch?.length ?? 0, version.targetBranch?.length ?? 0);
  const inputLength: Record<PatternUse['kind'], number> = {
    branch: branchLength, tag: version.tag?.length ?? 0, message: version.message?.length ?? 0, selector: 0, cleanup: 0,
  };
  const distinct = new Map<string, PatternUse>();
  for (const use of usesOf(environments)) {
    const key = `${use.kind}\0${use.pattern}`;
    if (!distinct.has(key)) distinct.set(key, use);
  }
  let chars = 0;
  let work = 0;
  for (const use of distinct.values()) {
    chars += use.pattern.length;
    work += use.pattern.length * inputLength[use.kind];
  }
  if (chars > MAX_PATTERN_CHARS) {
    return { path: ['environments'], message: `the artifact's distinct patterns (globs and patch targets) add up to ${chars} characters, more than the ${MAX_PATTERN_CHARS} Ferry compiles for one artifact` };
  }
  if (work > MAX_MATCH_WORK) {
    return {
      path: ['environments'],
      message: `the artifact's globs would take too much matching (${work} units, at most ${MAX_MATCH_WORK}: each distinct glob's length times the length of the artifact's branch, tag or commit message it is matched against); use fewer or shorter patterns`,
    };
  }
  for (const use of distinct.values()) {
    if (use.kind === 'selector') {
      const problem = regexSyntaxProblem(`^(?:${use.pattern})$`);
      if (problem) return { path: use.path, message: problem };
    } else {
      // Translating is enough: a translated glob always compiles (test/patterns.test.ts holds that), and
      // compiling is left to the first match.
      const problem = globProblem(use.pattern, use.kind === 'cleanup' ? 'branch' : use.kind);
      if (problem) return { path: use.path, message: problem };
    }
  }
  return null;
}
