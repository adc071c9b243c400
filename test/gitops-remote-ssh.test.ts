// The GitOps remote over SSH with a deploy key: the writer pushes to a bare repository served by Debian's sshd on
// 127.0.0.1, with the key and a pinned host key given through GIT_SSH_COMMAND (as the Helm chart sets it). A key
// the server does not know, or a host key that does not match, lands nothing.
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { runGit } from '../src/gitops/git';
import { GitopsWriter } from '../src/gitops/writer';
import { getFreePort } from '../server/tools';

const SSHD = '/usr/sbin/sshd';
let root: string;
let sshd: ChildProcess;
let url: string;
let repo: string;
let knownHosts: string;
const sshdLog: string[] = [];

function keygen(file: string): void {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', path.basename(file), '-f', file]);
}

before(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-ssh-remote-'));
  keygen(path.join(root, 'host_key'));
  keygen(path.join(root, 'deploy_key'));
  keygen(path.join(root, 'other_key'));
  fs.writeFileSync(path.join(root, 'authorized_keys'), fs.readFileSync(path.join(root, 'deploy_key.pub')));
  const port = await getFreePort();
  fs.writeFileSync(path.join(root, 'sshd_config'), [
    `Port ${port}`, 'ListenAddress 127.0.0.1', `HostKey ${root}/host_key`, `AuthorizedKeysFile ${root}/authorized_keys`,
    'PasswordAuthentication no', 'KbdInteractiveAuthentication no', 'PubkeyAuthentication yes', 'UsePAM no', 'StrictModes no',
    'PermitRootLogin prohibit-password', `PidFile ${root}/sshd.pid`, 'LogLevel ERROR',
  ].join('\n') + '\n');
  // sshd started as root wants its privilege-separation directory.
  if (process.getuid?.() === 0) fs.mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  sshd = spawn(SSHD, ['-D', '-e', '-f', path.join(root, 'sshd_config')], { stdio: ['ignore', 'ignore', 'pipe'] });
  sshd.stderr!.on('data', (d) => sshdLog.push(String(d)));
  knownHosts = path.join(root, 'known_hosts');
  fs.writeFileSync(knownHosts, `[127.0.0.1]:${port} ${fs.readFileSync(path.join(root, 'host_key.pub'), 'utf8')}`);
  repo = path.join(root, 'gitops.git');
  await runGit(['init', '--bare', '--quiet', '--initial-branch=main', repo]);
  url = `ssh://${os.userInfo().username}@127.0.0.1:${port}${repo}`;
  // Wait until sshd accepts connections.
  for (let i = 0; ; i++) {
    const probe = spawnSync('ssh', ['-i', path.join(root, 'deploy_key'), '-o', 'IdentitiesOnly=yes', '-o', `UserKnownHostsFile=${knownHosts}`, '-o', 'BatchMode=yes', '-p', String(port), `${os.userInfo().username}@127.0.0.1`, 'true'], { encoding: 'utf8' });
    if (probe.status === 0) break;
    if (i > 50) throw new Error(`sshd not reachable: ${probe.stderr}\n${sshdLog.join('')}`);
    await new Promise((r) => setTimeout(r, 200));
  }
});

after(() => {
  sshd?.kill('SIGTERM');
  delete process.env.GIT_SSH_COMMAND;
  fs.rmSync(root, { recursive: true, force: true });
});

function sshCommand(key: string, hosts = knownHosts): string {
  return `ssh -i ${path.join(root, key)} -o IdentitiesOnly=yes -o UserKnownHostsFile=${hosts} -o StrictHostKeyChecking=yes -o BatchMode=yes`;
}

async function pushOne(id: string): Promise<string> {
  const w = new GitopsWriter({
    remote: url, branch: 'main', cacheDir: fs.mkdtempSync(path.join(root, 'cache-')), committer: { name: 'Ferry', email: 'ferry@example.test' },
    retry: { maxElapsedMs: 1_000, initialDelayMs: 20, maxDelayMs: 100 },
  });
  try {
    await w.init();
    const r = await w.submit({ releaseId: id, dir: `staging/${id}`, files: { 'deploy.yaml': `# ${id}\n` }, title: id, trailers: { 'Ferry-Release-Id': id } });
    return r.commit;
  } finally {
    await w.close();
  }
}

const allCommits = () => spawnSync('git', ['--git-dir', repo, 'rev-list', '--all'], { encoding: 'utf8' }).stdout;

test('with the deploy key and the pinned host key the writer pushes over SSH', async () => {
  process.env.GIT_SSH_COMMAND = sshCommand('deploy_key');
  const commit = await pushOne('over-ssh');
  assert.equal(spawnSync('git', ['--git-dir', repo, 'rev-parse', 'main'], { encoding: 'utf8' }).stdout.trim(), commit);
});

test('a key the server does not accept, or a host key that does not match, lands nothing', async () => {
  const before = allCommits();
  process.env.GIT_SSH_COMMAND = sshCommand('other_key');
  await assert.rejects(pushOne('wrong-key'), /Permission denied|publickey|unreachable|Could not read/i);
  const otherHosts = path.join(root, 'other_known_hosts');
  fs.writeFileSync(otherHosts, fs.readFileSync(knownHosts, 'utf8').replace(/ssh-ed25519 \S+/, `ssh-ed25519 ${fs.readFileSync(path.join(root, 'other_key.pub'), 'utf8').split(' ')[1]}`));
  process.env.GIT_SSH_COMMAND = sshCommand('deploy_key', otherHosts);
  await assert.rejects(pushOne('wrong-host'), /host key|verification failed|unreachable|Could not read/i);
  assert.equal(allCommits(), before);
});
