/**
 * Simple guards for repository paths. Validation proper happens upstream; this only makes sure nothing that could
 * escape the directory, corrupt a fast-import stream or a pathspec ever reaches git.
 */

function checkRelativePath(kind: string, p: string): string[] {
  if (typeof p !== 'string' || p.length === 0) throw new Error(`${kind} must be a non-empty string`);
  if (p.startsWith('/')) throw new Error(`${kind} must be relative, got absolute path ${JSON.stringify(p)}`);
  if (p.includes('\\')) throw new Error(`${kind} must not contain backslashes: ${JSON.stringify(p)}`);
  if (p.includes('\0')) throw new Error(`${kind} must not contain NUL: ${JSON.stringify(p)}`);
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(p)) throw new Error(`${kind} must not contain control characters: ${JSON.stringify(p)}`);
  const segments = p.split('/');
  for (const s of segments) {
    if (s === '') throw new Error(`${kind} must not contain empty segments: ${JSON.stringify(p)}`);
    if (s === '..') throw new Error(`${kind} must not contain '..': ${JSON.stringify(p)}`);
    if (s === '.') throw new Error(`${kind} must not contain '.' segments: ${JSON.stringify(p)}`);
    if (s.toLowerCase() === '.git') throw new Error(`${kind} must not contain a '.git' segment: ${JSON.stringify(p)}`);
  }
  return segments;
}

export function assertSafeDir(dir: string): void {
  checkRelativePath('dir', dir);
}

/** Validates the file map of a change; also rejects file/directory clashes such as 'a' and 'a/b'. */
export function assertSafeFiles(dir: string, files: Record<string, string>): void {
  if (files === null || typeof files !== 'object' || Array.isArray(files)) throw new Error('files must be an object');
  const names = Object.keys(files);
  const set = new Set(names);
  for (const name of names) {
    const segs = checkRelativePath(`file path in ${dir}`, name);
    if (typeof files[name] !== 'string') throw new Error(`content of ${dir}/${name} must be a string`);
    for (let i = 1; i < segs.length; i++) {
      const prefix = segs.slice(0, i).join('/');
      if (set.has(prefix)) throw new Error(`file path ${JSON.stringify(prefix)} in ${dir} is both a file and a directory`);
    }
  }
}

/**
 * Validates the files a change owns outside its directory (repository path → content, or null to delete): each must
 * lie in the same top-level directory as `dir` (its environment), outside `dir`, and no path may contain another.
 */
export function assertSafeExtraFiles(dir: string, extra: Record<string, string | null>): void {
  if (extra === null || typeof extra !== 'object' || Array.isArray(extra)) throw new Error('extraFiles must be an object');
  const top = dir.split('/')[0]!;
  const names = Object.keys(extra);
  for (const name of names) {
    checkRelativePath('extra file path', name);
    const content = extra[name];
    if (content !== null && typeof content !== 'string') throw new Error(`content of ${name} must be a string or null`);
    if (!name.startsWith(top + '/')) throw new Error(`extra file ${JSON.stringify(name)} must lie in ${top}/, the directory of ${dir}`);
    if (dirsOverlap(name, dir)) throw new Error(`extra file ${JSON.stringify(name)} must lie outside ${dir}`);
  }
  for (const a of names) {
    for (const b of names) {
      if (a !== b && a.startsWith(b + '/')) throw new Error(`extra file path ${JSON.stringify(b)} is both a file and a directory`);
    }
  }
}

/** True when one directory equals or contains the other. */
export function dirsOverlap(a: string, b: string): boolean {
  return a === b || a.startsWith(b + '/') || b.startsWith(a + '/');
}

/** True when repository path `p` lies in (or is) `dir`. */
export function pathInDir(p: string, dir: string): boolean {
  return p === dir || p.startsWith(dir + '/');
}

/** C-style quoting accepted by git fast-import (control characters are rejected earlier). */
export function fastImportQuote(p: string): string {
  return '"' + p.replace(/\\/g, '\\\\').replace(/"/g, '\\"') + '"';
}
