// The git helper process (src/gitops/git-helper.ts) runs real git and must be indistinguishable from running git
// here: same output, same GitCommandError, stdin in every form; a helper that dies fails only what it was running.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { GitCommandError, runGit, spawnGit } from '../src/gitops/git';
import { startGitHelper, useGitHelper } from '../src/gitops/git-helper';

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'ferry-git-helper-'));
  await spawnGit(['init', '--bare', '-q', path.join(dir, 'repo.git')]);
});
after(() => rm(dir, { recursive: true, force: true }));

describe('git helper process', () => {
  test('answers as git run here would: stdout, stdin as string, Buffer and Buffer[]', async () => {
    const helper = startGitHelper();
    try {
      const gitDir = path.join(dir, 'repo.git');
      const direct = await spawnGit(['hash-object', '-w', '--stdin'], { gitDir, input: 'hello\n' });
      for (const input of ['hello\n', Buffer.from('hello\n'), [Buffer.from('hel'), Buffer.from('lo\n')]]) {
        const viaHelper = await helper.run(['hash-object', '-w', '--stdin'], { gitDir, input });
        assert.equal(viaHelper.stdout, direct.stdout);
        assert.ok(Buffer.isBuffer(viaHelper.stdoutBuffer));
        assert.equal(viaHelper.stdoutBuffer.toString(), direct.stdout);
      }
      const blob = await helper.run(['cat-file', '-p', direct.stdout.trim()], { gitDir });
      assert.equal(blob.stdout, 'hello\n');
    } finally {
      await helper.stop();
    }
  });

  test('a failing command rejects with the same GitCommandError; okCodes are honoured', async () => {
    const helper = startGitHelper();
    try {
      const gitDir = path.join(dir, 'repo.git');
      const args = ['rev-parse', '--verify', 'refs/heads/nope'];
      const direct = await spawnGit(args, { gitDir }).catch((e: unknown) => e);
      const remote = await helper.run(args, { gitDir }).catch((e: unknown) => e);
      assert.ok(direct instanceof GitCommandError && remote instanceof GitCommandError);
      assert.equal(remote.message, direct.message);
      assert.deepEqual([remote.code, remote.stderr, remote.timedOut, remote.args], [direct.code, direct.stderr, direct.timedOut, args]);
      const tolerated = await helper.run(args, { gitDir, okCodes: [0, 128] });
      assert.equal(tolerated.code, 128);
    } finally {
      await helper.stop();
    }
  });

  test('a helper that dies fails the command it ran with a plain error; the next command starts a new helper', async () => {
    const helper = startGitHelper();
    try {
      // A command that surely still runs when the helper is killed (a shell alias that sleeps).
      const waiting = helper.run(['-c', 'alias.nap=!sleep 3', 'nap'], {});
      const pidOf = await findHelperPid();
      process.kill(pidOf, 'SIGKILL');
      const err = await waiting.then(() => null, (e: Error) => e);
      assert.ok(err && !(err instanceof GitCommandError), `a plain error, got ${err}`);
      assert.match(err.message, /git helper process exited/);
      const after = await helper.run(['--version'], {});
      assert.match(after.stdout, /^git version /);
      assert.notEqual(await findHelperPid(), pidOf);
    } finally {
      await helper.stop();
    }
  });

  test('useGitHelper routes runGit through one shared helper until the last user lets go', async () => {
    const before = await childHelpers();
    const releaseA = useGitHelper();
    const releaseB = useGitHelper();
    const r = await runGit(['--version']);
    assert.match(r.stdout, /^git version /);
    assert.equal((await childHelpers()).length, before.length + 1, 'one helper for both users');
    await releaseA();
    await runGit(['--version']);
    assert.equal((await childHelpers()).length, before.length + 1);
    await releaseB();
    assert.equal((await childHelpers()).length, before.length, 'stopped with its last user');
    assert.match((await runGit(['--version'])).stdout, /^git version /, 'runGit forks here again');
  });
});

/** This process's git helper children, from /proc. */
async function childHelpers(): Promise<number[]> {
  const { readdir, readFile } = await import('node:fs/promises');
  const out: number[] = [];
  for (const pid of (await readdir('/proc')).filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid !== process.pid) continue;
      if ((await readFile(`/proc/${pid}/cmdline`, 'utf8')).includes('git-helper-main')) out.push(Number(pid));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

async function findHelperPid(): Promise<number> {
  for (let i = 0; i < 100; i++) {
    const pids = await childHelpers();
    if (pids.length === 1) return pids[0]!;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('no single git helper child found');
}
