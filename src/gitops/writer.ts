/**
 * The single GitOps writer: every write to the GitOps repository goes through here.
 *
 * - A persistent bare clone in `cacheDir`; commits are built with `git fast-import` (only the trees on the changed
 *   paths are touched), never with a work tree.
 * - Group commit: `submit` enqueues; one loop takes everything queued, builds one commit per change chained on the
 *   remote tip, and pushes once (never forced). A rejected push means the remote moved: fetch, check the new commits
 *   for our release ids and for conflicting edits, rebuild on the new tip, push again (backoff + jitter).
 * - Exactly once: every commit carries `Ferry-Release-Id`; before writing, the remote history (bounded by notBefore)
 *   and an in-memory map of what this process pushed are searched for it.
 */
import { promises as fsp, existsSync, readFileSync, realpathSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import * as path from 'node:path';
import { GitCommandError, runGit, type GitRunOptions, type GitRunResult } from './git';
import { BATCH_REF, buildFastImportStream, parseMarks } from './fast-import';
import { type CommitSigning, signCommitChain } from './signing';
import { assertSafeDir, assertSafeExtraFiles, assertSafeFiles, dirsOverlap, pathInDir } from './paths';
import { blobId, emptyTreeId, treeIdForFiles, type HashAlgo } from './objects';
import { assertReleaseId, buildCommitMessage, oneLine, parseTrailerLog, TRAILER_LOG_FORMAT } from './trailers';
import { ConflictError, GitopsUnavailableError } from './errors';
import type { WriteFence, WriteLease } from './fence';

export { ConflictError, GitopsUnavailableError } from './errors';

export interface GitIdentity {
  name: string;
  email: string;
}

export interface AppChange {
  releaseId: string;
  /** The directory becomes exactly `files`. */
  dir: string;
  files: Record<string, string>;
  /**
   * Files outside `dir` the change also owns, by repository path: content to write, or null to delete. They must lie
   * in `dir`'s top-level directory (its environment). Like `dir`, they decide "unchanged", are checked for foreign
   * edits and keep changes that share them in order (e.g. `<env>/flux/<app>.yaml`, the app's Flux Kustomization).
   */
  extraFiles?: Record<string, string | null>;
  title: string;
  body?: string;
  trailers: Record<string, string>;
  author?: GitIdentity;
  notBefore?: string;
}

export interface CommitResult {
  commit: string;
  status: 'committed' | 'already-committed' | 'unchanged';
  pushedAt: string;
  batchSize: number;
}

export interface GitopsWriterOptions {
  remote: string;
  branch: string;
  cacheDir: string;
  committer: GitIdentity;
  pushTimeoutMs?: number;
  retry?: { maxElapsedMs: number; initialDelayMs: number; maxDelayMs: number };
  log?: (msg: string, fields?: object) => void;
  /**
   * Serialises writers of the same remote+branch across processes (see fence.ts). Without it, concurrent writers
   * are still correct (non-force push), but race and rebuild instead of taking turns.
   */
  fence?: WriteFence;
  /**
   * The remote is a bare repository on a local path (or `file://` URL) that this process may write: skip git's
   * transport. Commits are built straight into the remote's object store, the branch moves by a compare-and-swap
   * `update-ref` (as safe as a non-forced push), and the cache reads the remote's objects through
   * `objects/info/alternates` instead of fetching. The remote's receive hooks do not run (docs/gitops-scale.md).
   */
  directLocalWrite?: boolean;
  /** Sign every commit (signing.ts); unsigned when absent. */
  signing?: CommitSigning;
}

export interface GitopsWriterStats {
  /** batches taken from the queue */
  batches: number;
  /** release commits that landed on the remote branch through this writer */
  commits: number;
  /** successful pushes (with directLocalWrite: branch updates) */
  pushes: number;
  /** push attempts, including failed ones */
  pushAttempts: number;
  /** failed pushes after which the remote branch turned out to have moved (someone else pushed) */
  rejections: number;
  fetches: number;
  unchanged: number;
  alreadyCommitted: number;
  conflicts: number;
  /** write leases taken (one per batch when a fence is configured) */
  leases: number;
  /** leases granted after another writer held one (the branch was fetched first) */
  leaseHandovers: number;
}

/**
 * Commits for a release cannot be older than its notBefore. `git log --since` stops walking at the first older commit,
 * so the slack must cover clock skew between the machine that stamped notBefore and whoever committed above us.
 */
const NOT_BEFORE_SLACK_MS = 60 * 60_000;
/** Search window when the caller gives no notBefore. */
const DEFAULT_LOOKBACK_MS = 7 * 24 * 3600_000;
const MAX_BATCH = 500;
const MEMORY_LIMIT = 10_000;
const GC_EVERY_BATCHES = 50;
const LOCK_FILE = 'ferry-writer.lock';
/** directLocalWrite: a branch lock in the repository older than this was left by a process that died */
const STALE_BRANCH_LOCK_MS = 10 * 60_000;
const DEFAULT_RETRY = { maxElapsedMs: 5 * 60_000, initialDelayMs: 100, maxDelayMs: 5_000 };

interface Pending {
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

interface PushedEntry {
  commit: string;
  pushedAt: string;
  batchSize: number;
}

const openCacheDirs = new Set<string>();

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function cleanIdentity(who: GitIdentity, what: string): GitIdentity {
  const name = oneLine(String(who?.name ?? '')).replace(/[<>]/g, '');
  const email = oneLine(String(who?.email ?? '')).replace(/[<>\s]/g, '');
  if (!name) throw new Error(`${what} name must not be empty`);
  return { name, email };
}

/** `scheme://…` URLs and scp-like `host:path` remotes; anything else is a local path. */
function isRemoteUrl(remote: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(remote) || /^[^/]+:/.test(remote);
}

/** The local path of a `file://` URL or plain path remote; null for any other transport. */
export function localRemotePath(remote: string): string | null {
  if (/^file:\/\//i.test(remote)) {
    try {
      return path.resolve(decodeURIComponent(new URL(remote).pathname));
    } catch {
      return null;
    }
  }
  return isRemoteUrl(remote) ? null : path.resolve(remote);
}

/** Relative local paths are resolved against the process cwd (git runs inside cacheDir). */
function normaliseRemote(remote: string): string {
  return isRemoteUrl(remote) ? remote : path.resolve(remote);
}

export class GitopsWriter {
  readonly stats: GitopsWriterStats = {
    batches: 0,
    commits: 0,
    pushes: 0,
    pushAttempts: 0,
    rejections: 0,
    fetches: 0,
    unchanged: 0,
    alreadyCommitted: 0,
    conflicts: 0,
    leases: 0,
    leaseHandovers: 0,
  };

  private readonly remote: string;
  private readonly branch: string;
  private readonly cacheDir: string;
  private readonly committer: GitIdentity;
  private readonly pushTimeoutMs: number;
  private readonly retry: { maxElapsedMs: number; initialDelayMs: number; maxDelayMs: number };
  private readonly log: (msg: string, fields?: object) => void;
  private readonly trackingRef: string;
  private readonly fence: WriteFence | undefined;
  private readonly fenceKey: string;
  /** with directLocalWrite: the remote repository's path */
  private readonly direct: string | null;
  private readonly signing: CommitSigning | undefined;
  /** token of the last lease this writer held */
  private lastToken: bigint | null = null;

  private algo: HashAlgo = 'sha1';
  private initialized = false;
  private closing = false;
  private lockPath: string | null = null;
  private lockKey: string | null = null;

  private queue: Pending[] = [];
  private loopRunning = false;
  private loopDone: Promise<void> = Promise.resolve();

  /** last known remote tip (null = branch does not exist) and when it was known to be current (ms) */
  private tip: string | null = null;
  /** the branch existed at some point while this writer ran */
  private branchSeen = false;
  private tipConfirmedAt = 0;
  /** serialises fetches and tracking-ref updates */
  private refLock: Promise<unknown> = Promise.resolve();
  /** releaseId -> what this process pushed */
  private readonly pushed = new Map<string, PushedEntry>();
  /**
   * The base each undecided release was first planned on, kept across submissions: when an attempt gives up (remote
   * unavailable, activity timed out) and the activity retries, the retry must be judged against the base the first
   * attempt planned on, or a foreign edit of the dir made meanwhile would be silently replaced. Bounded; oldest first.
   */
  private readonly firstBases = new Map<string, string | null>();

  constructor(opts: GitopsWriterOptions) {
    if (!opts || !opts.remote || !opts.branch || !opts.cacheDir) throw new Error('remote, branch and cacheDir are required');
    this.remote = normaliseRemote(opts.remote);
    this.branch = opts.branch;
    this.cacheDir = path.resolve(opts.cacheDir);
    this.committer = cleanIdentity(opts.committer, 'committer');
    this.signing = opts.signing;
    this.pushTimeoutMs = opts.pushTimeoutMs ?? 120_000;
    this.retry = { ...DEFAULT_RETRY, ...(opts.retry ?? {}) };
    this.log = opts.log ?? (() => {});
    this.trackingRef = `refs/remotes/origin/${this.branch}`;
    this.fence = opts.fence;
    this.fenceKey = `${this.remote}#${this.branch}`;
    this.direct = null;
    if (opts.directLocalWrite) {
      this.direct = localRemotePath(this.remote);
      if (!this.direct) throw new Error(`directLocalWrite needs a local repository path, not ${this.remote}`);
    }
  }

  // ---------------------------------------------------------------------------------------------------------------
  // lifecycle

  async init(): Promise<void> {
    if (this.initialized) return;
    if (this.closing) throw new Error('GitopsWriter is closed');
    await runGit(['check-ref-format', `refs/heads/${this.branch}`]).catch(() => {
      throw new Error(`invalid branch name ${JSON.stringify(this.branch)}`);
    });
    await fsp.mkdir(this.cacheDir, { recursive: true });
    this.acquireLock();
    try {
      const isRepo = existsSync(path.join(this.cacheDir, 'HEAD')) && existsSync(path.join(this.cacheDir, 'objects'));
      if (!isRepo) {
        const entries = (await fsp.readdir(this.cacheDir)).filter((e) => e !== LOCK_FILE);
        if (entries.length > 0) throw new Error(`cacheDir ${this.cacheDir} is not empty and not a git repository`);
        await runGit(['-c', 'init.defaultBranch=ferry-unused', 'init', '--bare', '--quiet', this.cacheDir]);
        this.log('gitops.cache.created', { cacheDir: this.cacheDir });
      } else {
        const bare = (await this.git(['rev-parse', '--is-bare-repository'])).stdout.trim();
        if (bare !== 'true') throw new Error(`cacheDir ${this.cacheDir} is not a bare repository`);
      }
      this.removeStaleGitLocks();
      const settings: [string, string][] = [
        ['core.bare', 'true'],
        ['core.logAllRefUpdates', 'false'],
        ['remote.origin.url', this.remote],
        ['gc.autoDetach', 'false'],
        ['pack.useSparse', 'true'],
        ['fetch.writeCommitGraph', 'true'],
      ];
      for (const [k, v] of settings) await this.git(['config', k, v]);
      // no fetch refspec: only this class updates the tracking ref (under refLock)
      await this.git(['config', '--unset-all', 'remote.origin.fetch'], { okCodes: [0, 5] });
      const fmt = (await this.git(['rev-parse', '--show-object-format'])).stdout.trim();
      this.algo = fmt === 'sha256' ? 'sha256' : 'sha1';
      await this.linkRemoteObjects();
      if (this.direct) await this.removeStaleBranchLock(this.direct);
      await this.fetchTip();
      this.initialized = true;
      this.log('gitops.init', { remote: this.remote, branch: this.branch, tip: this.tip });
    } catch (e) {
      this.releaseLock();
      throw e;
    }
  }

  /** Stops accepting submits, lets queued changes finish, releases the cache directory. */
  async close(): Promise<void> {
    this.closing = true;
    while (this.loopRunning || this.queue.length > 0) {
      if (!this.loopRunning) this.kick();
      await this.loopDone;
    }
    await this.refLock.catch(() => {});
    this.releaseLock();
    this.initialized = false;
  }

  // ---------------------------------------------------------------------------------------------------------------
  // public operations

  submit(change: AppChange): Promise<CommitResult> {
    try {
      if (!this.initialized) throw new Error('GitopsWriter.init() must be called before submit()');
      if (this.closing) throw new Error('GitopsWriter is closed');
      const p = this.prepare(change);
      return new Promise<CommitResult>((resolve, reject) => {
        // Once decided (landed, or refused for a conflict) the remembered first base is dropped: a later submit of
        // the same release is a new decision, e.g. a person re-running it after resolving the conflict.
        p.resolve = (r) => {
          this.firstBases.delete(change.releaseId);
          resolve(r);
        };
        p.reject = (e) => {
          if (e instanceof ConflictError) this.firstBases.delete(change.releaseId);
          reject(e);
        };
        this.queue.push(p);
        this.kick();
      });
    } catch (e) {
      return Promise.reject(e);
    }
  }

  async findReleaseCommit(releaseId: string, notBefore?: string): Promise<string | null> {
    this.assertOpen();
    assertReleaseId(releaseId);
    const mem = this.pushed.get(releaseId);
    if (mem) return mem.commit;
    const from = this.searchFrom(notBefore);
    let fetchError: unknown = null;
    let tip: string | null;
    try {
      tip = await this.fetchTip();
    } catch (e) {
      fetchError = e; // fall back to what we know is on the remote
      tip = this.tip;
    }
    if (tip) {
      const found = await this.scanHistory(tip, null, from, new Set([releaseId]));
      const hit = found.get(releaseId);
      if (hit) return hit.sha;
    }
    if (fetchError) throw fetchError;
    return null;
  }

  async isAncestor(commit: string, of: string): Promise<boolean> {
    this.assertOpen();
    for (const c of [commit, of]) {
      if (typeof c !== 'string' || !/^[0-9a-f]{4,64}$/i.test(c)) throw new Error(`not a commit id: ${JSON.stringify(c)}`);
    }
    let r = await this.isAncestorLocal(commit, of);
    if (r === null) {
      await this.fetchTip();
      r = await this.isAncestorLocal(commit, of);
    }
    if (r === null) {
      this.log('gitops.isAncestor.unknown', { commit, of });
      return false;
    }
    return r;
  }

  // ---------------------------------------------------------------------------------------------------------------
  // queue and batch loop

  private prepare(change: AppChange): Pending {
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
    const author = change.author ? cleanIdentity(change.author, 'author') : this.committer;
    return {
      change: { ...change, files, extraFiles },
      message,
      author,
      desiredTree: treeIdForFiles(this.algo, files),
      desiredExtras: extraPaths.map((p) => ({ path: p, blob: extraFiles[p] === null ? null : blobId(this.algo, extraFiles[p]!) })),
      owned: [change.dir, ...extraPaths],
      searchFrom: this.searchFrom(change.notBefore),
      enqueuedAt: Date.now(),
      firstBase: null,
      done: false,
      dups: [],
      resolve: () => {},
      reject: () => {},
    };
  }

  private kick(): void {
    if (this.loopRunning) return;
    this.loopRunning = true;
    // setImmediate: submits issued in the same tick share the first batch
    this.loopDone = new Promise<void>((r) => setImmediate(r))
      .then(() => this.loop())
      .catch((e) => this.log('gitops.loop.crashed', { error: String(e) }))
      .finally(() => {
        this.loopRunning = false;
        if (this.queue.length > 0) this.kick();
      });
  }

  private async loop(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.takeBatch();
      try {
        await this.runBatch(batch);
      } catch (e) {
        // runBatch settles its items itself; this is a last resort so no promise is left hanging
        const err = e instanceof Error ? e : new Error(String(e));
        for (const p of batch) if (!p.done) this.fail(p, err);
      }
      if (this.stats.batches % GC_EVERY_BATCHES === 0) await this.maybeGc();
    }
  }

  /** Everything queued, except changes whose paths overlap an earlier one's (those wait for the next batch, in order). */
  private takeBatch(): Pending[] {
    const batch: Pending[] = [];
    const rest: Pending[] = [];
    const byId = new Map<string, Pending>();
    for (const p of this.queue) {
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
    this.queue = rest;
    return batch;
  }

  private async runBatch(items: Pending[]): Promise<void> {
    this.stats.batches++;
    const started = Date.now();
    let active = items.filter((p) => !this.resolveFromMemory(p));
    let base: string | null = null;
    let based = false; // base established and history searched
    let attempt = 0;
    let lastError: unknown = null;
    let lease: WriteLease | null = null;
    let othersWrote = false;
    this.log('gitops.batch.start', { size: items.length });

    try {
      while (active.length > 0) {
        try {
          if (this.fence && !lease) {
            lease = await this.fence.acquire(this.fenceKey);
            this.stats.leases++;
            othersWrote = this.lastToken === null || lease.token !== this.lastToken + 1n;
            if (othersWrote && this.lastToken !== null) this.stats.leaseHandovers++;
            this.lastToken = lease.token;
            if (othersWrote && based) {
              // re-acquired mid-batch: catch up with whatever the other holder pushed, as after a rejection
              const newTip = await this.fetchTip();
              if (newTip !== base) {
                if (newTip) await this.resolveFromHistory(active, newTip, base, 0);
                active = active.filter((p) => !p.done);
                base = newTip;
                if (active.length === 0) return;
              }
            }
          }
          if (!based) {
            // The base must reflect the remote as of after every change was submitted: then "a foreign commit
            // between base and the pushed tip touched the dir" means a real concurrent edit. Another replica
            // holding the lease since our last batch has most likely moved the branch too.
            if (othersWrote || active.some((p) => p.enqueuedAt > this.tipConfirmedAt)) await this.fetchTip();
            base = this.tip;
            if (base) await this.resolveFromHistory(active, base, null, 0);
            active = active.filter((p) => !p.done);
            for (const p of active) p.firstBase = this.rememberFirstBase(p.change.releaseId, base);
            based = true;
            continue;
          }

          const { unchanged, conflicts } = await this.plan(base, active);
          for (const [p, files] of conflicts) {
            this.stats.conflicts++;
            this.fail(
              p,
              new ConflictError(
                `release ${p.change.releaseId}: ${p.owned.length > 1 ? `${p.change.dir} (with ${p.owned.slice(1).join(', ')})` : p.change.dir} was changed by another commit after the release was ` +
                  `submitted (${files.join(', ')}); not overwriting it`,
                files,
                { releaseId: p.change.releaseId, dir: p.change.dir },
              ),
            );
          }
          active = active.filter((p) => !p.done);
          const toCommit = active.filter((p) => !unchanged.has(p));
          if (toCommit.length === 0) {
            const now = new Date().toISOString();
            for (const p of active) this.settleUnchanged(p, base, now, 0);
            return;
          }

          if (base === null && this.branchSeen) {
            // never recreate a deleted branch from scratch: Flux would prune everything not in our commits
            throw new Error(`remote branch ${this.branch} disappeared; refusing to recreate it`);
          }
          const shas = await this.buildCommits(base, toCommit);
          toCommit.forEach((p, i) => (p.builtSha = shas[i]));
          const last = shas[shas.length - 1]!;
          if (lease) {
            try {
              await lease.check();
            } catch (e) {
              const lost = lease;
              lease = null;
              await lost.release().catch(() => undefined);
              throw e;
            }
          }
          const pushError = await this.push(last, base);
          if (!pushError) {
            const pushedAt = new Date().toISOString();
            for (const p of toCommit) this.settleCommitted(p, pushedAt, toCommit.length);
            for (const p of active) if (!p.done) this.settleUnchanged(p, last, pushedAt, toCommit.length);
            this.log('gitops.batch.pushed', { commits: toCommit.length, tip: last, attempts: attempt + 1, token: lease ? String(lease.token) : undefined });
            return;
          }

          lastError = pushError;
          const newTip = await this.fetchTip();
          if (newTip !== base) {
            // Someone else pushed (or our push landed although it reported failure). Our releases may be in the
            // new commits; everything else is rebuilt on the new tip.
            this.stats.rejections++;
            this.log('gitops.push.rejected', { base, newTip, pending: active.length });
            // a push that reported failure may still have landed (e.g. timeout after the remote updated the ref)
            if (newTip && (await this.resolveFromHistory(active, newTip, base, toCommit.length)) > 0) this.stats.pushes++;
            active = active.filter((p) => !p.done);
            base = newTip;
            if (active.length === 0) return;
          } else {
            this.log('gitops.push.failed', { error: String(pushError), attempt: attempt + 1 });
          }
        } catch (e) {
          lastError = e;
          this.log('gitops.batch.error', { error: String(e), attempt: attempt + 1 });
        }

        attempt++;
        const delay = this.backoff(attempt);
        const elapsed = Date.now() - started;
        if (elapsed + delay > this.retry.maxElapsedMs) {
          const reason = lastError instanceof Error ? lastError.message : String(lastError ?? 'remote branch kept moving');
          const err = new GitopsUnavailableError(
            `could not write to ${this.remote} (branch ${this.branch}) within ${this.retry.maxElapsedMs} ms after ` +
              `${attempt} attempts: ${reason}`,
            { attempts: attempt, elapsedMs: elapsed, cause: lastError ?? undefined },
          );
          for (const p of active) this.fail(p, err);
          return;
        }
        await sleep(delay);
      }
    } finally {
      if (lease) await lease.release().catch((e) => this.log('gitops.lease.releaseFailed', { error: String(e) }));
    }
  }

  private rememberFirstBase(releaseId: string, base: string | null): string | null {
    if (this.firstBases.has(releaseId)) return this.firstBases.get(releaseId) ?? null;
    this.firstBases.set(releaseId, base);
    if (this.firstBases.size > 10_000) this.firstBases.delete(this.firstBases.keys().next().value as string);
    return base;
  }

  /** Which changes leave their paths unchanged on `base`, and which collide with foreign edits since their firstBase. */
  private async plan(
    base: string | null,
    active: Pending[],
  ): Promise<{ unchanged: Set<Pending>; conflicts: Map<Pending, string[]> }> {
    const unchanged = new Set<Pending>();
    const conflicts = new Map<Pending, string[]>();
    const current = await this.pathObjects(base, [...new Set(active.flatMap((p) => p.owned))]);
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
      const out = await this.git([
        'diff-tree', '-r', '-z', '--name-only', '--no-renames', from || emptyTreeId(this.algo), base!, '--',
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

  // ---------------------------------------------------------------------------------------------------------------
  // settling

  private settle(p: Pending, r: CommitResult): void {
    if (p.done) return;
    p.done = true;
    p.resolve(r);
    for (const d of p.dups) {
      d.done = true;
      d.resolve(r);
    }
  }

  private fail(p: Pending, e: Error): void {
    if (p.done) return;
    p.done = true;
    p.reject(e);
    for (const d of p.dups) {
      d.done = true;
      d.reject(e);
    }
  }

  private remember(releaseId: string, entry: PushedEntry): void {
    this.pushed.delete(releaseId);
    this.pushed.set(releaseId, entry);
    if (this.pushed.size > MEMORY_LIMIT) this.pushed.delete(this.pushed.keys().next().value!);
  }

  private settleCommitted(p: Pending, pushedAt: string, batchSize: number): void {
    const commit = p.builtSha!;
    this.remember(p.change.releaseId, { commit, pushedAt, batchSize });
    this.stats.commits++;
    this.settle(p, { commit, status: 'committed', pushedAt, batchSize });
  }

  private settleUnchanged(p: Pending, tip: string | null, at: string, batchSize: number): void {
    this.stats.unchanged++;
    this.settle(p, { commit: tip ?? this.zeroId(), status: 'unchanged', pushedAt: at, batchSize });
  }

  private resolveFromMemory(p: Pending): boolean {
    const mem = this.pushed.get(p.change.releaseId);
    if (!mem) return false;
    this.stats.alreadyCommitted++;
    this.settle(p, { commit: mem.commit, status: 'already-committed', pushedAt: mem.pushedAt, batchSize: mem.batchSize });
    return true;
  }

  /**
   * Settles the changes whose release id is carried by a commit reachable from `tip` (but not from `exclude`),
   * searching back no further than the oldest change's notBefore window. A hit on a commit we built ourselves means
   * our push landed although it reported failure.
   */
  private async resolveFromHistory(
    active: Pending[],
    tip: string,
    exclude: string | null,
    roundSize: number,
  ): Promise<number> {
    if (active.length === 0) return 0;
    let ownHits = 0;
    const from = Math.min(...active.map((p) => p.searchFrom));
    const found = await this.scanHistory(tip, exclude, from, new Set(active.map((p) => p.change.releaseId)));
    for (const p of active) {
      const hit = found.get(p.change.releaseId);
      if (!hit) continue;
      if (hit.sha === p.builtSha) {
        ownHits++;
        this.settleCommitted(p, new Date().toISOString(), roundSize);
      } else {
        this.stats.alreadyCommitted++;
        this.settle(p, {
          commit: hit.sha,
          status: 'already-committed',
          pushedAt: new Date(hit.committedAt * 1000).toISOString(),
          batchSize: 0,
        });
      }
    }
    return ownHits;
  }

  // ---------------------------------------------------------------------------------------------------------------
  // git operations

  private git(args: readonly string[], opts: GitRunOptions = {}): Promise<GitRunResult> {
    return runGit(args, { gitDir: this.cacheDir, ...opts });
  }

  private withRefLock<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.refLock.then(fn, fn);
    this.refLock = run.catch(() => {});
    return run;
  }

  /**
   * The remote tip (null when the branch does not exist), fetched into the tracking ref; with directLocalWrite read
   * from the remote repository itself, whose objects the cache already sees.
   */
  private fetchTip(): Promise<string | null> {
    return this.withRefLock(async () => {
      const started = Date.now();
      this.stats.fetches++;
      const fetched = this.direct ? await this.readRef(this.direct, `refs/heads/${this.branch}`) : await this.fetchTrackingRef();
      // a push that completed while this fetch was running knows better
      if (started >= this.tipConfirmedAt) {
        this.tip = fetched;
        this.tipConfirmedAt = started;
      }
      if (fetched) this.branchSeen = true;
      return fetched;
    });
  }

  private async fetchTrackingRef(): Promise<string | null> {
    try {
      await this.git(
        [
          'fetch', '--quiet', '--no-tags', '--no-write-fetch-head', '--no-recurse-submodules', '--no-auto-gc',
          'origin', `+refs/heads/${this.branch}:${this.trackingRef}`,
        ],
        { timeoutMs: this.pushTimeoutMs },
      );
    } catch (e) {
      if (e instanceof GitCommandError && /couldn't find remote ref/i.test(e.stderr)) {
        await this.git(['update-ref', '-d', this.trackingRef]);
        return null;
      }
      throw e;
    }
    return this.readRef(this.cacheDir, this.trackingRef);
  }

  /**
   * With directLocalWrite the cache borrows the remote's objects (alternates), so it never fetches. Without, a link
   * left by an earlier direct run is removed, and with it the cache refs that may name objects only the remote has.
   */
  private async linkRemoteObjects(): Promise<void> {
    const file = path.join(this.cacheDir, 'objects', 'info', 'alternates');
    const current = existsSync(file) ? readFileSync(file, 'utf8').trim() : '';
    if (this.direct) {
      const objects = path.join(this.direct, 'objects');
      if (!existsSync(path.join(this.direct, 'HEAD')) || !existsSync(objects)) {
        throw new Error(`directLocalWrite: ${this.direct} is not a bare git repository`);
      }
      if (current !== objects) {
        await fsp.mkdir(path.dirname(file), { recursive: true });
        await fsp.writeFile(file, `${objects}\n`);
      }
      return;
    }
    if (!current) return;
    for (const ref of [this.trackingRef, BATCH_REF]) await this.git(['update-ref', '-d', ref]);
    await fsp.unlink(file);
  }

  /**
   * Moves the remote branch from `base` to `commit`. Returns null on success, the error otherwise (the caller
   * decides by fetching whether the remote moved).
   */
  private async push(commit: string, base: string | null): Promise<Error | null> {
    this.stats.pushAttempts++;
    try {
      if (this.direct) {
        // the expected old value makes this a compare-and-swap under the ref's lock, like receive-pack's own update
        await runGit(['update-ref', '-m', 'ferry: push', `refs/heads/${this.branch}`, commit, base ?? this.zeroId()], {
          gitDir: this.direct,
          timeoutMs: this.pushTimeoutMs,
        });
      } else {
        await this.git(['push', '--porcelain', '--no-verify', 'origin', `${commit}:refs/heads/${this.branch}`], {
          timeoutMs: this.pushTimeoutMs,
        });
      }
    } catch (e) {
      return e instanceof Error ? e : new Error(String(e));
    }
    this.stats.pushes++;
    this.branchSeen = true;
    this.tip = commit;
    this.tipConfirmedAt = Date.now();
    if (this.direct) return null;
    // Persisting the tracking ref only saves a restarted process a little work (it fetches first anyway), so it is
    // not awaited; the pushed commits stay reachable from BATCH_REF meanwhile.
    void this.withRefLock(() => this.git(['update-ref', this.trackingRef, commit])).catch((e) =>
      this.log('gitops.trackingRef.updateFailed', { error: String(e) }),
    );
    return null;
  }

  /**
   * A ref's commit in `gitDir` (the cache's tracking ref, or with directLocalWrite the remote's branch), read from
   * its loose file when there is one (no process), else by `rev-parse` there; null when absent.
   */
  private async readRef(gitDir: string, ref: string): Promise<string | null> {
    try {
      const loose = (await fsp.readFile(path.join(gitDir, ref), 'utf8')).trim();
      if (/^[0-9a-f]{40}([0-9a-f]{24})?$/.test(loose)) return loose;
    } catch {
      /* packed, absent, or the repository is unreachable: rev-parse tells which */
    }
    const out = await runGit(['rev-parse', '-q', '--verify', `${ref}^{commit}`], { gitDir, okCodes: [0, 1], timeoutMs: this.pushTimeoutMs });
    return out.stdout.trim() || null;
  }

  /** One fast-import run: one commit per change, chained on `base`. Returns the commit ids in order. */
  private async buildCommits(base: string | null, changes: Pending[]): Promise<string[]> {
    const time = Math.floor(Date.now() / 1000);
    const stream = buildFastImportStream(
      base,
      changes.map((p) => ({
        dir: p.change.dir,
        files: p.change.files,
        extraFiles: p.change.extraFiles,
        message: p.message,
        author: p.author,
        committer: this.committer,
        time,
      })),
    );
    try {
      // directLocalWrite: the objects go straight into the remote's store; only BATCH_REF stays in the cache
      const env = this.direct ? { GIT_OBJECT_DIRECTORY: path.join(this.direct, 'objects') } : undefined;
      const out = await this.git(['fast-import', '--quiet', '--force', '--done'], { input: stream, env });
      const shas = parseMarks(out.stdout, changes.length);
      if (!this.signing) return shas;
      const signed = await signCommitChain((a, o) => this.git(a, o), shas, this.signing, env);
      // What gets pushed must stay reachable until the tracking ref moves (see push()).
      await this.git(['update-ref', BATCH_REF, signed[signed.length - 1]!]);
      return signed;
    } catch (e) {
      await this.removeCrashReports();
      throw e;
    }
  }

  /** `<base>:<path>` for each path: tree/blob id, or null when absent. */
  private async pathObjects(base: string | null, paths: string[]): Promise<Map<string, { type: string; id: string } | null>> {
    const res = new Map<string, { type: string; id: string } | null>();
    if (!base || paths.length === 0) {
      for (const p of paths) res.set(p, null);
      return res;
    }
    const out = await this.git(['cat-file', '--batch-check=%(objectname) %(objecttype)'], {
      input: paths.map((p) => `${base}:${p}\n`).join(''),
    });
    const lines = out.stdout.split('\n');
    paths.forEach((p, i) => {
      const m = /^([0-9a-f]{40,64}) (\w+)$/.exec(lines[i] ?? '');
      res.set(p, m ? { id: m[1]!, type: m[2]! } : null);
    });
    return res;
  }

  /** releaseId -> oldest commit carrying it, among commits reachable from tip (not from exclude) newer than `from`. */
  private async scanHistory(
    tip: string,
    exclude: string | null,
    from: number,
    ids: Set<string>,
  ): Promise<Map<string, { sha: string; committedAt: number }>> {
    const since = new Date(Math.floor(from / 1000) * 1000).toISOString().replace(/\.000Z$/, ' +0000').replace('T', ' ');
    const args = ['log', '-z', TRAILER_LOG_FORMAT, `--since=${since}`, tip];
    if (exclude) args.push(`^${exclude}`);
    const out = await this.git(args);
    const found = new Map<string, { sha: string; committedAt: number }>();
    for (const c of parseTrailerLog(out.stdout)) {
      for (const id of c.releaseIds) if (ids.has(id)) found.set(id, { sha: c.sha, committedAt: c.committedAt });
    }
    return found;
  }

  private async isAncestorLocal(commit: string, of: string): Promise<boolean | null> {
    try {
      const r = await this.git(['merge-base', '--is-ancestor', commit, of], { okCodes: [0, 1] });
      return r.code === 0;
    } catch (e) {
      if (e instanceof GitCommandError && e.code === 128) return null; // unknown object
      throw e;
    }
  }

  /**
   * Packs loose objects now and then. With directLocalWrite that is the remote's job (each batch adds a pack there,
   * and no receive-pack runs its `gc --auto`); the cache then holds nothing but refs.
   */
  private async maybeGc(): Promise<void> {
    try {
      if (this.direct) {
        await runGit(['-c', 'gc.autoDetach=false', 'gc', '--auto', '--quiet'], { gitDir: this.direct });
        return;
      }
      await this.withRefLock(() => this.git(['gc', '--auto', '--quiet']));
    } catch (e) {
      this.log('gitops.gc.failed', { error: String(e) });
    }
  }

  // ---------------------------------------------------------------------------------------------------------------
  // helpers

  private backoff(attempt: number): number {
    const cap = Math.min(this.retry.maxDelayMs, this.retry.initialDelayMs * 2 ** Math.min(attempt - 1, 30));
    return Math.round(cap / 2 + (Math.random() * cap) / 2);
  }

  private searchFrom(notBefore?: string): number {
    if (notBefore === undefined) return Date.now() - DEFAULT_LOOKBACK_MS;
    const t = Date.parse(notBefore);
    if (Number.isNaN(t)) throw new Error(`notBefore is not an ISO time: ${JSON.stringify(notBefore)}`);
    return t - NOT_BEFORE_SLACK_MS;
  }

  private zeroId(): string {
    return '0'.repeat(this.algo === 'sha256' ? 64 : 40);
  }

  private assertOpen(): void {
    if (!this.initialized) throw new Error('GitopsWriter.init() must be called first');
  }

  /** One writer per cache directory: a lock file with pid and host, taken over when its owner is gone. */
  private acquireLock(): void {
    const key = realpathSync(this.cacheDir);
    if (openCacheDirs.has(key)) throw new Error(`cacheDir ${this.cacheDir} is already used by another GitopsWriter`);
    const lockPath = path.join(this.cacheDir, LOCK_FILE);
    const me = { pid: process.pid, host: hostname() };
    if (existsSync(lockPath)) {
      let owner: { pid?: number; host?: string } = {};
      try {
        owner = JSON.parse(readFileSync(lockPath, 'utf8')) as typeof owner;
      } catch {
        /* unreadable: treat as stale */
      }
      if (owner.host === me.host && typeof owner.pid === 'number' && owner.pid !== me.pid && pidAlive(owner.pid)) {
        throw new Error(`cacheDir ${this.cacheDir} is in use by process ${owner.pid}`);
      }
      if (owner.host && owner.host !== me.host) {
        this.log('gitops.cache.lock.takeover', { previousOwner: owner });
      }
    }
    writeFileSync(lockPath, JSON.stringify({ ...me, since: new Date().toISOString() }) + '\n');
    openCacheDirs.add(key);
    this.lockPath = lockPath;
    this.lockKey = key;
  }

  private releaseLock(): void {
    if (this.lockKey) openCacheDirs.delete(this.lockKey);
    if (this.lockPath) {
      try {
        unlinkSync(this.lockPath);
      } catch {
        /* ignore */
      }
    }
    this.lockKey = null;
    this.lockPath = null;
  }

  /** Git lock files left behind by a killed process would block every later fetch/update. We own this repo. */
  private removeStaleGitLocks(): void {
    const candidates = [
      path.join(this.cacheDir, `${this.trackingRef}.lock`),
      path.join(this.cacheDir, `${BATCH_REF}.lock`),
      path.join(this.cacheDir, 'packed-refs.lock'),
      path.join(this.cacheDir, 'shallow.lock'),
      path.join(this.cacheDir, 'config.lock'),
    ];
    for (const f of candidates) {
      try {
        unlinkSync(f);
        this.log('gitops.cache.staleLockRemoved', { file: f });
      } catch {
        /* not there */
      }
    }
  }

  /**
   * A branch update holds `<branch>.lock` for milliseconds; one left by a machine that went down mid-update would
   * refuse every later update of the branch. Only a lock old enough that no live update can own it is removed.
   */
  private async removeStaleBranchLock(repo: string): Promise<void> {
    const lock = path.join(repo, 'refs', 'heads', `${this.branch}.lock`);
    try {
      const age = Date.now() - (await fsp.stat(lock)).mtimeMs;
      if (age < STALE_BRANCH_LOCK_MS) return;
      await fsp.unlink(lock);
      this.log('gitops.remote.staleLockRemoved', { file: lock, ageMs: Math.round(age) });
    } catch {
      /* not there */
    }
  }

  private async removeCrashReports(): Promise<void> {
    try {
      for (const f of await fsp.readdir(this.cacheDir)) {
        if (f.startsWith('fast_import_crash_')) await fsp.unlink(path.join(this.cacheDir, f)).catch(() => {});
      }
    } catch {
      /* ignore */
    }
  }
}

/** Two changes must not share a batch when a path one owns equals or contains a path the other owns. */
function ownsOverlap(a: Pending, b: Pending): boolean {
  return a.owned.some((x) => b.owned.some((y) => dirsOverlap(x, y)));
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
