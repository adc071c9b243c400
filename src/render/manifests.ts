import { createHash } from 'node:crypto';
import { Document, LineCounter, parseAllDocuments, Scalar, visit } from 'yaml';
import { nestingProblem } from '../nesting';
import { safeRelativePath } from '../names';

/** A Kubernetes object as parsed from YAML: only the fields Ferry relies on are typed. */
export interface ManifestDoc {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; [key: string]: unknown };
  [key: string]: unknown;
}

export class ManifestError extends Error {
  readonly source?: string;
  /** 1-based position of the YAML document in the stream. */
  readonly document?: number;
  /** 1-based position inside a `List` document's items. */
  readonly item?: number;
  /** 1-based line where the document (or the syntax error) starts. */
  readonly line?: number;
  readonly field?: string;
  readonly detail: string;

  constructor(detail: string, at: { source?: string; document?: number; item?: number; line?: number; field?: string } = {}) {
    const where = [
      at.source ?? 'manifests',
      at.document === undefined ? undefined : `document ${at.document}`,
      at.item === undefined ? undefined : `List item ${at.item}`,
      at.line === undefined ? undefined : `line ${at.line}`,
    ].filter((s) => s !== undefined);
    super(`${where.join(', ')}: ${detail}`);
    this.name = 'ManifestError';
    this.detail = detail;
    if (at.source !== undefined) this.source = at.source;
    if (at.document !== undefined) this.document = at.document;
    if (at.item !== undefined) this.item = at.item;
    if (at.line !== undefined) this.line = at.line;
    if (at.field !== undefined) this.field = at.field;
  }
}

export const DEFAULT_MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

// Billion-laughs defence: yaml's limit weighs each alias by the size of what it
// expands to, so a nested bomb trips it long before memory is at risk.
const MAX_ALIAS_COUNT = 100;

type Where = { source?: string; document: number; item?: number; line?: number };

function isMapping(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function requireString(obj: Record<string, unknown>, key: string, field: string, where: Where): string {
  const v = obj[key];
  if (typeof v !== 'string' || v === '') throw new ManifestError(`missing string field "${field}"`, { ...where, field });
  return v;
}

function toManifestDoc(value: unknown, where: Where): ManifestDoc {
  if (!isMapping(value)) throw new ManifestError('document must be a mapping', where);
  requireString(value, 'apiVersion', 'apiVersion', where);
  requireString(value, 'kind', 'kind', where);
  const metadata = value.metadata;
  if (!isMapping(metadata)) throw new ManifestError('missing mapping field "metadata"', { ...where, field: 'metadata' });
  requireString(metadata, 'name', 'metadata.name', where);
  if (metadata.namespace !== undefined && metadata.namespace !== null && typeof metadata.namespace !== 'string') {
    throw new ManifestError('"metadata.namespace" must be a string', { ...where, field: 'metadata.namespace' });
  }
  return value as ManifestDoc;
}

/**
 * Splits a multi-document YAML stream into Kubernetes objects. Rendered
 * templates are user input, so parsing is bounded in size and alias expansion,
 * and every document must look like an object kubectl would accept.
 */
export function parseManifests(text: string, opts: { source?: string; maxBytes?: number } = {}): ManifestDoc[] {
  const source = opts.source;
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_MANIFEST_BYTES;
  const size = Buffer.byteLength(text, 'utf8');
  if (size > maxBytes) {
    throw new ManifestError(`${size} bytes exceeds the ${maxBytes}-byte limit`, source === undefined ? {} : { source });
  }

  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const out: ManifestDoc[] = [];
  let index = 0;
  for (const doc of docs) {
    index++;
    const start = doc.contents?.range?.[0] ?? doc.range[0];
    const where: Where = { document: index, line: lineCounter.linePos(start).line };
    if (source !== undefined) where.source = source;

    const problem = doc.errors[0];
    if (problem) {
      const line = lineCounter.linePos(problem.pos[0]).line;
      throw new ManifestError(`invalid YAML: ${problem.message.split('\n')[0]}`, { ...where, line });
    }
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
    } catch (err) {
      throw new ManifestError(`cannot load document: ${(err as Error).message}`, where);
    }
    if (value === null || value === undefined) continue;
    const nesting = nestingProblem(value);
    if (nesting) throw new ManifestError(nesting, where);

    if (isMapping(value) && value.kind === 'List') {
      const items = value.items;
      if (!Array.isArray(items)) throw new ManifestError('List without an "items" sequence', { ...where, field: 'items' });
      items.forEach((item, i) => out.push(toManifestDoc(item, { ...where, item: i + 1 })));
      continue;
    }
    out.push(toManifestDoc(value, where));
  }
  return out;
}

