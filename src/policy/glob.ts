import { RE2JS } from 're2js';
import { cachedRegex, PatternError } from '../regex';

/**
 * Globs of deploy conditions, auto-release policies and cleanups. They come from CI and users, so they compile to
 * RE2 (see ../regex) and match in time linear in the branch, tag or message, however many wildcards they hold.
 * A leading `!` negates the whole pattern, for branches, tags and commit messages alike (Gimlet compiled the raw
 * `!v1` for tags, so tag negation never excluded anything).
 *
 * - Branches and tags: `*` and `?` stop at `/`, a `**` segment crosses it (`a/**` also matches `a`, `**\/b` also
 *   `b`, `a/**\/b` also `a/b`), `{a,b}` alternates (nestable), `[abc]`, `[a-z]` and `[!a]` / `[^a]` are classes.
 *   So `feature/*` matches `feature/x` but not `feature/x/y`.
 * - Commit messages: `*` matches anything, `/` and line breaks included, so `*[skip deploy]*` is a character
 *   class by accident — write `*\[skip deploy\]*` for the literal brackets.
 * - `\` makes the next character literal; every other character (`(`, `)`, `|`, `+`, `@`, `.`) is literal, as in
 *   Gimlet's globs.
 */
export type GlobKind = 'branch' | 'tag' | 'message';

export interface ParsedGlob {
  negated: boolean;
  pattern: string;
}

export function parseGlob(glob: string): ParsedGlob {
  return glob.startsWith('!') ? { negated: true, pattern: glob.slice(1) } : { negated: false, pattern: glob };
}

const POSIX_CLASSES = new Set(['alnum', 'alpha', 'ascii', 'blank', 'cntrl', 'digit', 'graph', 'lower', 'print', 'punct', 'space', 'upper', 'word', 'xdigit']);

/** Index of the `]` closing the class opened at `open`, or -1 when the `[` is a literal. */
function classEnd(pattern: string, open: number): number {
  let i = open + 1;
  if (pattern[i] === '!' || pattern[i] === '^') i++;
  if (pattern[i] === ']') i++;
  for (; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\') i++;
    else if (c === '[' && pattern[i + 1] === ':') {
      const close = pattern.indexOf(':]', i + 2);
      if (close > 0) i = close + 1;
    } else if (c === ']') return i;
  }
  return -1;
}

/** RE2 text of the class `[...]` spanning `open..close`; `/` is never matched by a class in a branch or tag. */
function translateClass(pattern: string, open: number, close: number, kind: GlobKind): string {
  let i = open + 1;
  let negated = false;
  if (pattern[i] === '!' || pattern[i] === '^') {
    negated = true;
    i++;
  }
  let body = '';
  for (; i < close; i++) {
    const c = pattern[i]!;
    if (c === '\\') {
      body += literal(pattern[++i] ?? '\\');
    } else if (c === '[' && pattern[i + 1] === ':') {
      const end = pattern.indexOf(':]', i + 2);
      const name = pattern.slice(i + 2, end);
      if (!POSIX_CLASSES.has(name)) throw new PatternError(`has an unknown character class "[:${name}:]"`);
      body += `[:${name}:]`;
      i = end + 1;
    } else if (c === '-' && body !== '' && i < close - 1) {
      const from = pattern[i - 1]!;
      const to = pattern[i + 1] === '\\' ? pattern[i + 2] ?? '' : pattern[i + 1]!;
      if (to < from) throw new PatternError(`has a character range "${from}-${to}" that runs backwards`);
      body += '-';
    } else {
      body += /[\\\]\[^-]/.test(c) ? `\\${c}` : c;
    }
  }
  if (negated) return kind === 'message' ? `[^${body}]` : `[^/${body}]`;
  return `[${body}]`;
}

