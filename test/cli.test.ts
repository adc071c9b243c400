// The `ferry` CLI as a subprocess against a whole Ferry (Temporal, PostgreSQL, git), from temporary app checkouts.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { cliEnv, ENV_FILE, FERRY_BIN, makeCheckout, runBash, runCli, settleWhenReconciling, startCli } from './support/cli';
import { ADMIN_TOKEN, fluxEvent, makeArtifact, startStack, stopSharedTemporal, type Stack } from './support/stack';

let stack: Stack;
let ciToken: string;
let env: Record<string, string>;

before(async () => {
  stack = await startStack({ env: { FERRY_FLUX_TIMEOUT: '10m' } });
  const t = await stack.api('POST', '/api/tokens', { name: 'web-ci', role: 'ci', owner: 'ci-bot' });
  assert.equal(t.status, 201, JSON.stringify(t.body));
  ciToken = t.body.token;
  env = cliEnv({ FERRY_SERVER: stack.url, FERRY_TOKEN: ciToken });
});
after(async () => {
  await stack?.stop();
  await stopSharedTemporal();
});

const readJson = async (file: string) => JSON.parse(await fs.readFile(file, 'utf8'));

describe('artifact create, add and push', () => {
  test('from a GitHub Actions pull request: the PR head, not the merge commit, with source and target branches', async () => {
    const { dir, sha } = await makeCheckout({ name: 'web' });
    const eventFile = path.join(dir, '..', `${path.basename(dir)}-event.json`);
    await fs.writeFile(eventFile, JSON.stringify({ pull_request: { number: 42, head: { sha }, html_url: 'https://github.com/acme/web/pull/42' } }));
    const gh = {
      ...env, GITHUB_ACTIONS: 'true', GITHUB_REPOSITORY: 'acme/web', GITHUB_EVENT_NAME: 'pull_request', GITHUB_EVENT_PATH: eventFile,
      GITHUB_SHA: 'f'.repeat(40), GITHUB_REF: 'refs/pull/42/merge', GITHUB_HEAD_REF: 'feature/login', GITHUB_BASE_REF: 'main',
      GITHUB_SERVER_URL: 'https://github.com', GITHUB_RUN_ID: '777', GITHUB_ACTOR: 'grace',
    };
    const created = await runCli(['artifact', 'create'], { cwd: dir, env: gh });
    assert.equal(created.code, 0, created.stderr);
    assert.match(created.stdout, /wrote ferry-artifact\.json: acme\/web [0-9a-f]{12} \(pr feature\/login → main\)/);
    const doc = await readJson(path.join(dir, 'ferry-artifact.json'));
    assert.equal(doc.version.sha, sha);
    assert.equal(doc.version.event, 'pr');
    assert.equal(doc.version.branch, 'feature/login');
    assert.equal(doc.version.sourceBranch, 'feature/login');
    assert.equal(doc.version.targetBranch, 'main');
    assert.equal(doc.version.url, 'https://github.com/acme/web/pull/42');
    assert.equal(doc.version.authorEmail, 'grace@example.com');
    assert.equal(doc.vars.PR_NUMBER, '42');
    assert.equal(doc.vars.JOB_URL, 'https://github.com/acme/web/actions/runs/777');
    assert.deepEqual(doc.environments, []);

    const added = await runCli(['artifact', 'add', '--env-file', '.ferry/', '--var', 'IMAGE=ghcr.io/acme/web', '--item', 'image=ghcr.io/acme/web:1.2.3', '--field', 'name=tests', '--field', 'passed=118', '-o', 'json'], { cwd: dir, env: gh });
    assert.equal(added.code, 0, added.stderr);
    const addedDoc = JSON.parse(added.stdout);
    assert.deepEqual(addedDoc.environments.map((e: { app: string; env: string }) => `${e.app}/${e.env}`), ['web/staging']);
    assert.equal(addedDoc.vars.IMAGE, 'ghcr.io/acme/web');
    assert.deepEqual(addedDoc.items.find((i: { name: string }) => i.name === 'image'), { name: 'image', value: 'ghcr.io/acme/web:1.2.3', repository: 'ghcr.io/acme/web', tag: '1.2.3' });
    assert.deepEqual(addedDoc.items.find((i: { name: string }) => i.name === 'tests'), { name: 'tests', passed: '118' });

    const pushed = await runCli(['artifact', 'push', '-o', 'json'], { cwd: dir, env: gh });
    assert.equal(pushed.code, 0, pushed.stderr);
    const body = JSON.parse(pushed.stdout);
    assert.match(body.id, /^acme-web-[0-9a-f]{12}-pr-[0-9a-f]{8}$/);
    const stored = await stack.api('GET', `/api/artifacts/${body.id}`);
    assert.equal(stored.body.version.sha, sha);
    const row = await stack.ferry.db.query('SELECT created_by, created_by_token FROM artifacts WHERE id = $1', [body.id]);
    assert.equal(row.rows[0].created_by, 'ci-bot (token web-ci)');
    assert.ok(row.rows[0].created_by_token);
    // Pushing again is a no-op that still answers with the id.
    const again = await runCli(['artifact', 'push'], { cwd: dir, env: gh });
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, new RegExp(`pushed artifact ${body.id}`));
  });

  test('from GitLab CI: merge request, branch and tag pipelines', async () => {
    const { dir, sha } = await makeCheckout({ name: 'api', envFiles: { '.ferry/staging.yaml': ENV_FILE('api') } });
    const gl = { ...env, GITLAB_CI: 'true', CI_PROJECT_PATH: 'acme/platform/api', CI_PROJECT_URL: 'https://gitlab.example.com/acme/platform/api', CI_JOB_URL: 'https://gitlab.example.com/acme/platform/api/-/jobs/9' };
    const mr = await runCli(['artifact', 'create', '-f', 'mr.json', '--env-file', '.ferry/staging.yaml', '-o', 'json'], {
      cwd: dir,
      env: { ...gl, CI_COMMIT_SHA: 'e'.repeat(40), CI_MERGE_REQUEST_SOURCE_BRANCH_SHA: sha, CI_MERGE_REQUEST_IID: '5', CI_MERGE_REQUEST_SOURCE_BRANCH_NAME: 'fix/timeouts', CI_MERGE_REQUEST_TARGET_BRANCH_NAME: 'develop', CI_COMMIT_REF_NAME: 'fix/timeouts' },
    });
    assert.equal(mr.code, 0, mr.stderr);
    const m = JSON.parse(mr.stdout);
    assert.deepEqual([m.version.event, m.version.sha, m.version.branch, m.version.sourceBranch, m.version.targetBranch, m.version.repositoryName],
      ['pr', sha, 'fix/timeouts', 'fix/timeouts', 'develop', 'acme/platform/api']);
    assert.equal(m.version.url, 'https://gitlab.example.com/acme/platform/api/-/merge_requests/5');
    assert.equal(m.environments[0].app, 'api');

    const branch = await runCli(['artifact', 'create', '-f', '-'], { cwd: dir, env: { ...gl, CI_COMMIT_SHA: sha, CI_COMMIT_BRANCH: 'main', CI_COMMIT_REF_NAME: 'main' } });
    const b = JSON.parse(branch.stdout);
    assert.deepEqual([b.version.event, b.version.branch, b.version.sourceBranch], ['push', 'main', undefined]);
    assert.equal(b.version.url, `https://gitlab.example.com/acme/platform/api/-/commit/${sha}`);

    const tag = await runCli(['artifact', 'create', '-f', '-'], { cwd: dir, env: { ...gl, CI_COMMIT_SHA: sha, CI_COMMIT_TAG: 'v2.0.1', CI_COMMIT_REF_NAME: 'v2.0.1' } });
    const t = JSON.parse(tag.stdout);
    assert.deepEqual([t.version.event, t.version.tag, t.version.branch], ['tag', 'v2.0.1', '']);

    const pushed = await runCli(['artifact', 'push', '-f', 'mr.json'], { cwd: dir, env: gl });
    assert.equal(pushed.code, 0, pushed.stderr);
    assert.match(pushed.stdout, /pushed artifact acme-platform-api-[0-9a-f]{12}-pr-/);
  });

  test("Gimlet's .gimlet/*.yaml environment files are read as they are", async () => {
    const gimletEnv = `app: shop
env: staging
namespace: shop
deploy:
  branch: main
  event: push
values:
  replicas: 2
manifests: |
  apiVersion: v1
  kind: ConfigMap
  metadata:
    name: shop
`;
    const { dir } = await makeCheckout({ name: 'shop', envFiles: { '.gimlet/staging.yaml': gimletEnv } });
    const created = await runCli(['artifact', 'create', '--env-file', '.gimlet/staging.yaml', '-f', '-'], { cwd: dir, env });
    assert.equal(created.code, 0, created.stderr);
    const doc = JSON.parse(created.stdout);
    assert.deepEqual(doc.environments[0].deploy, { branch: 'main', event: 'push' });
    assert.deepEqual(doc.environments[0].values, { replicas: 2 });
    await fs.writeFile(path.join(dir, '.gimlet', 'bad.yaml'), 'app: Bad_Name\nenv: staging\nnamespace: shop\n');
    const bad = await runCli(['artifact', 'create', '--env-file', '.gimlet/', '-f', '-'], { cwd: dir, env });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^ferry: \.gimlet\/bad\.yaml: app: app name must be/);
    assert.equal(bad.stderr.trim().split('\n').length, 1);
  });
});

