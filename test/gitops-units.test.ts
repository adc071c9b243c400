import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { runGit } from '../src/gitops/git';
import { blobId, emptyTreeId, treeIdForFiles } from '../src/gitops/objects';
import { assertSafeDir, assertSafeFiles, dirsOverlap } from '../src/gitops/paths';
import { buildCommitMessage, parseTrailerLog } from '../src/gitops/trailers';
import { localRemotePath } from '../src/gitops/writer';

test('in-process object ids match git', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'ferry-units-'));
  try {
    await runGit(['init', '--bare', '--quiet', dir]);
    const files: Record<string, string> = {
      'kustomization.yaml': 'resources:\n  - deploy.yaml\n',
      'deploy.yaml': 'kind: Deployment\n',
      'a-b.yaml': 'x', // sorts before 'a/' subtree ('-' < '/')
      'a/z.yaml': 'z',
      'a0.yaml': '0', // sorts after 'a/' ('0' > '/')
      'a/nested/deep.txt': 'ünïcode ✓\n',
      'empty.txt': '',
    };
    // build the same tree with git: hash blobs, then mktree bottom-up via fast-import into a scratch commit
    const stream: string[] = ['commit refs/heads/scratch', 'committer T <t@x> 0 +0000', 'data 1', 'x'];
    for (const [name, content] of Object.entries(files)) {
      const len = Buffer.byteLength(content);
      stream.push(`M 100644 inline d/${name}`, `data ${len}`, content);
    }
    stream.push('', 'done', '');
    await runGit(['fast-import', '--quiet', '--done'], { gitDir: dir, input: stream.join('\n') });
    const tree = (await runGit(['rev-parse', 'scratch:d'], { gitDir: dir })).stdout.trim();
    assert.equal(treeIdForFiles('sha1', files), tree);
    const blob = (await runGit(['rev-parse', 'scratch:d/a/nested/deep.txt'], { gitDir: dir })).stdout.trim();
    assert.equal(blobId('sha1', files['a/nested/deep.txt']!), blob);
    assert.equal(emptyTreeId('sha1'), '4b825dc642cb6eb9a060e54bf8d69288fbee4904');
    assert.equal(treeIdForFiles('sha1', {}), null);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('path guard', () => {
  for (const bad of ['', '/abs', 'a/../b', '..', 'a//b', 'a/', 'a\\b', 'a\0b', './a', 'a/.git/x', 'a\nb']) {
    assert.throws(() => assertSafeDir(bad), Error, JSON.stringify(bad));
    assert.throws(() => assertSafeFiles('d', { [bad]: 'x' }), Error, JSON.stringify(bad));
  }
  assertSafeDir('staging/billing');
  assertSafeFiles('d', { 'a.yaml': '', 'sub/b c.yaml': '' });
  assert.throws(() => assertSafeFiles('d', { a: '', 'a/b': '' }), /both a file and a directory/);
  assert.equal(dirsOverlap('staging/a', 'staging/a'), true);
  assert.equal(dirsOverlap('staging', 'staging/a'), true);
  assert.equal(dirsOverlap('staging/a', 'staging/ab'), false);
});

test('commit message layout and trailer sanitising', () => {
  const msg = buildCommitMessage({
    title: '[staging/billing] release\nart-1',
    body: 'Line one\n---\nmore',
    trailers: { 'Ferry-App': 'billing', 'Ferry-Released-By': 'eve\nInjected: yes', 'Ferry-Release-Id': 'spoof' },
    releaseId: 'rel-1',
  });
  assert.equal(
    msg,
    '[staging/billing] release art-1\n\nLine one\n ---\nmore\n\n' +
      'Ferry-Release-Id: rel-1\nFerry-App: billing\nFerry-Released-By: eve Injected: yes\n',
  );
  assert.throws(() => buildCommitMessage({ title: 't', trailers: { 'bad key': 'v' }, releaseId: 'r' }), /trailer key/);
  assert.throws(() => buildCommitMessage({ title: 't', trailers: {}, releaseId: 'has space' }), /releaseId/);
  assert.deepEqual(parseTrailerLog(`${'a'.repeat(40)}\n1700000000\nr1\n\0${'b'.repeat(40)}\n1700000001\n\0`), [
    { sha: 'a'.repeat(40), committedAt: 1700000000, releaseIds: ['r1'] },
    { sha: 'b'.repeat(40), committedAt: 1700000001, releaseIds: [] },
  ]);
});

test('localRemotePath: paths and file URLs are local (a direct write may apply), other transports are not', () => {
  assert.equal(localRemotePath('/srv/gitops.git'), '/srv/gitops.git');
  assert.equal(localRemotePath('file:///srv/my%20repo.git'), '/srv/my repo.git');
  assert.equal(localRemotePath('data/gitops.git'), path.resolve('data/gitops.git'));
  for (const remote of ['https://git.example/acme/gitops.git', 'ssh://git@git.example/acme/gitops.git', 'git@git.example:acme/gitops.git']) {
    assert.equal(localRemotePath(remote), null, remote);
  }
});
