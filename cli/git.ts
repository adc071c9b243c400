import { execFileSync } from 'node:child_process';

/** Output of a git command in `cwd`, or null when git fails (not a checkout, unknown commit). */
export function git(cwd: string, ...args: string[]): string | null {
  try {
    return execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return null;
  }
}

export interface CommitInfo {
  sha: string;
  authorName: string;
  authorEmail: string;
  committerName: string;
  committerEmail: string;
  message: string;
  created: string;
}

export function commitInfo(cwd: string, rev = 'HEAD'): CommitInfo | null {
  const out = git(cwd, 'log', '-1', '--format=%H%x00%an%x00%ae%x00%cn%x00%ce%x00%cI%x00%B', rev, '--');
  if (!out) return null;
  const [sha, authorName, authorEmail, committerName, committerEmail, created, ...message] = out.split('\0');
  return { sha, authorName, authorEmail, committerName, committerEmail, created, message: message.join('\0').trim() };
}

/** The checked-out branch, or null on a detached HEAD (which is how most CI systems check out). */
export function currentBranch(cwd: string): string | null {
  const b = git(cwd, 'symbolic-ref', '--quiet', '--short', 'HEAD');
  return b || null;
}

export function tagAt(cwd: string, rev = 'HEAD'): string | null {
  return git(cwd, 'describe', '--tags', '--exact-match', rev) || null;
}

/** `owner/name` (or `group/sub/name`) and a web URL from the `origin` remote. */
export function originRepository(cwd: string): { name: string; web: string | null } | null {
  const url = git(cwd, 'remote', 'get-url', 'origin');
  return url ? parseRemote(url) : null;
}

export function parseRemote(url: string): { name: string; web: string | null } | null {
  const scp = /^(?:[^@/]+@)?([^:/]+):(?!\/)(.+?)(?:\.git)?\/?$/.exec(url);
  const full = /^(?:https?|ssh|git):\/\/(?:[^@/]+@)?([^/:]+)(?::\d+)?\/(.+?)(?:\.git)?\/?$/.exec(url);
  const m = full ?? scp;
  if (m) return { name: m[2], web: `https://${m[1]}/${m[2]}` };
  const local = /([^/]+?)(?:\.git)?\/?$/.exec(url);
  return local ? { name: local[1], web: null } : null;
}