describe('deploy --wait', () => {
  test('follows a release to success, one line per change, and exits 0', async () => {
    const { dir, sha } = await makeCheckout({ name: 'web', envFiles: { '.ferry/web-ok.yaml': ENV_FILE('web-ok') } });
    const run = startCli(['deploy', '--app', 'web-ok', '--env', 'staging', '--wait', '--timeout', '2m'], { cwd: dir, env });
    const releaseId = await settleWhenReconciling(stack, 'web-ok', ['Progressing', 'ReconciliationSucceeded'], fluxEvent);
    const res = await run.result;
    assert.equal(res.code, 0, `${res.stdout}\n${res.stderr}`);
    const lines = res.stdout.trim().split('\n');
    assert.match(lines[0], /^artifact acme-web-[0-9a-f]{12}-push-[0-9a-f]{8} pushed$/);
    assert.equal(lines[1], `release accepted: ${releaseId} (pending)`);
    const text = res.stdout;
    for (const expected of [/ {2}rendering\n/, / {2}committing: 2 files/, / {2}committed as [0-9a-f]{12}\n/, / {2}reconciling: waiting up to 10m for Flux\n/, / {2}Flux: Progressing\n/, / {2}Flux: ReconciliationSucceeded\n/]) {
      assert.match(text, expected);
    }
    assert.ok(text.indexOf('Flux: Progressing') < text.indexOf('Flux: ReconciliationSucceeded'));
    assert.match(lines.at(-1) ?? '', /^✓ web-ok → staging: succeeded at [0-9a-f]{12} \(Flux: ReconciliationSucceeded\) in \d+s$/);
    assert.doesNotMatch(text, /\r|\x1b\[/, 'no spinner escapes in a non-terminal log');
    const release = await stack.api('GET', `/api/releases/${encodeURIComponent(releaseId)}`);
    assert.equal(release.body.status, 'succeeded');
    assert.equal(release.body.sha, sha);
    assert.equal(release.body.releasedBy, 'ci-bot (token web-ci)');
    assert.match(stack.git('log', '-1', '--format=%B', release.body.gitopsCommit), /Ferry-Released-By: ci-bot \(token web-ci\)/);
  });

  test('a release that Flux fails ends with exit 3 and the reason on one line', async () => {
    const { dir } = await makeCheckout({ name: 'web', envFiles: { '.ferry/web-bad.yaml': ENV_FILE('web-bad') } });
    const run = startCli(['deploy', '--app', 'web-bad', '--env', 'staging', '--wait', '-o', 'json'], { cwd: dir, env });
    await settleWhenReconciling(stack, 'web-bad', ['ReconciliationFailed'], fluxEvent);
    const res = await run.result;
    assert.equal(res.code, 3, res.stderr);
    const errorLines = res.stderr.split('\n').filter((l) => l.startsWith('ferry: '));
    assert.equal(errorLines.length, 1);
    assert.match(errorLines[0], /^ferry: release release:web-bad:staging:\S+ failed: Flux ReconciliationFailed: Deployment\/web dry-run failed/);
    // JSON mode: the progress went to stderr, stdout is one document with the failed release.
    const doc = JSON.parse(res.stdout);
    assert.equal(doc.release.status, 'failed');
    assert.equal(doc.release.fluxStatus, 'ReconciliationFailed');
    assert.match(res.stderr, / {2}committed as [0-9a-f]{12}/);
  });

  test('a release that cannot render fails fast with exit 3', async () => {
    const broken = ENV_FILE('broken', 'staging', '\n    missing: "{{ .NOT_DEFINED }}"');
    const { dir } = await makeCheckout({ name: 'web', envFiles: { '.ferry/broken.yaml': broken } });
    const res = await runCli(['deploy', '--app', 'broken', '--env', 'staging', '--wait'], { cwd: dir, env });
    assert.equal(res.code, 3, res.stderr);
    assert.match(res.stderr, /^ferry: release release:broken:staging:\S+ failed: .*NOT_DEFINED/m);
    assert.match(res.stdout, /✗ broken → staging: failed/);
  });

  test('--timeout gives up with exit 4 and says how to keep following', async () => {
    const { dir } = await makeCheckout({ name: 'web', envFiles: { '.ferry/slowpoke.yaml': ENV_FILE('slowpoke') } });
    const res = await runCli(['deploy', '--app', 'slowpoke', '--env', 'staging', '--wait', '--timeout', '3s'], { cwd: dir, env });
    assert.equal(res.code, 4, res.stderr);
    assert.match(res.stderr, /^ferry: release release:slowpoke:staging:\S+ is still \S+ after 3s; keep following it with: ferry watch release:slowpoke/m);
  });
  test('on a terminal a spinner line shows the state; the same command in a log has none', async () => {
    const pushedArtifact = await stack.api('POST', '/api/artifacts', makeArtifact({ apps: [{ app: 'tty', env: 'staging' }] }));
    const started = await stack.api('POST', '/api/releases', { artifactId: pushedArtifact.body.id, env: 'staging' });
    await stack.waitForRelease(started.body.id, ['reconciling']);
    const { dir } = await makeCheckout({ name: 'web' });
    // `script` gives the CLI a pseudo-terminal, as a person's shell would.
    const tty = await runBash(`script -qec '${FERRY_BIN} watch ${started.body.id} --timeout 2s' /dev/null`, { cwd: dir, env });
    assert.equal(tty.code, 4, tty.stdout);
    assert.match(tty.stdout, /\r\x1b\[K[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] reconciling tty → staging \(\d+s\)/);
    const plain = await runCli(['watch', started.body.id, '--timeout', '1s'], { cwd: dir, env });
    assert.equal(plain.code, 4);
    assert.doesNotMatch(plain.stdout, /\r|\x1b\[|⠋/);
  });
});

describe('every command answers --output json', () => {
  test('deploy, release by artifact and by branch, watch, tokens, completion', async () => {
    const { dir } = await makeCheckout({ name: 'json', branch: 'release/7', envFiles: { '.ferry/app.yaml': ENV_FILE('jsonapp') } });
    const deployed = await runCli(['deploy', '-a', 'jsonapp', '-e', 'staging', '-o', 'json'], { cwd: dir, env });
    assert.equal(deployed.code, 0, deployed.stderr);
    const d = JSON.parse(deployed.stdout);
    assert.match(d.artifactId, /^acme-json-/);
    assert.equal(d.release.id, `release:jsonapp:staging:${d.artifactId}`);
    assert.ok(['pending', 'rendering', 'committing', 'committed', 'reconciling'].includes(d.release.status));
    await settleWhenReconciling(stack, 'jsonapp', ['ReconciliationSucceeded'], fluxEvent);

    const watched = await runCli(['watch', d.release.id, '-o', 'json'], { cwd: dir, env });
    assert.equal(watched.code, 0, watched.stderr);
    assert.equal(JSON.parse(watched.stdout).release.status, 'succeeded');

    const byArtifact = await runCli(['release', '--app', 'jsonapp', '--env', 'staging', '--artifact', d.artifactId, '-o', 'json'], { cwd: dir, env });
    assert.equal(byArtifact.code, 0, byArtifact.stderr);
    assert.equal(JSON.parse(byArtifact.stdout).release.status, 'succeeded', 'the same release again answers with its outcome');

    const byBranch = await runCli(['release', '--app', 'jsonapp', '--env', 'staging', '--branch', 'release/7', '-o', 'json'], { cwd: dir, env });
    assert.equal(byBranch.code, 0, byBranch.stderr);
    assert.equal(JSON.parse(byBranch.stdout).artifactId, d.artifactId);
    const noBranch = await runCli(['release', '--app', 'jsonapp', '--env', 'staging', '--branch', 'nope', '-o', 'json'], { cwd: dir, env });
    assert.equal(noBranch.code, 1);
    assert.match(JSON.parse(noBranch.stdout).error, /no artifact of app "jsonapp" for env "staging" on branch "nope"/);

    const admin = { ...env, FERRY_TOKEN: ADMIN_TOKEN };
    const created = await runCli(['token', 'create', '--name', 'json-deployer', '--role', 'deployer', '--env', 'staging,qa', '--expires', '30d', '-o', 'json'], { cwd: dir, env: admin });
    assert.equal(created.code, 0, created.stderr);
    const tok = JSON.parse(created.stdout);
    assert.deepEqual([tok.role, tok.envs, tok.owner], ['deployer', ['qa', 'staging'], 'admin']);
    assert.match(tok.token, /^ferry_[a-z0-9]{12}_/);
    const listed = await runCli(['token', 'list', '-o', 'json'], { cwd: dir, env: admin });
    const items = JSON.parse(listed.stdout).items;
    assert.ok(items.some((t: { name: string }) => t.name === 'json-deployer'));
    assert.ok(items.every((t: Record<string, unknown>) => !('token' in t) && !('secretHash' in t)));
    const revoked = await runCli(['token', 'revoke', 'json-deployer', '-o', 'json'], { cwd: dir, env: admin });
    assert.deepEqual(JSON.parse(revoked.stdout), { revoked: 'json-deployer' });
    const text = await runCli(['token', 'list', '--all'], { cwd: dir, env: admin });
    assert.match(text.stdout, /json-deployer\s+deployer\s+qa,staging\s+admin\s+\S+\s+never\s+revoked/);

    const bash = await runCli(['completion', 'bash'], { cwd: dir, env });
    assert.equal(bash.code, 0);
    execFileSync('bash', ['-n'], { input: bash.stdout });
    const words = execFileSync('bash', ['-c', `${bash.stdout}\nCOMP_WORDS=(ferry token c); COMP_CWORD=2; _ferry; echo "\${COMPREPLY[@]}"`], { encoding: 'utf8' });
    assert.equal(words.trim(), 'create');
    const flags = execFileSync('bash', ['-c', `${bash.stdout}\nCOMP_WORDS=(ferry deploy --wa); COMP_CWORD=2; _ferry; echo "\${COMPREPLY[@]}"`], { encoding: 'utf8' });
    assert.equal(flags.trim(), '--wait');
    const zsh = await runCli(['completion', 'zsh'], { cwd: dir, env });
    assert.match(zsh.stdout, /^#compdef ferry/);
    assert.match(zsh.stdout, /'\*--env-file\[/);
  });

  test('commands whose routes this server lacks fail with one line and a JSON error', async () => {
    // promote, rollback, status, history, approve/reject and policy talk to routes added by other parts of Ferry;
    // against a server without them the CLI still fails cleanly.
    const { dir } = await makeCheckout({ name: 'web' });
    for (const args of [['status', '--app', 'web'], ['history', '--app', 'web'], ['promote', '--app', 'web', '--env', 'prod'], ['policy', 'list']]) {
      const res = await runCli([...args, '-o', 'json'], { cwd: dir, env: { ...env, FERRY_TOKEN: ADMIN_TOKEN } });
      assert.equal(res.code, 1, args.join(' '));
      assert.match(res.stderr, /^ferry: this Ferry server has no (GET|POST) \/api\/\S+ \(404\): is it an older version\?\n$/);
      assert.equal(JSON.parse(res.stdout).exitCode, 1);
    }
  });
});

describe('errors are one line with a non-zero exit code', () => {
  test('unreachable server, bad token, forbidden, invalid input, bad usage', async () => {
    const { dir } = await makeCheckout({ name: 'web' });
    const unreachable = await runCli(['token', 'list'], { cwd: dir, env: { ...env, FERRY_SERVER: 'http://127.0.0.1:9' } });
    assert.equal(unreachable.code, 1);
    assert.match(unreachable.stderr, /^ferry: cannot reach Ferry at http:\/\/127\.0\.0\.1:9: .+\n$/);

    const badToken = await runCli(['artifact', 'push', '-f', 'none.json'], { cwd: dir, env });
    assert.equal(badToken.code, 1);
    assert.match(badToken.stderr, /^ferry: no artifact file at none\.json: run "ferry artifact create" first\n$/);
    await runCli(['artifact', 'create'], { cwd: dir, env });
    const unknown = await runCli(['artifact', 'push'], { cwd: dir, env: { ...env, FERRY_TOKEN: 'ferry_aaaaaaaaaaaa_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb' } });
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /^ferry: http:\/\/127\.0\.0\.1:\d+ did not accept the token \(401\): unknown token; check FERRY_TOKEN\n$/);
    const noToken = await runCli(['artifact', 'push'], { cwd: dir, env: { ...env, FERRY_TOKEN: '' } });
    assert.equal(noToken.code, 2);
    assert.match(noToken.stderr, /^ferry: no API token: set FERRY_TOKEN or pass --token\n$/);

    const forbidden = await runCli(['token', 'list'], { cwd: dir, env });
    assert.equal(forbidden.code, 1);
    assert.match(forbidden.stderr, /^ferry: not allowed \(403\): needs role admin; ci-bot \(token web-ci\) has ci\n$/);

    const invalid = await runCli(['release', '--app', 'web', '--env', 'Not_An_Env', '--artifact', 'x-1'], { cwd: dir, env });
    assert.equal(invalid.code, 1);
    assert.match(invalid.stderr, /^ferry: invalid request: env: env name must be 1-63 characters.* \(400\)\n$/);

    const missing = await runCli(['deploy', '--app', 'web'], { cwd: dir, env });
    assert.equal(missing.code, 2);
    assert.equal(missing.stderr, 'ferry: missing --env\n');
    const badFlag = await runCli(['deploy', '--ap', 'web'], { cwd: dir, env });
    assert.equal(badFlag.code, 2);
    assert.match(badFlag.stderr, /^ferry: unknown flag '--ap'.*\(see ferry deploy --help\)\n$/);
    const noCommand = await runCli(['frobnicate'], { cwd: dir, env });
    assert.equal(noCommand.code, 2);
    assert.equal(noCommand.stderr, 'ferry: unknown command "frobnicate" (see ferry --help)\n');
  });

  test('npx ferry works from a checkout', async () => {
    const root = path.resolve(__dirname, '..');
    const res = execFileSync('npx', ['--no-install', 'ferry', '--version'], { cwd: root, encoding: 'utf8', env: { ...process.env, npm_config_update_notifier: 'false' } });
    assert.match(res, /^ferry \d+\.\d+\.\d+/);
  });
});
