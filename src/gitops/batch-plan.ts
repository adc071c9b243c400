/**
 * Planning a batch: a submitted change becomes a queued `Pending` (validated, its message rendered, the tree and blob
 * ids it must leave behind computed in-process); the queue is cut into a batch of changes owning disjoint paths; and
 * on a base commit each change turns out unchanged, in conflict with a foreign edit, or to be committed.
 */
import type { RepoGit } from './git';
import { assertSafeDir, assertSafeExtraFiles, assertSafeFiles, dirsOverlap, pathInDir } from './paths';
import { blobId, emptyTreeId, treeIdForFiles, type HashAlgo } from './objects';
import { assertReleaseId, buildCommitMessage, oneLine } from './trailers';
import { ConflictError } from './errors';
import type { AppChange, CommitResult, GitIdentity } from './writer-types';

/**
 * Commits for a release cannot be older than its notBefore. `git log --since` stops walking at the first older commit,
 * so the slack must cover clock skew between the machine that stamped notBefore and whoever committed above us.
 */
const NOT_BEFORE_SLACK_MS = 60 * 60_000;
/** Search window when the caller gives no notBefore. */
const DEFAULT_LOOKBACK_MS = 7 * 24 * 3600_000;
const MAX_BATCH = 500;

/** A submitted change waiting in the writer's queue, until it is settled. */
export interface Pending {
  change: AppChange;
  message: string;
  author: GitIdentity;
  /** tree id the directory must end up with; null = directory absent */
  desiredTree: string | null;
  /** blob id each extra file must end up with; null = absent */
  desiredExtras: Array<{ path: string; blob: string | null }>;
  /** dir and extra file paths: what the change replaces, and what a foreign edit of is a conflict */
  owned: string[];
  /** earliest committer time a commit for this release can have (ms) */
  searchFrom: number;
  enqueuedAt: number;
  /** remote tip the change was first planned on; foreign edits of the dir after it are conflicts */
  firstBase: string | null;
  builtSha?: string;
  done: boolean;
  dups: Pending[];
  resolve: (r: CommitResult) => void;
  reject: (e: Error) => void;
}

export function cleanIdentity(who: GitIdentity, what: string): GitIdentity {
  const name = oneLine(String(who?.name ?? '')).replace(/[<>]/g, '');
  const email = oneLine(String(who?.email ?? '')).replace(/[<>\s]/g, '');
  if (!name) throw new Error(`${what} name must not be empty`);
  return { name, email };
}

/** The earliest committer time (ms) a commit for a release with this notBefore can have. */
export function searchFrom(notBefore?: string): number {
  if (notBefore === undefined) return Date.now() - DEFAULT_LOOKBACK_MS;
  const t = Date.parse(notBefore);
  if (Number.isNaN(t)) throw new Error(`notBefore is not an ISO time: ${JSON.stringify(notBefore)}`);
  return t - NOT_BEFORE_SLACK_MS;
}

/** Validates a change and renders what the batch needs of it; throws before anything is queued. */
export function prepareChange(change: AppChange, algo: HashAlgo, committer: GitIdentity): Pending {
  if (!change || typeof change !== 'object') throw new Error('change must be an object');
  assertReleaseId(change.releaseId);
  assertSafeDir(change.dir);
  assertSafeFiles(change.dir, change.files);
  if (change.extraFiles !== undefined) assertSafeExtraFiles(change.dir, change.extraFiles);
  if (change.notBefore !== undefined && Number.isNaN(Date.parse(change.notBefore))) {
    throw new Error(`notBefore is not an ISO time: ${JSON.stringify(change.notBefore)}`);
  }
  const files = { ...change.files };
  const extraFiles = { ...(change.extraFiles ?? {}) };
  const extraPaths = Object.keys(extraFiles).sort();
  const message = buildCommitMessage({
    title: change.title,
    body: change.body,
    trailers: change.trailers ?? {},
    releaseId: change.releaseId,
  });
  const author = change.author ? cleanIdentity(change.author, 'author') : committer;
  return {
    change: { ...change, files, extraFiles },
    message,
    author,
    desiredTree: treeIdForFiles(algo, files),
    desiredExtras: extraPaths.map((p) => ({ path: p, blob: extraFiles[p] === null ? null : blobId(algo, extraFiles[p]!) })),
    owned: [change.dir, ...extraPaths],
    searchFrom: searchFrom(change.notBefore),
    enqueuedAt: Date.now(),
    firstBase: null,
    done: false,
    dups: [],
    resolve: () => {},
    reject: () => {},
  };
}

