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
 *
 * This file holds the queue, the batch loop and how changes are settled. Beside it: batch-plan.ts (a change made
 * ready, cut into batches, judged unchanged or in conflict), commit-builder.ts (fast-import, signing),
 * remote-branch.ts (the tip, fetch, push or direct update), release-history.ts (release ids in the history) and
 * housekeeping.ts (the cache directory's lock, setup, leftovers, gc).
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { runGit, type RepoGit } from './git';
import type { HashAlgo } from './objects';
import { assertReleaseId } from './trailers';
import { ConflictError, GitopsUnavailableError } from './errors';
import type { WriteFence, WriteLease } from './fence';
import type { CommitSigning } from './signing';
import { cleanIdentity, conflictError, planBatch, prepareChange, searchFrom, takeBatch, type Pending } from './batch-plan';
import { buildCommits, type CommitBuilder } from './commit-builder';
import { isAncestorLocal, scanHistory } from './release-history';
import { localRemotePath, normaliseRemote, RemoteBranch } from './remote-branch';
import { acquireCacheLock, collectGarbage, openCacheRepo, releaseCacheLock, removeStaleBranchLock, type CacheLock } from './housekeeping';
import type { AppChange, CommitResult, GitIdentity, GitopsWriterOptions, GitopsWriterStats } from './writer-types';

export { ConflictError, GitopsUnavailableError } from './errors';
export { localRemotePath } from './remote-branch';
export type { AppChange, CommitResult, GitIdentity, GitopsWriterOptions, GitopsWriterStats } from './writer-types';

const MEMORY_LIMIT = 10_000;
const GC_EVERY_BATCHES = 50;
const DEFAULT_RETRY = { maxElapsedMs: 5 * 60_000, initialDelayMs: 100, maxDelayMs: 5_000 };

interface PushedEntry {
  commit: string;
  pushedAt: string;
  batchSize: number;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
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
  private cacheLock: CacheLock | null = null;

  private queue: Pending[] = [];
  private loopRunning = false;
  private loopDone: Promise<void> = Promise.resolve();

  private readonly remoteBranch: RemoteBranch;
  private readonly builder: CommitBuilder;
  /** git in the cache repository */
  private readonly git: RepoGit = (args, opts = {}) => runGit(args, { gitDir: this.cacheDir, ...opts });
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
    this.fence = opts.fence;
    this.fenceKey = `${this.remote}#${this.branch}`;
    this.direct = null;
    if (opts.directLocalWrite) {
      this.direct = localRemotePath(this.remote);
      if (!this.direct) throw new Error(`directLocalWrite needs a local repository path, not ${this.remote}`);
    }
    this.remoteBranch = new RemoteBranch({
      git: this.git,
      cacheDir: this.cacheDir,
      branch: this.branch,
      direct: this.direct,
      timeoutMs: this.pushTimeoutMs,
      stats: this.stats,
      log: this.log,
    });
    this.builder = { git: this.git, cacheDir: this.cacheDir, direct: this.direct, committer: this.committer, signing: this.signing };
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
    this.cacheLock = acquireCacheLock(this.cacheDir, this.log);
    try {
      this.algo = await openCacheRepo(this.git, this.cacheDir, this.remote, this.remoteBranch.trackingRef, this.log);
      await this.remoteBranch.linkRemoteObjects();
      if (this.direct) await removeStaleBranchLock(this.direct, this.branch, this.log);
      await this.remoteBranch.fetchTip();
      this.initialized = true;
      this.log('gitops.init', { remote: this.remote, branch: this.branch, tip: this.remoteBranch.tip });
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
    await this.remoteBranch.idle();
    this.releaseLock();
    this.initialized = false;
  }

  // ---------------------------------------------------------------------------------------------------------------
  // public operations

  submit(change: AppChange): Promise<CommitResult> {
    try {
      if (!this.initialized) throw new Error('GitopsWriter.init() must be called before submit()');
      if (this.closing) throw new Error('GitopsWriter is closed');
      const p = prepareChange(change, this.algo, this.committer);
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
    const from = searchFrom(notBefore);
    let fetchError: unknown = null;
    let tip: string | null;
    try {
      tip = await this.remoteBranch.fetchTip();
    } catch (e) {
      fetchError = e; // fall back to what we know is on the remote
      tip = this.remoteBranch.tip;
    }
    if (tip) {
      const found = await scanHistory(this.git, tip, null, from, new Set([releaseId]));
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
    let r = await isAncestorLocal(this.git, commit, of);
    if (r === null) {
      await this.remoteBranch.fetchTip();
      r = await isAncestorLocal(this.git, commit, of);
    }
    if (r === null) {
      this.log('gitops.isAncestor.unknown', { commit, of });
      return false;
    }
    return r;
  }

  // ---------------------------------------------------------------------------------------------------------------
  // queue and batch loop

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
      const { batch, rest } = takeBatch(this.queue);
      this.queue = rest;
      try {
        await this.runBatch(batch);
      } catch (e) {
        // runBatch settles its items itself; this is a last resort so no promise is left hanging
        const err = e instanceof Error ? e : new Error(String(e));
        for (const p of batch) if (!p.done) this.fail(p, err);
      }
      if (this.stats.batches % GC_EVERY_BATCHES === 0) {
        await collectGarbage(this.git, this.direct, (fn) => this.remoteBranch.withRefLock(fn), this.log);
      }
    }
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
              const newTip = await this.remoteBranch.fetchTip();
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
            if (othersWrote || active.some((p) => p.enqueuedAt > this.remoteBranch.tipConfirmedAt)) {
              await this.remoteBranch.fetchTip();
            }
            base = this.remoteBranch.tip;
            if (base) await this.resolveFromHistory(active, base, null, 0);
            active = active.filter((p) => !p.done);
            for (const p of active) p.firstBase = this.rememberFirstBase(p.change.releaseId, base);
            based = true;
            continue;
          }

          const { unchanged, conflicts } = await planBatch(this.git, this.algo, base, active);
          for (const [p, files] of conflicts) {
            this.stats.conflicts++;
            this.fail(p, conflictError(p, files));
          }
          active = active.filter((p) => !p.done);
          const toCommit = active.filter((p) => !unchanged.has(p));
          if (toCommit.length === 0) {
            const now = new Date().toISOString();
            for (const p of active) this.settleUnchanged(p, base, now, 0);
            return;
          }

          if (base === null && this.remoteBranch.branchSeen) {
            // never recreate a deleted branch from scratch: Flux would prune everything not in our commits
            throw new Error(`remote branch ${this.branch} disappeared; refusing to recreate it`);
          }
          const shas = await buildCommits(this.builder, base, toCommit);
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
          const pushError = await this.remoteBranch.push(last, base ?? this.zeroId());
          if (!pushError) {
            const pushedAt = new Date().toISOString();
            for (const p of toCommit) this.settleCommitted(p, pushedAt, toCommit.length);
            for (const p of active) if (!p.done) this.settleUnchanged(p, last, pushedAt, toCommit.length);
            this.log('gitops.batch.pushed', { commits: toCommit.length, tip: last, attempts: attempt + 1, token: lease ? String(lease.token) : undefined });
            return;
          }

          lastError = pushError;
          const newTip = await this.remoteBranch.fetchTip();
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
    const found = await scanHistory(this.git, tip, exclude, from, new Set(active.map((p) => p.change.releaseId)));
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
  // helpers

  private backoff(attempt: number): number {
    const cap = Math.min(this.retry.maxDelayMs, this.retry.initialDelayMs * 2 ** Math.min(attempt - 1, 30));
    return Math.round(cap / 2 + (Math.random() * cap) / 2);
  }

  private zeroId(): string {
    return '0'.repeat(this.algo === 'sha256' ? 64 : 40);
  }

  private assertOpen(): void {
    if (!this.initialized) throw new Error('GitopsWriter.init() must be called first');
  }

  private releaseLock(): void {
    releaseCacheLock(this.cacheLock);
    this.cacheLock = null;
  }
}