/**
 * Strings that some YAML reader would load as something else when written
 * plain. Ferry parses YAML 1.2, kustomize's yaml.v3 accepts 0o/0b/1_000 forms,
 * and kubectl's sigs.k8s.io/yaml still speaks YAML 1.1 (`yes`, `on`, `1:20`,
 * dates). yaml's own 1.2 stringifier only quotes for 1.2, so a plain `yes` could
 * turn a ConfigMap string into a boolean for some consumers.
 */
const AMBIGUOUS_PLAIN: RegExp[] = (['1.1', '1.2'] as const).flatMap((version) =>
  new Document(null, { version }).schema.tags.flatMap((tag) =>
    'test' in tag && tag.test instanceof RegExp && tag.default ? [tag.test] : [],
  ),
);

function isAmbiguousString(s: string): boolean {
  return !s.includes('\n') && AMBIGUOUS_PLAIN.some((re) => re.test(s));
}

/**
 * Deterministic YAML for one object: keys keep their order, anchors are not
 * reintroduced. (JS objects list integer-like keys such as "10" first; the
 * reorder is stable, and no Kubernetes reader cares about key order.)
 */
export function stringifyManifest(doc: ManifestDoc): string {
  const yamlDoc = new Document(doc, { aliasDuplicateObjects: false });
  visit(yamlDoc, {
    Scalar(_key, node: Scalar) {
      if (typeof node.value === 'string' && isAmbiguousString(node.value)) node.type = Scalar.QUOTE_DOUBLE;
    },
  });
  const text = yamlDoc.toString({ lineWidth: 0 });
  return text.endsWith('\n') ? text : `${text}\n`;
}

function sanitizeFileStem(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9.-]+/g, '-');
}

function apiGroup(apiVersion: string): string {
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? '' : apiVersion.slice(0, slash);
}

function shortHash(s: string): string {
  return createHash('sha256').update(s).digest('hex').slice(0, 8);
}

// Leaves room for `-<ns>`, a hash and `.yaml` under the common 255-byte filename limit.
const MAX_STEM = 200;

/**
 * One file per object, named `<kind>-<name>.yaml`. The namespace is appended
 * only to names that would otherwise collide, so the common single-namespace
 * app keeps short, stable file names; a short identity hash settles the rare
 * collisions that remain after sanitizing.
 */
export function manifestFiles(docs: ManifestDoc[]): Record<string, string> {
  const entries = docs.map((doc, i) => {
    const ns = typeof doc.metadata.namespace === 'string' ? doc.metadata.namespace : '';
    const id = `${apiGroup(doc.apiVersion)}/${doc.kind}/${ns}/${doc.metadata.name}`;
    return { doc, ns, id, position: i + 1, stem: sanitizeFileStem(`${doc.kind}-${doc.metadata.name}`) };
  });

  const seen = new Map<string, number>();
  for (const e of entries) {
    const first = seen.get(e.id);
    if (first !== undefined) {
      throw new ManifestError(
        `duplicate object ${e.doc.kind} ${e.ns === '' ? '' : `${e.ns}/`}${e.doc.metadata.name} (objects ${first} and ${e.position})`,
      );
    }
    seen.set(e.id, e.position);
  }

  const sharing = (): Map<string, number> => {
    const counts = new Map<string, number>();
    for (const e of entries) counts.set(e.stem, (counts.get(e.stem) ?? 0) + 1);
    return counts;
  };
  let counts = sharing();
  for (const e of entries) if (counts.get(e.stem)! > 1 && e.ns !== '') e.stem += `-${sanitizeFileStem(e.ns)}`;
  counts = sharing();
  for (const e of entries) if (counts.get(e.stem)! > 1) e.stem += `-${shortHash(e.id)}`;
  for (const e of entries) if (e.stem.length > MAX_STEM) e.stem = `${e.stem.slice(0, MAX_STEM - 9)}-${shortHash(e.id)}`;

  const files = new Map<string, string>();
  for (const e of entries) {
    const name = safeRelativePath(`${e.stem}.yaml`, 'manifest file name');
    if (files.has(name)) throw new ManifestError(`two objects map to the file name ${name}`);
    files.set(name, stringifyManifest(e.doc));
  }
  return Object.fromEntries([...files.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