/** Positions of `{` that open an alternation (closed, with a comma at their own level) and their `}` and commas. */
function braces(pattern: string): { close: Map<number, number>; commas: Set<number> } {
  const close = new Map<number, number>();
  const commas = new Set<number>();
  const stack: Array<{ open: number; commas: number[] }> = [];
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\') i++;
    else if (c === '[') {
      const end = classEnd(pattern, i);
      if (end > 0) i = end;
    } else if (c === '{') stack.push({ open: i, commas: [] });
    else if (c === ',' && stack.length > 0) stack.at(-1)!.commas.push(i);
    else if (c === '}' && stack.length > 0) {
      const group = stack.pop()!;
      if (group.commas.length > 0) {
        close.set(group.open, i);
        for (const comma of group.commas) commas.add(comma);
      }
    }
  }
  return { close, commas };
}

/** The RE2 source (unanchored) that `pattern` (without its `!`) stands for. */
export function globToRegex(pattern: string, kind: GlobKind): string {
  const message = kind === 'message';
  const one = message ? '.' : '[^/]';
  const { close, commas } = braces(pattern);
  const closers = new Set(close.values());
  let out = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '\\') {
      const next = pattern[++i];
      out += next === undefined ? '\\\\' : literal(next);
    } else if (c === '*') {
      let stars = 1;
      while (pattern[i + stars] === '*') stars++;
      const segmentStart = i === 0 || pattern[i - 1] === '/';
      const after = pattern[i + stars];
      i += stars - 1;
      if (message) out += '.*';
      else if (stars >= 2 && segmentStart && after === '/') {
        out += '(?:.*/)?';
        i++;
      } else if (stars >= 2 && segmentStart) out += '.*';
      else out += `${one}*`;
    } else if (c === '/' && !message && pattern.slice(i + 1) === '**' && i > 0) {
      out += '(?:/.*)?';
      break;
    } else if (c === '?') {
      out += one;
    } else if (c === '[') {
      const end = classEnd(pattern, i);
      if (end < 0) out += '\\[';
      else {
        out += translateClass(pattern, i, end, kind);
        i = end;
      }
    } else if (c === '{' && close.has(i)) {
      out += '(?:';
    } else if (c === ',' && commas.has(i)) {
      out += '|';
    } else if (c === '}' && closers.has(i)) {
      out += ')';
    } else {
      out += literal(c);
    }
  }
  return out;
}

/** One character as an RE2 literal, inside or outside a class. */
function literal(c: string): string {
  return /[\\.+*?()|[\]{}^$-]/.test(c) ? `\\${c}` : c;
}

/** The compiled form of `pattern` (without its `!`); throws a PatternError when it cannot be used. */
export function compileGlob(pattern: string, kind: GlobKind): RE2JS {
  return cachedRegex(`^(?:${globToRegex(pattern, kind)})$`, kind === 'message' ? RE2JS.DOTALL : 0);
}

/**
 * Whether `value` matches `glob`, honouring a leading `!`. A glob that cannot be compiled (only possible for one
 * stored before a rule tightened) matches nothing, negated or not: it must not release or clean up by accident.
 */
export function globMatches(glob: string, value: string, kind: GlobKind): boolean {
  const { negated, pattern } = parseGlob(glob);
  let re: RE2JS;
  try {
    re = compileGlob(pattern, kind);
  } catch (err) {
    if (err instanceof PatternError) return false;
    throw err;
  }
  const hit = re.testExact(value);
  return negated ? !hit : hit;
}

/** The checks that cost nothing: empty, negated twice, control characters. */
export function globShapeProblem(glob: string): string | null {
  const { pattern } = parseGlob(glob);
  if (pattern === '') return 'must not be empty (a lone "!" negates nothing)';
  if (pattern.startsWith('!')) return 'a pattern may be negated once ("!x"), not twice';
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(pattern)) return 'must not contain control characters';
  return null;
}

/** Null when the glob can be used, else why not (for 400 answers and validation messages). */
export function globProblem(glob: string, kind: GlobKind = 'branch'): string | null {
  const shape = globShapeProblem(glob);
  if (shape) return shape;
  const { pattern } = parseGlob(glob);
  // Translating is cheap string work and its output always compiles (tests hold that), so validation does not
  // pay for RE2 compilation: that happens once per distinct pattern when it is first matched.
  try {
    globToRegex(pattern, kind);
  } catch (err) {
    if (err instanceof PatternError) return `is not a valid glob: it ${err.message}`;
    throw err;
  }
  return null;
}
