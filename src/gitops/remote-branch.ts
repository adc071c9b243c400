/**
 * The remote branch as the writer sees it: its last known tip, fetching it, and moving it — a non-forced push, or with
 * directLocalWrite a compare-and-swap `update-ref` in the remote repository itself (no transport; the cache reads
 * that repository's objects through `objects/info/alternates`).
 */
import { promises as fsp, existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { GitCommandError, runGit, type RepoGit } from './git';
import { BATCH_REF } from './fast-import';
import type { GitopsWriterStats } from './writer-types';

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
export function normaliseRemote(remote: string): string {
  return isRemoteUrl(remote) ? remote : path.resolve(remote);
}

export interface RemoteBranchOptions {
  /** git in the cache repository */
  git: RepoGit;
  cacheDir: string;
  branch: string;
  /** with directLocalWrite: the remote repository's path */
  direct: string | null;
  timeoutMs: number;
  /** the writer's counters: fetches, push attempts and pushes are counted here */
  stats: GitopsWriterStats;
  log: (msg: string, fields?: object) => void;
}

export class RemoteBranch {
  readonly trackingRef: string;
  /** last known remote tip (null = branch does not exist) */
  tip: string | null = null;
  /** when `tip` was known to be current (ms) */
  tipConfirmedAt = 0;
  /** the branch existed at some point while this writer ran */
  branchSeen = false;
  /** serialises fetches and tracking-ref updates */
  private refLock: Promise<unknown> = Promise.resolve();

  constructor(private readonly o: RemoteBranchOptions) {
    this.trackingRef = `refs/remotes/origin/${o.branch}`;
  }

  withRefLock<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.refLock.then(fn, fn);
    this.refLock = run.catch(() => {});
    return run;
  }

  /** Resolves once no fetch or tracking-ref update is running. */
  async idle(): Promise<void> {
    await this.refLock.catch(() => {});
  }

  /**
   * The remote tip (null when the branch does not exist), fetched into the tracking ref; with directLocalWrite read
   * from the remote repository itself, whose objects the cache already sees.
   */
  fetchTip(): Promise<string | null> {
    return this.withRefLock(async () => {
      const started = Date.now();
      this.o.stats.fetches++;
      const fetched = this.o.direct
        ? await this.readRef(this.o.direct, `refs/heads/${this.o.branch}`)
        : await this.fetchTrackingRef();
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
      await this.o.git(
        [
          'fetch', '--quiet', '--no-tags', '--no-write-fetch-head', '--no-recurse-submodules', '--no-auto-gc',
          'origin', `+refs/heads/${this.o.branch}:${this.trackingRef}`,
        ],
        { timeoutMs: this.o.timeoutMs },
      );
    } catch (e) {
      if (e instanceof GitCommandError && /couldn't find remote ref/i.test(e.stderr)) {
        await this.o.git(['update-ref', '-d', this.trackingRef]);
        return null;
      }
      throw e;
    }
    return this.readRef(this.o.cacheDir, this.trackingRef);
  }

  /**
   * With directLocalWrite the cache borrows the remote's objects (alternates), so it never fetches. Without, a link
   * left by an earlier direct run is removed, and with it the cache refs that may name objects only the remote has.
   */
  async linkRemoteObjects(): Promise<void> {
    const file = path.join(this.o.cacheDir, 'objects', 'info', 'alternates');
    const current = existsSync(file) ? readFileSync(file, 'utf8').trim() : '';
    const direct = this.o.direct;
    if (direct) {
      const objects = path.join(direct, 'objects');
      if (!existsSync(path.join(direct, 'HEAD')) || !existsSync(objects)) {
        throw new Error(`directLocalWrite: ${direct} is not a bare git repository`);
      }
      if (current !== objects) {
        await fsp.mkdir(path.dirname(file), { recursive: true });
        await fsp.writeFile(file, `${objects}\n`);
      }
      return;
    }
    if (!current) return;
    for (const ref of [this.trackingRef, BATCH_REF]) await this.o.git(['update-ref', '-d', ref]);
    await fsp.unlink(file);
  }

  /**
   * Moves the remote branch from `expected` (its current commit; zeros when it must not exist yet) to `commit`.
   * Returns null on success, the error otherwise (the caller decides by fetching whether the remote moved).
   */
  async push(commit: string, expected: string): Promise<Error | null> {
    this.o.stats.pushAttempts++;
    try {
      if (this.o.direct) {
        // the expected old value makes this a compare-and-swap under the ref's lock, like receive-pack's own update
        await runGit(['update-ref', '-m', 'ferry: push', `refs/heads/${this.o.branch}`, commit, expected], {
          gitDir: this.o.direct,
          timeoutMs: this.o.timeoutMs,
        });
      } else {
        await this.o.git(['push', '--porcelain', '--no-verify', 'origin', `${commit}:refs/heads/${this.o.branch}`], {
          timeoutMs: this.o.timeoutMs,
        });
      }
    } catch (e) {
      return e instanceof Error ? e : new Error(String(e));
    }
    this.o.stats.pushes++;
    this.branchSeen = true;
    this.tip = commit;
    this.tipConfirmedAt = Date.now();
    if (this.o.direct) return null;
    // Persisting the tracking ref only saves a restarted process a little work (it fetches first anyway), so it is
    // not awaited; the pushed commits stay reachable from BATCH_REF meanwhile.
    void this.withRefLock(() => this.o.git(['update-ref', this.trackingRef, commit])).catch((e) =>
      this.o.log('gitops.trackingRef.updateFailed', { error: String(e) }),
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
    const out = await runGit(['rev-parse', '-q', '--verify', `${ref}^{commit}`], { gitDir, okCodes: [0, 1], timeoutMs: this.o.timeoutMs });
    return out.stdout.trim() || null;
  }
}
