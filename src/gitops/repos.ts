/**
 * Which GitOps repository an environment lives in, and one GitopsWriter per repository.
 *
 * Layouts: by default every environment is a directory of one repository (`<env>/<app>/`). With
 * `FERRY_GITOPS_REPO_<ENV>` (env upper-cased, `-` → `_`) an environment gets a repository of its own. Paths stay
 * `<env>/<app>/` there too: one rule for both layouts, Flux `path: ./<env>` is the same, and moving an environment
 * into its own repository is a plain copy of its directory.
 */
import { GitopsWriter, type GitopsWriterOptions } from './writer';

/** `staging-eu` → `STAGING_EU`: the suffix of its FERRY_GITOPS_REPO_<ENV> variable. */
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
}

export function remoteForEnv(layout: RepoLayout, env: string): string {
  return layout.byEnv[envRepoKey(env)] ?? layout.defaultRemote;
}

/**
 * Lazily created, initialised writers, one per remote (environments sharing a remote share its writer, so their
 * releases still group-commit together). A failed init is not cached: the next release tries again.
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

  forEnv(env: string): Promise<GitopsWriter> {
    return this.forRemote(this.remoteFor(env));
  }

  forRemote(remote: string): Promise<GitopsWriter> {
    if (this.closed) return Promise.reject(new Error('GitOps writers are closed'));
    let w = this.writers.get(remote);
    if (!w) {
      const writer = new GitopsWriter({ ...this.make(remote), remote });
      for (const watch of this.watchers) watch(writer);
      w = writer.init().then(() => writer);
      this.writers.set(remote, w);
      w.catch(() => this.writers.delete(remote));
    }
    return w;
  }

  /** Calls `watch` for every writer opened from now on (metrics read their stats). */
  onWriter(watch: (w: GitopsWriter) => void): void {
    this.watchers.push(watch);
  }

  /** Opens the default repository's writer now, so a bad remote shows at start-up. */
  async initDefault(): Promise<void> {
    await this.forRemote(this.layout.defaultRemote);
  }

  /**
   * Is `commit` an ancestor of (or equal to) `of`? With `env`, in that environment's repository; without, in any
   * configured repository (commit ids do not collide across repositories).
   */
  async isAncestor(commit: string, of: string, env?: string): Promise<boolean> {
    if (env !== undefined) return (await this.forEnv(env)).isAncestor(commit, of);
    const remotes = [this.layout.defaultRemote, ...Object.values(this.layout.byEnv).filter((r) => r !== this.layout.defaultRemote)];
    for (const r of new Set(remotes)) if (await (await this.forRemote(r)).isAncestor(commit, of)) return true;
    return false;
  }

  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.writers.values()];
    this.writers.clear();
    for (const w of all) await (await w.catch(() => null))?.close();
  }
}
