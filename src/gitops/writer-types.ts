/**
 * What callers of the GitOps writer hand it and get back: the change a release makes, the result of writing it, the
 * writer's options and counters.
 */
import type { WriteFence } from './fence';
import type { CommitSigning } from './signing';

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
