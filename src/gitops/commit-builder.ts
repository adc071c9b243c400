/**
 * Building a batch's commits: one `git fast-import` run writes one commit per change, chained on the base, without a
 * work tree; with signing configured the chain is then rewritten signed.
 */
import * as path from 'node:path';
import type { RepoGit } from './git';
import { BATCH_REF, buildFastImportStream, parseMarks } from './fast-import';
import { type CommitSigning, signCommitChain } from './signing';
import { removeCrashReports } from './housekeeping';
import type { Pending } from './batch-plan';
import type { GitIdentity } from './writer-types';

export interface CommitBuilder {
  git: RepoGit;
  cacheDir: string;
  /** with directLocalWrite: the remote repository's path, whose object store receives the objects */
  direct: string | null;
  committer: GitIdentity;
  signing: CommitSigning | undefined;
}

/** One commit per change, chained on `base`. Returns the commit ids in order. */
export async function buildCommits(b: CommitBuilder, base: string | null, changes: readonly Pending[]): Promise<string[]> {
  const time = Math.floor(Date.now() / 1000);
  const stream = buildFastImportStream(
    base,
    changes.map((p) => ({
      dir: p.change.dir,
      files: p.change.files,
      extraFiles: p.change.extraFiles,
      message: p.message,
      author: p.author,
      committer: b.committer,
      time,
    })),
  );
  try {
    // directLocalWrite: the objects go straight into the remote's store; only BATCH_REF stays in the cache
    const env = b.direct ? { GIT_OBJECT_DIRECTORY: path.join(b.direct, 'objects') } : undefined;
    const out = await b.git(['fast-import', '--quiet', '--force', '--done'], { input: stream, env });
    const shas = parseMarks(out.stdout, changes.length);
    if (!b.signing) return shas;
    const signed = await signCommitChain(b.git, shas, b.signing, env);
    // What gets pushed must stay reachable until the tracking ref moves (see RemoteBranch.push).
    await b.git(['update-ref', BATCH_REF, signed[signed.length - 1]!]);
    return signed;
  } catch (e) {
    await removeCrashReports(b.cacheDir);
    throw e;
  }
}
