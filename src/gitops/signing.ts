/**
 * Signing GitOps commits, so a cluster can make Flux refuse commits that did not come from Ferry (GitRepository
 * `spec.verify`). git fast-import cannot sign, so the writer builds its batch unsigned, then this module rewrites
 * the chain with `git commit-tree -S`: same tree, author, committer, dates and message, each commit on the signed
 * one before it. git does the signing itself (gpg, or ssh-keygen with gpg.format=ssh), exactly as `git commit -S`.
 */
import type { RepoGit } from './git';

export interface CommitSigning {
  /** `openpgp`: `key` is a key id or fingerprint in the keyring (GNUPGHOME); `ssh`: `key` is a private key file. */
  format: 'openpgp' | 'ssh';
  key: string;
}

interface RawCommit {
  tree: string;
  parents: string[];
  author: { ident: string; date: string };
  committer: { ident: string; date: string };
  message: string;
}

function parseCommit(raw: string): RawCommit {
  const split = raw.indexOf('\n\n');
  const headers = raw.slice(0, split).split('\n');
  const message = raw.slice(split + 2);
  const person = (line: string | undefined) => {
    const m = /^(.*) (\d+ [+-]\d{4})$/.exec(line ?? '');
    if (!m) throw new Error(`unexpected commit header: ${line}`);
    return { ident: m[1]!, date: m[2]! };
  };
  const value = (name: string) => headers.filter((h) => h.startsWith(`${name} `)).map((h) => h.slice(name.length + 1));
  return { tree: value('tree')[0]!, parents: value('parent'), author: person(value('author')[0]), committer: person(value('committer')[0]), message };
}

function identEnv(prefix: 'AUTHOR' | 'COMMITTER', p: { ident: string; date: string }): Record<string, string> {
  const m = /^(.*) <([^>]*)>$/.exec(p.ident);
  if (!m) throw new Error(`unexpected identity: ${p.ident}`);
  return { [`GIT_${prefix}_NAME`]: m[1]!, [`GIT_${prefix}_EMAIL`]: m[2]!, [`GIT_${prefix}_DATE`]: p.date };
}

/**
 * Signed copies of `shas` (a chain, oldest first, as fast-import built it), in order. `env` reaches every git call
 * (the direct local write points GIT_OBJECT_DIRECTORY at the remote's store).
 */
export async function signCommitChain(git: RepoGit, shas: readonly string[], signing: CommitSigning, env: Record<string, string> = {}): Promise<string[]> {
  const config = ['-c', `gpg.format=${signing.format}`, '-c', `user.signingKey=${signing.key}`];
  const renamed = new Map<string, string>();
  const out: string[] = [];
  for (const sha of shas) {
    const c = parseCommit((await git(['cat-file', 'commit', sha], { env })).stdout);
    const parents = c.parents.flatMap((p) => ['-p', renamed.get(p) ?? p]);
    const signed = (
      await git([...config, 'commit-tree', '-S', c.tree, ...parents, '-F', '-'], {
        input: c.message,
        env: { ...env, ...identEnv('AUTHOR', c.author), ...identEnv('COMMITTER', c.committer) },
      })
    ).stdout.trim();
    renamed.set(sha, signed);
    out.push(signed);
  }
  return out;
}
