import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The zero-setup GitOps remote: a bare repository inside the data folder, created on first start. */
export async function ensureDefaultRepo(dataDir: string, branch: string): Promise<string> {
  const repo = path.join(dataDir, 'gitops.git');
  try {
    await fs.access(path.join(repo, 'HEAD'));
  } catch {
    await fs.mkdir(repo, { recursive: true });
    await run('git', ['init', '--bare', '--quiet', `--initial-branch=${branch}`, repo]);
  }
  return repo;
}

/** A per-remote folder for a local clone, so switching FERRY_GITOPS_REPO never reuses a clone of another remote. */
export function cloneDir(dataDir: string, role: 'writer' | 'reader', remote: string): string {
  const id = createHash('sha256').update(remote).digest('hex').slice(0, 12);
  return path.join(dataDir, 'git', `${role}-${id}`);
}
