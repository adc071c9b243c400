import { InvalidNameError, sanitizeDNSName } from '../names';

/**
 * A deliberately small subset of Go's text/template, enough for Gimlet-style
 * environment files: `{{ .VAR }}`, pipelines and a handful of pure helpers.
 * Everything else fails loudly: a template that renders "mostly right" would
 * ship a broken manifest to a cluster, so a missing variable is an error, never
 * an empty string.
 */

export interface TemplateLocation {
  file?: string;
  /** Where inside a structured document the string sits, e.g. `values.image.tag`. */
  path?: string;
}

export class TemplateError extends Error {
  /** The variable that was referenced but not defined, when that is the problem. */
  readonly variable?: string;
  /** The unknown or misused function, when that is the problem. */
  readonly func?: string;
  readonly file?: string;
  readonly path?: string;
  /** 1-based line of the `{{` that opened the failing action. */
  readonly line: number;
  readonly detail: string;

  constructor(detail: string, line: number, loc: TemplateLocation, extra: { variable?: string; func?: string } = {}) {
    super(`${describeLocation(line, loc)}: ${detail}`);
    this.name = 'TemplateError';
    this.detail = detail;
    this.line = line;
    if (loc.file !== undefined) this.file = loc.file;
    if (loc.path !== undefined) this.path = loc.path;
    if (extra.variable !== undefined) this.variable = extra.variable;
    if (extra.func !== undefined) this.func = extra.func;
  }
}

function describeLocation(line: number, loc: TemplateLocation): string {
  if (loc.path === undefined) return loc.file === undefined ? `line ${line}` : `${loc.file}:${line}`;
  // Lines inside a structured value are relative to that value, not the file.
  const inValue = line > 1 ? ` (line ${line} of the value)` : '';
  return loc.file === undefined ? `${loc.path}${inValue}` : `${loc.file}: ${loc.path}${inValue}`;
}

type Token =
  | { t: 'var'; name: string }
  | { t: 'str'; value: string }
  | { t: 'ident'; name: string }
  | { t: 'pipe' };

/** A variable reference may be missing until a function like `default` decides. */
type Val = { ok: true; value: string } | { ok: false; variable: string };

interface Ctx {
  line: number;
  loc: TemplateLocation;
}

const NAME_START = /[A-Za-z_]/;
const NAME_CHAR = /[A-Za-z0-9_]/;
const SPACE = /[ \t\r\n]/;

function fail(ctx: Ctx, detail: string, extra?: { variable?: string; func?: string }): never {
  throw new TemplateError(detail, ctx.line, ctx.loc, extra);
}

function readName(text: string, i: number): number {
  let j = i;
  while (j < text.length && NAME_CHAR.test(text[j]!)) j++;
  return j;
}

/** Lexes one action starting just after `{{`; returns its tokens and the index after `}}`. */
function lexAction(text: string, start: number, ctx: Ctx): { tokens: Token[]; end: number } {
  const tokens: Token[] = [];
  let i = start;
  if (text[i] === '-' && SPACE.test(text[i + 1] ?? '')) fail(ctx, "whitespace trim markers ('{{-') are not supported");
  for (;;) {
    while (i < text.length && SPACE.test(text[i]!)) i++;
    if (i >= text.length) fail(ctx, "unterminated action: '{{' without a closing '}}'");
    const c = text[i]!;
    if (c === '}' && text[i + 1] === '}') {
      if (tokens.length === 0) fail(ctx, 'empty action');
      return { tokens, end: i + 2 };
    }
    if (c === '-' && SPACE.test(text[i - 1] ?? '') && text.startsWith('}}', i + 1)) {
      fail(ctx, "whitespace trim markers ('-}}') are not supported");
    }
    if (c === '|') {
      tokens.push({ t: 'pipe' });
      i++;
    } else if (c === '.') {
      if (!NAME_START.test(text[i + 1] ?? '')) fail(ctx, "'.' must be followed by a variable name");
      const end = readName(text, i + 1);
      const name = text.slice(i + 1, end);
      if (text[end] === '.') fail(ctx, `nested fields (.${name}.…) are not supported; variables are flat`);
      tokens.push({ t: 'var', name });
      i = end;
    } else if (c === '"') {
      i = lexQuoted(text, i + 1, tokens, ctx);
    } else if (c === '`') {
      const close = text.indexOf('`', i + 1);
      if (close < 0) fail(ctx, 'unterminated raw string');
      tokens.push({ t: 'str', value: text.slice(i + 1, close) });
      i = close + 1;
    } else if (NAME_START.test(c)) {
      const end = readName(text, i);
      tokens.push({ t: 'ident', name: text.slice(i, end) });
      i = end;
    } else {
      fail(ctx, `unexpected ${JSON.stringify(c)} in action`);
    }
  }
}

const ESCAPES: Record<string, string> = { '\\': '\\', '"': '"', n: '\n', t: '\t', r: '\r' };

function lexQuoted(text: string, start: number, tokens: Token[], ctx: Ctx): number {
  let value = '';
  let i = start;
  for (;;) {
    const c = text[i];
    if (c === undefined || c === '\n') fail(ctx, 'unterminated string');
    if (c === '"') break;
    if (c === '\\') {
      const e = text[i + 1] ?? '';
      if (!Object.hasOwn(ESCAPES, e)) fail(ctx, `unsupported escape \\${e} in string`);
      value += ESCAPES[e];
      i += 2;
    } else {
      value += c;
      i++;
    }
  }
  tokens.push({ t: 'str', value });
  return i + 1;
}

type Func = { arity: number; call: (args: Val[], ctx: Ctx, name: string) => string };

