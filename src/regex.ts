import { RE2JS } from 're2js';

/**
 * Regular expressions that come from users or CI (branch restrictions, JSON 6902 patch targets, the globs compiled
 * by ./policy/glob) run on RE2JS, a pure-JavaScript port of RE2: matching time grows linearly with the input
 * whatever the pattern, so a pattern cannot stall the one event loop that serves the API, the workers and the
 * writer. RE2 refuses what needs backtracking (backreferences, lookaround); Ferry names that syntax in the refusal
 * rather than passing on RE2's terser parser message.
 */

/** Compiled programs larger than this are refused: matching is linear in the input, but also in the program. */
export const MAX_PROGRAM_SIZE = 1000;

export class PatternError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PatternError';
  }
}

const UNSUPPORTED: Array<[RegExp, string]> = [
  [/^\(\?=/, 'lookahead "(?=…)"'],
  [/^\(\?!/, 'negative lookahead "(?!…)"'],
  [/^\(\?<=/, 'lookbehind "(?<=…)"'],
  [/^\(\?<!/, 'negative lookbehind "(?<!…)"'],
  [/^\(\?>/, 'atomic group "(?>…)"'],
  [/^\\[1-9]/, 'backreference "\\1"'],
  [/^\\k</, 'named backreference "\\k<name>"'],
  [/^\\Z/, '"\\Z" (write "$" or "\\z")'],
];

/** The backtracking-only syntax `source` uses, outside character classes, if any. */
export function unsupportedSyntax(source: string): string | null {
  let inClass = false;
  for (let i = 0; i < source.length; i++) {
    const c = source[i]!;
    if (!inClass) {
      const rest = source.slice(i, i + 4);
      for (const [re, name] of UNSUPPORTED) if (re.test(rest)) return name;
    }
    if (c === '\\') {
      i++;
    } else if (c === '[' && !inClass) {
      inClass = true;
      if (source[i + 1] === '^') i++;
      if (source[i + 1] === ']') i++;
    } else if (c === ']' && inClass) {
      inClass = false;
    }
  }
  return null;
}

export function unsupportedMessage(syntax: string): string {
  return `uses ${syntax}, which needs backtracking; Ferry matches patterns in linear time (RE2 syntax) and does not support it`;
}

function describeSyntaxError(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.replace(/^error parsing regexp: /, '');
}

/** Compiles `source` with RE2 semantics or throws a PatternError saying why it cannot be used. */
export function compileRegex(source: string, flags = 0): RE2JS {
  const unsupported = unsupportedSyntax(source);
  if (unsupported) throw new PatternError(unsupportedMessage(unsupported));
  let re: RE2JS;
  try {
    re = RE2JS.compile(source, flags);
  } catch (err) {
    throw new PatternError(`is not a valid regular expression (RE2 syntax): ${describeSyntaxError(err)}`);
  }
  if (re.programSize() > MAX_PROGRAM_SIZE) throw new PatternError(`is too complex (its compiled program has more than ${MAX_PROGRAM_SIZE} instructions)`);
  return re;
}

const cache = new Map<string, RE2JS>();

/** compileRegex with a bounded cache: the same few restrictions and targets are matched over and over. */
export function cachedRegex(source: string, flags = 0): RE2JS {
  const key = `${flags}\0${source}`;
  let re = cache.get(key);
  if (!re) {
    re = compileRegex(source, flags);
    if (cache.size >= 1000) cache.clear();
    cache.set(key, re);
  }
  return re;
}

/** Null when `source` is a regular expression Ferry accepts, else why not (for 400 answers). */
export function regexSyntaxProblem(source: string): string | null {
  try {
    cachedRegex(source);
    return null;
  } catch (err) {
    if (err instanceof PatternError) return err.message;
    throw err;
  }
}
