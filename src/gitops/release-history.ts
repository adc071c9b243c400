/**
 * Reading the branch's history for the writer: which commits already carry a release id (its exactly-once check),
 * and whether one commit is an ancestor of another.
 */
import { GitCommandError, type RepoGit } from './git';
import { parseTrailerLog, TRAILER_LOG_FORMAT } from './trailers';

/** releaseId -> oldest commit carrying it, among commits reachable from tip (not from exclude) newer than `from`. */
export async function scanHistory(
  git: RepoGit,
  tip: string,
  exclude: string | null,
  from: number,
  ids: Set<string>,
): Promise<Map<string, { sha: string; committedAt: number }>> {
  const since = new Date(Math.floor(from / 1000) * 1000).toISOString().replace(/\.000Z$/, ' +0000').replace('T', ' ');
  const args = ['log', '-z', TRAILER_LOG_FORMAT, `--since=${since}`, tip];
  if (exclude) args.push(`^${exclude}`);
  const out = await git(args);
  const found = new Map<string, { sha: string; committedAt: number }>();
  for (const c of parseTrailerLog(out.stdout)) {
    for (const id of c.releaseIds) if (ids.has(id)) found.set(id, { sha: c.sha, committedAt: c.committedAt });
  }
  return found;
}

/** null when the repository does not know one of the commits. */
export async function isAncestorLocal(git: RepoGit, commit: string, of: string): Promise<boolean | null> {
  try {
    const r = await git(['merge-base', '--is-ancestor', commit, of], { okCodes: [0, 1] });
    return r.code === 0;
  } catch (e) {
    if (e instanceof GitCommandError && e.code === 128) return null; // unknown object
    throw e;
  }
}