function need(v: Val, ctx: Ctx): string {
  if (!v.ok) fail(ctx, `missing template variable "${v.variable}"`, { variable: v.variable });
  return v.value;
}

const FUNCS: Record<string, Func> = {
  lower: { arity: 1, call: ([s], ctx) => need(s!, ctx).toLowerCase() },
  upper: { arity: 1, call: ([s], ctx) => need(s!, ctx).toUpperCase() },
  // JSON's double-quoted string is also a valid YAML double-quoted scalar, which is
  // where env-file values end up.
  quote: { arity: 1, call: ([s], ctx) => JSON.stringify(need(s!, ctx)) },
  sanitizeDNSName: {
    arity: 1,
    call: ([s], ctx, name) => {
      try {
        return sanitizeDNSName(need(s!, ctx));
      } catch (err) {
        if (err instanceof InvalidNameError) fail(ctx, `${name}: ${err.reason}`, { func: name });
        throw err;
      }
    },
  },
  // Sprig semantics: the fallback also replaces an empty value, not only a missing one.
  default: {
    arity: 2,
    call: ([fallback, given], ctx) => (given!.ok && given!.value !== '' ? given!.value : need(fallback!, ctx)),
  },
};

function evalPipeline(tokens: Token[], vars: Record<string, string>, ctx: Ctx): string {
  const commands: Token[][] = [[]];
  for (const tok of tokens) {
    if (tok.t === 'pipe') commands.push([]);
    else commands[commands.length - 1]!.push(tok);
  }
  let piped: Val | undefined;
  for (const cmd of commands) {
    if (cmd.length === 0) fail(ctx, "empty command in pipeline around '|'");
    piped = evalCommand(cmd, piped, vars, ctx);
  }
  return need(piped!, ctx);
}

function valueOf(tok: Token, vars: Record<string, string>, ctx: Ctx): Val {
  switch (tok.t) {
    case 'var':
      // hasOwn, not `in`: `.constructor` or `.__proto__` must not resolve to Object's.
      return Object.hasOwn(vars, tok.name) && typeof vars[tok.name] === 'string'
        ? { ok: true, value: vars[tok.name]! }
        : { ok: false, variable: tok.name };
    case 'str':
      return { ok: true, value: tok.value };
    case 'ident':
      return fail(ctx, `function "${tok.name}" cannot be used as an argument here`, { func: tok.name });
    case 'pipe':
      return fail(ctx, "unexpected '|'");
  }
}

function evalCommand(cmd: Token[], piped: Val | undefined, vars: Record<string, string>, ctx: Ctx): Val {
  const [head, ...rest] = cmd as [Token, ...Token[]];
  if (head.t !== 'ident') {
    if (rest.length > 0 || piped !== undefined) fail(ctx, 'a value cannot take arguments; put the function first');
    return valueOf(head, vars, ctx);
  }
  if (!Object.hasOwn(FUNCS, head.name)) {
    fail(ctx, `unknown function "${head.name}" (known: ${Object.keys(FUNCS).join(', ')})`, { func: head.name });
  }
  const fn = FUNCS[head.name]!;
  const args = rest.map((tok) => valueOf(tok, vars, ctx));
  if (piped !== undefined) args.push(piped);
  if (args.length !== fn.arity) {
    fail(ctx, `function "${head.name}" takes ${fn.arity} argument${fn.arity === 1 ? '' : 's'}, got ${args.length}`, {
      func: head.name,
    });
  }
  return { ok: true, value: fn.call(args, ctx, head.name) };
}

function renderAt(text: string, vars: Record<string, string>, loc: TemplateLocation): string {
  let out = '';
  let pos = 0;
  let line = 1;
  let counted = 0;
  for (;;) {
    const open = text.indexOf('{{', pos);
    if (open < 0) return out + text.slice(pos);
    for (let k = counted; k < open; k++) if (text.charCodeAt(k) === 10) line++;
    counted = open;
    const ctx: Ctx = { line, loc };
    const { tokens, end } = lexAction(text, open + 2, ctx);
    out += text.slice(pos, open) + evalPipeline(tokens, vars, ctx);
    pos = end;
  }
}

export function renderTemplate(text: string, vars: Record<string, string>, opts: { file?: string } = {}): string {
  return renderAt(text, vars, opts.file === undefined ? {} : { file: opts.file });
}

const MAX_DEPTH = 100;

function pathKey(parent: string, key: string): string {
  if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(key)) return parent === '' ? key : `${parent}.${key}`;
  return `${parent}[${JSON.stringify(key)}]`;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object') return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/**
 * Renders every string inside a JSON-like value (env-file `values`). Keys are
 * left alone: they are structure chosen by the chart, not data. Returns a copy.
 */
export function renderTemplateDeep<T>(value: T, vars: Record<string, string>, opts: { file?: string } = {}): T {
  const walk = (v: unknown, path: string, depth: number): unknown => {
    const loc: TemplateLocation = { path: path === '' ? '(root)' : path };
    if (opts.file !== undefined) loc.file = opts.file;
    // YAML anchors can build self-referencing values; bound the walk instead of overflowing the stack.
    if (depth > MAX_DEPTH) throw new TemplateError(`nested deeper than ${MAX_DEPTH} levels`, 1, loc);
    if (typeof v === 'string') return renderAt(v, vars, loc);
    if (Array.isArray(v)) return v.map((item, i) => walk(item, `${path}[${i}]`, depth + 1));
    if (isPlainObject(v)) {
      // fromEntries defines own properties, so a `__proto__` key stays data.
      return Object.fromEntries(Object.entries(v).map(([k, item]) => [k, walk(item, pathKey(path, k), depth + 1)]));
    }
    return v;
  };
  return walk(value, '', 0) as T;
}