/**
 * Everything queued, except changes whose paths overlap an earlier one's (those stay in `rest`, in order). A change
 * whose release id is already in the batch rides along as a duplicate of the first one.
 */
export function takeBatch(queue: readonly Pending[]): { batch: Pending[]; rest: Pending[] } {
  const batch: Pending[] = [];
  const rest: Pending[] = [];
  const byId = new Map<string, Pending>();
  for (const p of queue) {
    const primary = byId.get(p.change.releaseId);
    if (primary) {
      primary.dups.push(p);
      continue;
    }
    const blocked =
      batch.length >= MAX_BATCH ||
      batch.some((b) => ownsOverlap(b, p)) ||
      rest.some((r) => ownsOverlap(r, p));
    if (blocked) rest.push(p);
    else {
      batch.push(p);
      byId.set(p.change.releaseId, p);
    }
  }
  return { batch, rest };
}

/** Two changes must not share a batch when a path one owns equals or contains a path the other owns. */
function ownsOverlap(a: Pending, b: Pending): boolean {
  return a.owned.some((x) => b.owned.some((y) => dirsOverlap(x, y)));
}

/** Which changes leave their paths unchanged on `base`, and which collide with foreign edits since their firstBase. */
export async function planBatch(
  git: RepoGit,
  algo: HashAlgo,
  base: string | null,
  active: readonly Pending[],
): Promise<{ unchanged: Set<Pending>; conflicts: Map<Pending, string[]> }> {
  const unchanged = new Set<Pending>();
  const conflicts = new Map<Pending, string[]>();
  const current = await pathObjects(git, base, [...new Set(active.flatMap((p) => p.owned))]);
  const needDiff = new Map<string, Pending[]>();
  for (const p of active) {
    const cur = current.get(p.change.dir) ?? null;
    const same =
      (p.desiredTree === null ? cur === null : cur?.type === 'tree' && cur.id === p.desiredTree) &&
      p.desiredExtras.every((e) => {
        const now = current.get(e.path) ?? null;
        return e.blob === null ? now === null : now?.type === 'blob' && now.id === e.blob;
      });
    if (same) unchanged.add(p);
    else if (p.firstBase !== base && base !== null) {
      const key = p.firstBase ?? '';
      const list = needDiff.get(key) ?? [];
      list.push(p);
      needDiff.set(key, list);
    }
  }
  for (const [from, list] of needDiff) {
    const out = await git([
      'diff-tree', '-r', '-z', '--name-only', '--no-renames', from || emptyTreeId(algo), base!, '--',
      ...new Set(list.flatMap((p) => p.owned)),
    ]);
    const paths = out.stdout.split('\0').filter(Boolean);
    for (const p of list) {
      const files = paths.filter((f) => p.owned.some((o) => pathInDir(f, o)));
      if (files.length > 0) conflicts.set(p, files);
    }
  }
  return { unchanged, conflicts };
}

/** `<base>:<path>` for each path: tree/blob id, or null when absent. */
async function pathObjects(
  git: RepoGit,
  base: string | null,
  paths: string[],
): Promise<Map<string, { type: string; id: string } | null>> {
  const res = new Map<string, { type: string; id: string } | null>();
  if (!base || paths.length === 0) {
    for (const p of paths) res.set(p, null);
    return res;
  }
  const out = await git(['cat-file', '--batch-check=%(objectname) %(objecttype)'], {
    input: paths.map((p) => `${base}:${p}\n`).join(''),
  });
  const lines = out.stdout.split('\n');
  paths.forEach((p, i) => {
    const m = /^([0-9a-f]{40,64}) (\w+)$/.exec(lines[i] ?? '');
    res.set(p, m ? { id: m[1]!, type: m[2]! } : null);
  });
  return res;
}

/** The refusal of a change whose paths someone else edited after it was submitted. */
export function conflictError(p: Pending, files: string[]): ConflictError {
  return new ConflictError(
    `release ${p.change.releaseId}: ${p.owned.length > 1 ? `${p.change.dir} (with ${p.owned.slice(1).join(', ')})` : p.change.dir} was changed by another commit after the release was ` +
      `submitted (${files.join(', ')}); not overwriting it`,
    files,
    { releaseId: p.change.releaseId, dir: p.change.dir },
  );
}
