/**
 * Housekeeping of the writer's cache directory (a bare repository one writer owns): its owner lock, creating and
 * configuring it, lock files and crash reports a killed process left behind, and the occasional `gc`.
 */
import { promises as fsp, existsSync, readFileSync, realpathSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import * as path from 'node:path';
import { runGit, type RepoGit } from './git';
import { BATCH_REF } from './fast-import';
import type { HashAlgo } from './objects';

type Log = (msg: string, fields?: object) => void;

const LOCK_FILE = 'ferry-writer.lock';
/** directLocalWrite: a branch lock in the repository older than this was left by a process that died */
const STALE_BRANCH_LOCK_MS = 10 * 60_000;

/** Cache directories held by a writer of this process. */
const openCacheDirs = new Set<string>();

export interface CacheLock {
  key: string;
  path: string;
}

/** One writer per cache directory: a lock file with pid and host, taken over when its owner is gone. */
export function acquireCacheLock(cacheDir: string, log: Log): CacheLock {
  const key = realpathSync(cacheDir);
  if (openCacheDirs.has(key)) throw new Error(`cacheDir ${cacheDir} is already used by another GitopsWriter`);
  const lockPath = path.join(cacheDir, LOCK_FILE);
  const me = { pid: process.pid, host: hostname() };
  if (existsSync(lockPath)) {
    let owner: { pid?: number; host?: string } = {};
    try {
      owner = JSON.parse(readFileSync(lockPath, 'utf8')) as typeof owner;
    } catch {
      /* unreadable: treat as stale */
    }
    if (owner.host === me.host && typeof owner.pid === 'number' && owner.pid !== me.pid && pidAlive(owner.pid)) {
      throw new Error(`cacheDir ${cacheDir} is in use by process ${owner.pid}`);
    }
    if (owner.host && owner.host !== me.host) {
      log('gitops.cache.lock.takeover', { previousOwner: owner });
    }
  }
  writeFileSync(lockPath, JSON.stringify({ ...me, since: new Date().toISOString() }) + '\n');
  openCacheDirs.add(key);
  return { key, path: lockPath };
}

export function releaseCacheLock(lock: CacheLock | null): void {
  if (!lock) return;
  openCacheDirs.delete(lock.key);
  try {
    unlinkSync(lock.path);
  } catch {
    /* ignore */
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Creates the bare cache repository (or checks the one there), clears the git lock files a crashed writer left, and
 * sets the configuration the writer relies on. Returns the repository's object format.
 */
export async function openCacheRepo(
  git: RepoGit,
  cacheDir: string,
  remote: string,
  trackingRef: string,
  log: Log,
): Promise<HashAlgo> {
  const isRepo = existsSync(path.join(cacheDir, 'HEAD')) && existsSync(path.join(cacheDir, 'objects'));
  if (!isRepo) {
    const entries = (await fsp.readdir(cacheDir)).filter((e) => e !== LOCK_FILE);
    if (entries.length > 0) throw new Error(`cacheDir ${cacheDir} is not empty and not a git repository`);
    await runGit(['-c', 'init.defaultBranch=ferry-unused', 'init', '--bare', '--quiet', cacheDir]);
    log('gitops.cache.created', { cacheDir });
  } else {
    const bare = (await git(['rev-parse', '--is-bare-repository'])).stdout.trim();
    if (bare !== 'true') throw new Error(`cacheDir ${cacheDir} is not a bare repository`);
  }
  removeStaleGitLocks(cacheDir, trackingRef, log);
  const settings: [string, string][] = [
    ['core.bare', 'true'],
    ['core.logAllRefUpdates', 'false'],
    ['remote.origin.url', remote],
    ['gc.autoDetach', 'false'],
    ['pack.useSparse', 'true'],
    ['fetch.writeCommitGraph', 'true'],
  ];
  for (const [k, v] of settings) await git(['config', k, v]);
  // no fetch refspec: only the writer updates the tracking ref (under its ref lock)
  await git(['config', '--unset-all', 'remote.origin.fetch'], { okCodes: [0, 5] });
  const fmt = (await git(['rev-parse', '--show-object-format'])).stdout.trim();
  return fmt === 'sha256' ? 'sha256' : 'sha1';
}

/** Git lock files left behind by a killed process would block every later fetch/update. We own this repo. */
function removeStaleGitLocks(cacheDir: string, trackingRef: string, log: Log): void {
  const candidates = [
    path.join(cacheDir, `${trackingRef}.lock`),
    path.join(cacheDir, `${BATCH_REF}.lock`),
    path.join(cacheDir, 'packed-refs.lock'),
    path.join(cacheDir, 'shallow.lock'),
    path.join(cacheDir, 'config.lock'),
  ];
  for (const f of candidates) {
    try {
      unlinkSync(f);
      log('gitops.cache.staleLockRemoved', { file: f });
    } catch {
      /* not there */
    }
  }
}

/**
 * A branch update holds `<branch>.lock` for milliseconds; one left by a machine that went down mid-update would
 * refuse every later update of the branch. Only a lock old enough that no live update can own it is removed.
 */
export async function removeStaleBranchLock(repo: string, branch: string, log: Log): Promise<void> {
  const lock = path.join(repo, 'refs', 'heads', `${branch}.lock`);
  try {
    const age = Date.now() - (await fsp.stat(lock)).mtimeMs;
    if (age < STALE_BRANCH_LOCK_MS) return;
    await fsp.unlink(lock);
    log('gitops.remote.staleLockRemoved', { file: lock, ageMs: Math.round(age) });
  } catch {
    /* not there */
  }
}

export async function removeCrashReports(cacheDir: string): Promise<void> {
  try {
    for (const f of await fsp.readdir(cacheDir)) {
      if (f.startsWith('fast_import_crash_')) await fsp.unlink(path.join(cacheDir, f)).catch(() => {});
    }
  } catch {
    /* ignore */
  }
}

/**
 * Packs loose objects now and then. With directLocalWrite that is the remote's job (each batch adds a pack there,
 * and no receive-pack runs its `gc --auto`); the cache then holds nothing but refs.
 */
export async function collectGarbage(
  git: RepoGit,
  direct: string | null,
  withRefLock: <T>(fn: () => Promise<T>) => Promise<T>,
  log: Log,
): Promise<void> {
  try {
    if (direct) {
      await runGit(['-c', 'gc.autoDetach=false', 'gc', '--auto', '--quiet'], { gitDir: direct });
      return;
    }
    await withRefLock(() => git(['gc', '--auto', '--quiet']));
  } catch (e) {
    log('gitops.gc.failed', { error: String(e) });
  }
}
