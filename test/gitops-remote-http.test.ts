// The GitOps remote over HTTP(S) with a token: the writer pushes to `git http-backend` behind a small Node HTTP
// server on 127.0.0.1 that demands Basic credentials, the token coming from bin/git-askpass-token.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { runGit } from '../src/gitops/git';
import { GitopsWriter } from '../src/gitops/writer';

const TOKEN = 'tok-0123456789abcdef';
const ASKPASS = path.resolve(__dirname, '../bin/git-askpass-token');
let root: string;
let server: http.Server;
let url: string;
const seen: string[] = [];

function backendPath(): string {
  const exec = spawnSync('git', ['--exec-path'], { encoding: 'utf8' }).stdout.trim();
  return path.join(exec, 'git-http-backend');
}

before(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-http-remote-'));
  await runGit(['init', '--bare', '--quiet', '--initial-branch=main', path.join(root, 'gitops.git')]);
  const backend = backendPath();
  server = http.createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    const auth = req.headers.authorization ?? '';
    const [user, pass] = Buffer.from(auth.replace(/^Basic /, ''), 'base64').toString().split(':');
    if (!auth.startsWith('Basic ') || user !== 'x-access-token' || pass !== TOKEN) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="gitops"' }).end();
      return;
    }
    const u = new URL(req.url!, 'http://x');
    const cgi = spawn(backend, [], {
      env: {
        GIT_PROJECT_ROOT: root, GIT_HTTP_EXPORT_ALL: '1', REMOTE_USER: user, REQUEST_METHOD: req.method!,
        PATH_INFO: u.pathname, QUERY_STRING: u.search.slice(1), CONTENT_TYPE: req.headers['content-type'] ?? '',
        HTTP_CONTENT_ENCODING: req.headers['content-encoding'] ?? '', GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null',
      },
    });
    req.pipe(cgi.stdin);
    let head = Buffer.alloc(0);
    let headersDone = false;
    cgi.stdout.on('data', (chunk: Buffer) => {
      if (headersDone) return void res.write(chunk);
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      headersDone = true;
      let status = 200;
      for (const line of head.subarray(0, end).toString().split('\r\n')) {
        const [k, ...v] = line.split(':');
        if (k!.toLowerCase() === 'status') status = Number(v.join(':').trim().split(' ')[0]);
        else res.setHeader(k!, v.join(':').trim());
      }
      res.writeHead(status);
      res.write(head.subarray(end + 4));
    });
    cgi.on('close', () => res.end());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/gitops.git`;
});

after(() => {
  server?.close();
  delete process.env.GIT_ASKPASS;
  delete process.env.FERRY_GITOPS_TOKEN;
  fs.rmSync(root, { recursive: true, force: true });
});

async function writer(): Promise<GitopsWriter> {
  const w = new GitopsWriter({
    remote: url, branch: 'main', cacheDir: fs.mkdtempSync(path.join(root, 'cache-')), committer: { name: 'Ferry', email: 'ferry@example.test' },
    retry: { maxElapsedMs: 1_000, initialDelayMs: 20, maxDelayMs: 100 },
  });
  await w.init();
  return w;
}

const change = (id: string) => ({ releaseId: id, dir: `staging/${id}`, files: { 'deploy.yaml': `# ${id}\n` }, title: id, trailers: { 'Ferry-Release-Id': id } });

test('with the token from GIT_ASKPASS the writer pushes over HTTP; the token is never in a URL', async () => {
  process.env.GIT_ASKPASS = ASKPASS;
  process.env.FERRY_GITOPS_TOKEN = TOKEN;
  const w = await writer();
  try {
    const r = await w.submit(change('over-http'));
    assert.equal(r.status, 'committed');
    const tip = spawnSync('git', ['--git-dir', path.join(root, 'gitops.git'), 'rev-parse', 'main'], { encoding: 'utf8' }).stdout.trim();
    assert.equal(tip, r.commit);
    assert.ok(seen.some((s) => s.startsWith('POST /gitops.git/git-receive-pack')), 'pushed through the HTTP server');
    assert.ok(seen.every((s) => !s.includes(TOKEN)));
  } finally {
    await w.close();
  }
});

test('a wrong token is refused and lands nothing; git does not prompt', async () => {
  process.env.GIT_ASKPASS = ASKPASS;
  process.env.FERRY_GITOPS_TOKEN = 'wrong-token';
  const before = spawnSync('git', ['--git-dir', path.join(root, 'gitops.git'), 'rev-list', '--all'], { encoding: 'utf8' }).stdout;
  await assert.rejects(async () => {
    const w = await writer();
    try {
      await w.submit(change('refused'));
    } finally {
      await w.close();
    }
  }, /Authentication failed|401|could not read/i);
  assert.equal(spawnSync('git', ['--git-dir', path.join(root, 'gitops.git'), 'rev-list', '--all'], { encoding: 'utf8' }).stdout, before);
});
