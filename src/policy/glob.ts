import picomatch from 'picomatch';

/**
 * Globs of deploy conditions and auto-release policies. A leading `!` negates the whole pattern, for branches,
 * tags and commit messages alike (Gimlet compiled the raw `!v1` for tags, so tag negation never excluded anything).
 *
 * - Branches and tags: `*` stops at `/`, `**` crosses it, `{a,b}` alternates (as in CI branch filters), so
 *   `feature/*` matches `feature/x` but not `feature/x/y`.
 * - Commit messages: `*` matches anything, `/` and line breaks included, so `*[skip deploy]*` is not a character
 *   class by accident — write `*\[skip deploy\]*` for the literal brackets.
 */
export type GlobKind = 'branch' | 'tag' | 'message';

export interface ParsedGlob {
  negated: boolean;
  pattern: string;
}

export function parseGlob(glob: string): ParsedGlob {
  return glob.startsWith('!') ? { negated: true, pattern: glob.slice(1) } : { negated: false, pattern: glob };
}

const cache = new Map<string, RegExp>();

function compile(pattern: string, kind: GlobKind): RegExp {
  const key = `${kind}\0${pattern}`;
  let re = cache.get(key);
  if (!re) {
    const made = picomatch.makeRe(pattern, { dot: true, bash: kind === 'message', nonegate: true });
    re = kind === 'message' ? new RegExp(made.source, `${made.flags.replace('s', '')}s`) : made;
    if (cache.size > 1000) cache.clear();
    cache.set(key, re);
  }
  return re;
}

/** Whether `value` matches `glob`, honouring a leading `!`. */
export function globMatches(glob: string, value: string, kind: GlobKind): boolean {
  const { negated, pattern } = parseGlob(glob);
  const hit = compile(pattern, kind).test(value);
  return negated ? !hit : hit;
}

/** Null when the glob can be used, else why not (for 400 answers and validation messages). */
export function globProblem(glob: string): string | null {
  const { pattern } = parseGlob(glob);
  if (pattern === '') return 'must not be empty (a lone "!" negates nothing)';
  if (pattern.startsWith('!')) return 'a pattern may be negated once ("!x"), not twice';
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(pattern)) return 'must not contain control characters';
  try {
    compile(pattern, 'branch');
  } catch (err) {
    return `is not a valid glob: ${(err as Error).message}`;
  }
  return null;
}
