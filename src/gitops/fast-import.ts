/**
 * Builds a `git fast-import` stream that creates a chain of commits, one per change, each replacing one directory
 * (and setting or deleting the few files outside it that the change also owns).
 * fast-import only loads and rewrites the trees on the changed paths, so the cost does not grow with repository size.
 */
import { fastImportQuote } from './paths';

export interface ImportIdentity {
  name: string;
  email: string;
}

export interface ImportCommit {
  dir: string;
  files: Record<string, string>;
  /** Repository paths outside `dir` the commit also sets (content) or deletes (null). */
  extraFiles?: Record<string, string | null>;
  message: string;
  author: ImportIdentity;
  committer: ImportIdentity;
  /** unix seconds */
  time: number;
}

export const BATCH_REF = 'refs/ferry/batch';

function ident(who: ImportIdentity, time: number): string {
  return `${who.name} <${who.email}> ${time} +0000`;
}

function data(chunks: Buffer[], content: string): void {
  const buf = Buffer.from(content, 'utf8');
  chunks.push(Buffer.from(`data ${buf.length}\n`), buf, Buffer.from('\n'));
}

/**
 * Stream for `git fast-import --done --force --quiet`: commits chained on `parent` (null = root commit); after every
 * commit a `get-mark` prints its id on stdout, in order.
 */
export function buildFastImportStream(parent: string | null, commits: readonly ImportCommit[]): Buffer[] {
  const chunks: Buffer[] = [];
  const line = (s: string) => chunks.push(Buffer.from(s + '\n', 'utf8'));
  line('feature done');
  line(`reset ${BATCH_REF}`);
  if (parent) line(`from ${parent}`);
  line('');
  commits.forEach((c, i) => {
    const mark = i + 1;
    line(`commit ${BATCH_REF}`);
    line(`mark :${mark}`);
    line(`author ${ident(c.author, c.time)}`);
    line(`committer ${ident(c.committer, c.time)}`);
    data(chunks, c.message);
    if (i > 0) line(`from :${mark - 1}`);
    else if (parent) line(`from ${parent}`);
    line(`D ${fastImportQuote(c.dir)}`);
    for (const name of Object.keys(c.files).sort()) {
      line(`M 100644 inline ${fastImportQuote(c.dir + '/' + name)}`);
      data(chunks, c.files[name]!);
    }
    const extra = c.extraFiles ?? {};
    for (const p of Object.keys(extra).sort()) {
      const content = extra[p];
      if (content === null || content === undefined) line(`D ${fastImportQuote(p)}`);
      else {
        line(`M 100644 inline ${fastImportQuote(p)}`);
        data(chunks, content);
      }
    }
    line('');
    line(`get-mark :${mark}`);
  });
  line('done');
  return chunks;
}

export function parseMarks(stdout: string, expected: number): string[] {
  const shas = stdout.split('\n').map((s) => s.trim()).filter((s) => /^[0-9a-f]{40,64}$/.test(s));
  if (shas.length !== expected) throw new Error(`fast-import returned ${shas.length} commit ids, expected ${expected}`);
  return shas;
}
