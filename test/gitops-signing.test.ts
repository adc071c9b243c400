// Signed GitOps commits (src/gitops/signing.ts): every commit the writer makes verifies with `git verify-commit`, on
// the push path and on the direct local write, with an OpenPGP key and with an SSH key; a key that cannot sign
// lands nothing rather than unsigned commits.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { runGit } from '../src/gitops/git';
import { GitopsWriter, type AppChange } from '../src/gitops/writer';
import type { CommitSigning } from '../src/gitops/signing';

const COMMITTER = { name: 'Ferry', email: 'ferry@example.test' };
let root: string;
let fingerprint: string;
let sshKey: string;
let allowedSigners: string;
let n = 0;

before(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-signing-'));
  const gnupg = path.join(root, 'gnupg');
  fs.mkdirSync(gnupg, { mode: 0o700 });
  // git runs gpg with the writer's environment, which starts from this process's.
  process.env.GNUPGHOME = gnupg;
  execFileSync('gpg', ['--batch', '--passphrase', '', '--quick-gen-key', 'Ferry Test <ferry@example.test>', 'ed25519', 'sign', 'never'], { stdio: 'ignore' });
  fingerprint = /^fpr:+([0-9A-F]{40}):/m.exec(execFileSync('gpg', ['--list-secret-keys', '--with-colons'], { encoding: 'utf8' }))![1]!;
  sshKey = path.join(root, 'id_ed25519');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'ferry', '-f', sshKey]);
  allowedSigners = path.join(root, 'allowed_signers');
  fs.writeFileSync(allowedSigners, `ferry@example.test namespaces="git" ${fs.readFileSync(`${sshKey}.pub`, 'utf8')}`);
});
after(() => {
  fs.rmSync(root, { recursive: true, force: true });
});

async function writer(direct: boolean, signing?: CommitSigning): Promise<{ w: GitopsWriter; remote: string }> {
  const remote = path.join(root, `remote-${++n}.git`);
  await runGit(['init', '--bare', '--quiet', '--initial-branch=main', remote]);
  const w = new GitopsWriter({
    remote, branch: 'main', cacheDir: path.join(root, `cache-${n}`), committer: COMMITTER, directLocalWrite: direct, signing,
    retry: { maxElapsedMs: 1_000, initialDelayMs: 20, maxDelayMs: 100 },
  });
  await w.init();
  return { w, remote };
}

const change = (i: number): AppChange => ({
  releaseId: `rel-${n}-${i}`, dir: `staging/app-${i}`, files: { 'deploy.yaml': `kind: ConfigMap\n# ${i}\n` },
  title: `release app-${i}`, trailers: { 'Ferry-Release-Id': `rel-${n}-${i}` },
});

function commits(remote: string): string[] {
  const r = spawnSync('git', ['--git-dir', remote, 'rev-list', '--all'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim() ? r.stdout.trim().split('\n') : [];
}

function verify(remote: string, sha: string, extra: string[] = []): { ok: boolean; output: string } {
  const r = spawnSync('git', ['--git-dir', remote, ...extra, 'verify-commit', '-v', sha], { encoding: 'utf8', env: { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null' } });
  return { ok: r.status === 0, output: r.stdout + r.stderr };
}

for (const direct of [false, true]) {
  const mode = direct ? 'the direct local write' : 'the push path';
  test(`${mode}: every commit of a batch is signed with the OpenPGP key and keeps its content`, async () => {
    const { w, remote } = await writer(direct, { format: 'openpgp', key: fingerprint });
    try {
      const results = await Promise.all([0, 1, 2].map((i) => w.submit(change(i))));
      const all = commits(remote);
      assert.equal(all.length, 3);
      for (const sha of all) {
        const v = verify(remote, sha);
        assert.ok(v.ok, v.output);
        assert.match(v.output, /Good signature from "Ferry Test <ferry@example.test>"/);
      }
      // The commits the writer reports are the signed ones on the branch, with their trailers and files.
      for (const r of results) assert.ok(all.includes(r.commit), `${r.commit} is on main`);
      const log = execFileSync('git', ['--git-dir', remote, 'log', '--format=%an|%cn|%(trailers:key=Ferry-Release-Id,valueonly)', 'main'], { encoding: 'utf8' });
      assert.equal(log.split('\n').filter((l) => /^Ferry\|Ferry\|rel-/.test(l)).length, 3);
      assert.equal(execFileSync('git', ['--git-dir', remote, 'show', 'main:staging/app-1/deploy.yaml'], { encoding: 'utf8' }), 'kind: ConfigMap\n# 1\n');
    } finally {
      await w.close();
    }
  });

  test(`${mode}: SSH signing verifies against an allowed-signers file`, async () => {
    const { w, remote } = await writer(direct, { format: 'ssh', key: sshKey });
    try {
      await Promise.all([0, 1].map((i) => w.submit(change(i))));
      for (const sha of commits(remote)) {
        const v = verify(remote, sha, ['-c', `gpg.ssh.allowedSignersFile=${allowedSigners}`]);
        assert.ok(v.ok, v.output);
        assert.match(v.output, /Good "git" signature for ferry@example.test/);
      }
    } finally {
      await w.close();
    }
  });
}

test('unsigned commits do not verify, and a key that cannot sign lands nothing', async () => {
  const plain = await writer(false);
  try {
    await plain.w.submit(change(0));
    assert.equal(verify(plain.remote, commits(plain.remote)[0]!).ok, false);
  } finally {
    await plain.w.close();
  }
  const broken = await writer(true, { format: 'openpgp', key: '0000000000000000000000000000000000000000' });
  try {
    await assert.rejects(broken.w.submit(change(0)));
    assert.deepEqual(commits(broken.remote), []);
  } finally {
    await broken.w.close();
  }
});

test('the signing settings: a key turns signing on; a bad format or an option-like key stops start-up', async () => {
  const { loadConfig } = await import('../src/config');
  const base = { FERRY_DATA_DIR: root };
  assert.equal(loadConfig(base).gitopsSigning, undefined);
  assert.deepEqual(loadConfig({ ...base, FERRY_GITOPS_SIGNING_KEY: fingerprint }).gitopsSigning, { format: 'openpgp', key: fingerprint });
  assert.deepEqual(loadConfig({ ...base, FERRY_GITOPS_SIGNING_KEY: sshKey, FERRY_GITOPS_SIGNING_FORMAT: 'ssh' }).gitopsSigning, { format: 'ssh', key: sshKey });
  assert.throws(() => loadConfig({ ...base, FERRY_GITOPS_SIGNING_KEY: fingerprint, FERRY_GITOPS_SIGNING_FORMAT: 'x509' }), /FERRY_GITOPS_SIGNING_FORMAT/);
  assert.throws(() => loadConfig({ ...base, FERRY_GITOPS_SIGNING_KEY: '--upload-pack=evil' }), /FERRY_GITOPS_SIGNING_KEY/);
});
