/**
 * Where an environment's manifests live (repository and branch), and one GitopsWriter per repository+branch.
 *
 * Layouts: by default every environment is a directory of one branch of one repository (`<env>/<app>/`). With
 * `FERRY_GITOPS_REPO_<ENV>` (env upper-cased, `-` → `_`) an environment gets a repository of its own, with
 * `FERRY_GITOPS_BRANCH_<ENV>` (or the environment's `gitops.branch` in FERRY_CONFIG) a branch of its own; the two
 * combine. Paths stay `<env>/<app>/` everywhere: one rule for every layout, Flux `path: ./<env>` is the same, and
 * moving an environment into its own repository or branch is a plain copy of its directory.
 */
import { createHash } from 'node:crypto';
import { revisionNamesOtherBranch } from '../flux/event-branch';
import { branchOfRevision } from '../flux/revision';
import { GitopsWriter, type GitopsWriterOptions } from './writer';

/** `staging-eu` → `STAGING_EU`: the suffix of its FERRY_GITOPS_REPO_<ENV> and FERRY_GITOPS_BRANCH_<ENV> variables. */
export function envRepoKey(env: string): string {
  return env.toUpperCase().replace(/-/g, '_');
}

/** The release's directory in its repository. */
export function appDir(env: string, app: string): string {
  return `${env}/${app}`;
}

export interface RepoLayout {
  defaultRemote: string;
  /** envRepoKey(env) → remote */
  byEnv: Record<string, string>;
  /** The branch of every environment without one of its own (FERRY_GITOPS_BRANCH). */
  defaultBranch: string;
  /** envRepoKey(env) → branch */
  branchByEnv?: Record<string, string>;
}

/** One branch of one repository: what a writer writes. */
export interface GitopsTarget {
  remote: string;
  branch: string;
}

export function remoteForEnv(layout: RepoLayout, env: string): string {
  return layout.byEnv[envRepoKey(env)] ?? layout.defaultRemote;
}

export function branchForEnv(layout: RepoLayout, env: string): string {
  return layout.branchByEnv?.[envRepoKey(env)] ?? layout.defaultBranch;
}

/**
 * Does the revision name a branch that exactly one environment has for its own (not the default branch)? Such a
 * revision says which environment a Flux event speaks for even without a `ferry.env` annotation.
 */
export function revisionNamesEnvBranch(layout: RepoLayout, revision: string | null | undefined): boolean {
  const branch = branchOfRevision(revision);
  if (branch === null || branch === layout.defaultBranch) return false;
  return Object.values(layout.branchByEnv ?? {}).filter((b) => b === branch).length === 1;
}

export function targetForEnv(layout: RepoLayout, env: string): GitopsTarget {
  return { remote: remoteForEnv(layout, env), branch: branchForEnv(layout, env) };
}

/** Every repository+branch the layout writes, the default first, each once. */
export function layoutTargets(layout: RepoLayout): GitopsTarget[] {
  const keys = new Set([...Object.keys(layout.byEnv), ...Object.keys(layout.branchByEnv ?? {})]);
  const all = [{ remote: layout.defaultRemote, branch: layout.defaultBranch }];
  for (const key of keys) all.push({ remote: layout.byEnv[key] ?? layout.defaultRemote, branch: layout.branchByEnv?.[key] ?? layout.defaultBranch });
  const seen = new Set<string>();
  return all.filter((t) => !seen.has(targetKey(t)) && !!seen.add(targetKey(t)));
}

function targetKey(t: GitopsTarget): string {
  return `${t.remote}#${t.branch}`;
}

/**
 * Lazily created, initialised writers, one per repository+branch (environments sharing both share a writer, so
 * their releases still group-commit together). A failed init is not cached: the next release tries again.
 *
 * `make(remote)` gives the options of the remote's default-branch writer. A writer of another branch of that
 * remote keeps its own cache beside it (`<cacheDir>-b<hash of the branch>`): a cache belongs to one writer; the
 * default branch's writer uses `cacheDir` itself.
 */
export class GitopsWriters {
  private readonly writers = new Map<string, Promise<GitopsWriter>>();
  private closed = false;
  private readonly watchers: Array<(w: GitopsWriter) => void> = [];

  constructor(
    private readonly layout: RepoLayout,
    private readonly make: (remote: string) => Omit<GitopsWriterOptions, 'remote'>,
  ) {}

  remoteFor(env: string): string {
    return remoteForEnv(this.layout, env);
  }

  branchFor(env: string): string {
    return branchForEnv(this.layout, env);
  }

  forEnv(env: string): Promise<GitopsWriter> {
    return this.forTarget(targetForEnv(this.layout, env));
  }

  forTarget(target: GitopsTarget): Promise<GitopsWriter> {
    if (this.closed) return Promise.reject(new Error('GitOps writers are closed'));
    const key = targetKey(target);
    let w = this.writers.get(key);
    if (!w) {
      const base = this.make(target.remote);
      const cacheDir = target.branch === this.layout.defaultBranch ? base.cacheDir : branchCacheDir(base.cacheDir, target.branch);
      const writer = new GitopsWriter({ ...base, remote: target.remote, branch: target.branch, cacheDir });
      for (const watch of this.watchers) watch(writer);
      w = writer.init().then(() => writer);
      this.writers.set(key, w);
      w.catch(() => this.writers.delete(key));
    }
    return w;
  }

  /** Calls `watch` for every writer opened from now on (metrics read their stats). */
  onWriter(watch: (w: GitopsWriter) => void): void {
    this.watchers.push(watch);
  }

  /** Opens the default repository's writer now, so a bad remote shows at start-up. */
  async initDefault(): Promise<void> {
    await this.forTarget({ remote: this.layout.defaultRemote, branch: this.layout.defaultBranch });
  }

  /**
   * Is `commit` an ancestor of (or equal to) `of`? With `env`, in that environment's repository and branch; without,
   * in any configured one (commit ids do not collide across repositories).
   */
  async isAncestor(commit: string, of: string, env?: string): Promise<boolean> {
    if (env !== undefined) return (await this.forEnv(env)).isAncestor(commit, of);
    for (const t of layoutTargets(this.layout)) if (await (await this.forTarget(t)).isAncestor(commit, of)) return true;
    return false;
  }

  /**
   * May a Flux event with this revision settle a release of `env`? Not when the revision names a branch Ferry
   * writes for other environments only (src/flux/event-branch.ts).
   */
  revisionConcernsEnv(revision: string | null | undefined, env: string): boolean {
    const written = layoutTargets(this.layout).map((t) => t.branch);
    return !revisionNamesOtherBranch(revision, this.branchFor(env), written);
  }

  /**
   * Does the revision name `env`'s own branch, one that neither the default branch nor another environment uses?
   * Then the event speaks for `env` even without a `ferry.env` annotation (src/flux/attribution.ts).
   */
  revisionNamesOwnBranch(revision: string | null | undefined, env: string): boolean {
    return branchOfRevision(revision) === this.branchFor(env) && revisionNamesEnvBranch(this.layout, revision);
  }

  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.writers.values()];
    this.writers.clear();
    for (const w of all) await (await w.catch(() => null))?.close();
  }
}

/** The cache of a non-default branch's writer, beside the default branch's one. */
export function branchCacheDir(cacheDir: string, branch: string): string {
  return `${cacheDir}-b${createHash('sha256').update(branch).digest('hex').slice(0, 12)}`;
}
