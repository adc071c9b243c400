// The `ferry` CLI as a subprocess against a whole Ferry (Temporal, PostgreSQL, git), from temporary app checkouts.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { cliEnv, ENV_FILE, FERRY_BIN, makeCheckout, runBash, runCli, settleWhenReconciling, startCli } from './support/cli';
import { configEnv, PEOPLE } from './support/gates';
import { ADMIN_TOKEN, fluxEvent, makeArtifact, startStack, stopSharedTemporal, type Stack } from './support/stack';

let stack: Stack;
let ciToken: string;
let env: Record<string, string>;

before(async () => {
  const config = await configEnv({
    staging: {},
    prod: { promotion: { from: 'staging' } },
    gated: { approvals: { required: 1, approvers: ['bob'], timeout: '10m' } },
  }, { FERRY_FLUX_TIMEOUT: '10m' }, { reconcile: { publicUrl: 'https://ferry.example.com' }, clusters: { eu: { webhookSecret: 'eu-secret' } } });
  stack = await startStack({ env: config });
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

});

/** Plays Flux for one release: once it waits on its commit, Flux reports success; resolves when it has succeeded. */
async function settle(releaseId: string): Promise<any> {
  const waiting = await stack.waitForRelease(releaseId, ['reconciling', 'succeeded', 'failed']);
  if (waiting.status === 'reconciling') await stack.postFlux(fluxEvent('ReconciliationSucceeded', waiting.gitopsCommit, { env: waiting.env }));
  const done = await stack.waitForRelease(releaseId, ['succeeded', 'failed']);
  assert.equal(done.status, 'succeeded', JSON.stringify(done));
  return done;
}

async function releaseOf(app: string, envs: string[], env: string, token?: string): Promise<{ artifactId: string; releaseId: string }> {
  const pushed = await stack.api('POST', '/api/artifacts', makeArtifact({ apps: envs.map((e) => ({ app, env: e })) }));
  assert.equal(pushed.status, 201, JSON.stringify(pushed.body));
  const started = await stack.api('POST', '/api/releases', { artifactId: pushed.body.id, env }, token ? { token } : {});
  assert.equal(started.status, 202, JSON.stringify(started.body));
  return { artifactId: pushed.body.id, releaseId: started.body.id };
}

describe('promote, rollback, status and history', () => {
  test('promote along staging → prod, roll back to the previous release and --to an artifact, then status and history', async () => {
    const { dir } = await makeCheckout({ name: 'chain' });
    const deployer = { ...env, FERRY_TOKEN: PEOPLE.alice };
    const nothing = await runCli(['promote', '--app', 'chain', '--env', 'prod'], { cwd: dir, env: deployer });
    assert.equal(nothing.code, 1);
    assert.match(nothing.stderr, /^ferry: nothing of app "chain" runs successfully in "staging" to promote \(409\)\n$/);

    const first = await releaseOf('chain', ['staging', 'prod'], 'staging');
    await settle(first.releaseId);
    const promoting = startCli(['promote', '--app', 'chain', '--env', 'prod', '--wait', '--timeout', '2m'], { cwd: dir, env: deployer });
    const promotedId = `release:chain:prod:${first.artifactId}`;
    await settle(promotedId);
    const promoted = await promoting.result;
    assert.equal(promoted.code, 0, `${promoted.stdout}\n${promoted.stderr}`);
    assert.match(promoted.stdout, new RegExp(`^promotion accepted: ${promotedId} \\(\\S+\\)\n`));
    assert.match(promoted.stdout, /✓ chain → prod: succeeded at [0-9a-f]{12}/);
    const promotedRelease = await stack.api('GET', `/api/releases/${encodeURIComponent(promotedId)}`);
    assert.deepEqual([promotedRelease.body.trigger, promotedRelease.body.releasedBy, promotedRelease.body.promotedFrom], ['promote', 'alice', first.releaseId]);

    const second = await releaseOf('chain', ['staging', 'prod'], 'prod');
    await settle(second.releaseId);
    const back = await runCli(['rollback', '--app', 'chain', '--env', 'prod', '-o', 'json'], { cwd: dir, env: deployer });
    assert.equal(back.code, 0, back.stderr);
    const b = JSON.parse(back.stdout).release;
    assert.equal(b.rollbackOf, second.releaseId);
    const backRelease = await settle(b.id);
    assert.deepEqual([backRelease.artifactId, backRelease.trigger], [first.artifactId, 'rollback']);

    const forward = await runCli(['rollback', '--app', 'chain', '--env', 'prod', '--to', second.artifactId], { cwd: dir, env: deployer });
    assert.equal(forward.code, 0, forward.stderr);
    const forwardId = /^rollback accepted: (\S+) \(\S+\)$/m.exec(forward.stdout)?.[1] ?? '';
    assert.match(forward.stdout, new RegExp(`rolls back ${b.id.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    assert.equal((await settle(forwardId)).artifactId, second.artifactId);
    const already = await runCli(['rollback', '--app', 'chain', '--env', 'prod', '--to', second.artifactId, '-o', 'json'], { cwd: dir, env: deployer });
    assert.equal(already.code, 1);
    assert.match(already.stderr, /^ferry: \S+ is already what prod has .*\(409\)\n$/);
    assert.equal(JSON.parse(already.stdout).exitCode, 1);

    const statusJson = await runCli(['status', '--app', 'chain', '-o', 'json'], { cwd: dir, env });
    assert.equal(statusJson.code, 0, statusJson.stderr);
    const s = JSON.parse(statusJson.stdout);
    assert.equal(s.app, 'chain');
    const byEnv = Object.fromEntries(s.environments.map((e: { env: string }) => [e.env, e]));
    assert.equal(byEnv.staging.current.artifactId, first.artifactId);
    assert.equal(byEnv.prod.current.id, forwardId);
    assert.equal(byEnv.prod.version.sha, (await stack.api('GET', `/api/artifacts/${second.artifactId}`)).body.version.sha);
    const statusText = await runCli(['status', '--app', 'chain'], { cwd: dir, env });
    assert.equal(statusText.code, 0, statusText.stderr);
    const lines = statusText.stdout.trim().split('\n');
    assert.equal(lines[0], 'chain');
    assert.match(lines[1], /^ENV\s+ARTIFACT\s+SHA\s+BRANCH\s+RELEASED\s+FLUX\s+COMMIT\s+IN FLIGHT\s+FROZEN$/);
    assert.match(statusText.stdout, new RegExp(`\\nstaging\\s+${first.artifactId}\\s+[0-9a-f]{12}\\s+main\\s+succeeded by admin \\S+ ago\\s+ReconciliationSucceeded\\s+[0-9a-f]{12}`));
    assert.match(statusText.stdout, new RegExp(`\\nprod\\s+${second.artifactId}\\s+[0-9a-f]{12}\\s+main\\s+succeeded by alice `));

    const history = await runCli(['history', '--app', 'chain', '--env', 'prod', '-o', 'json'], { cwd: dir, env });
    assert.equal(history.code, 0, history.stderr);
    const h = JSON.parse(history.stdout);
    assert.deepEqual(h.items.map((r: { trigger: string; artifactId: string }) => [r.trigger, r.artifactId]), [
      ['rollback', second.artifactId], ['rollback', first.artifactId], ['manual', second.artifactId], ['promote', first.artifactId],
    ]);
    assert.equal(h.nextBefore, null);
    const all = await runCli(['history', '--app', 'chain', '-n', '2'], { cwd: dir, env });
    assert.equal(all.code, 0, all.stderr);
    const rows = all.stdout.trim().split('\n');
    assert.match(rows[0], /^WHEN\s+ENV\s+STATUS\s+ARTIFACT\s+TRIGGER\s+BY\s+COMMIT$/);
    assert.match(rows[1], /^\S+ ago\s+prod\s+succeeded\s+\S+\s+rollback\s+alice\s+[0-9a-f]{12}$/);
    assert.equal(rows.length, 4);
    assert.match(rows[3], /^more: ferry history --app chain --before \S+$/);
    const older = await runCli(['history', '--app', 'chain', '-o', 'json', '--before', rows[3].split(' ').at(-1) ?? ''], { cwd: dir, env });
    assert.equal(JSON.parse(older.stdout).items.length, 3, 'two prod releases and the staging one remain');

    // Gimlet's rollback (`POST /api/rollback?env=&app=&sha=`, no body) goes to the same rollback, by GitOps commit.
    const gimlet = await stack.api('POST', `/api/rollback?env=prod&app=chain&sha=${backRelease.gitopsCommit.slice(0, 12)}`, undefined, { token: PEOPLE.alice });
    assert.equal(gimlet.status, 202, JSON.stringify(gimlet.body));
    assert.equal(gimlet.body.rollbackOf, forwardId);
    assert.equal((await settle(gimlet.body.id)).artifactId, first.artifactId);
  });
});

describe('approve and reject', () => {
  test('a release awaiting approval: refused decisions exit 1 with the reason, an approver lets it through or stops it', async () => {
    const { dir } = await makeCheckout({ name: 'gated' });
    const as = (who: keyof typeof PEOPLE) => ({ ...env, FERRY_TOKEN: PEOPLE[who] });
    const waiting = await releaseOf('vault', ['gated'], 'gated', PEOPLE.alice);
    await stack.waitForRelease(waiting.releaseId, ['awaiting-approval']);

    const mallory = await runCli(['approve', waiting.releaseId, '--comment', 'lgtm', '-o', 'json'], { cwd: dir, env: as('mallory') });
    assert.equal(mallory.code, 1);
    assert.match(mallory.stderr, /^ferry: not allowed \(403\): .*mallory.*\n$/);
    assert.equal(JSON.parse(mallory.stdout).exitCode, 1);
    const ci = await runCli(['approve', waiting.releaseId], { cwd: dir, env });
    assert.equal(ci.code, 1);
    assert.match(ci.stderr, /^ferry: not allowed \(403\): needs role approver/);
    const unknown = await runCli(['approve', 'release:vault:gated:nope'], { cwd: dir, env: as('bob') });
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /^ferry: release "release:vault:gated:nope" not found \(404\)\n$/);

    const approved = await runCli(['approve', waiting.releaseId, '--comment', 'checked the migration'], { cwd: dir, env: as('bob') });
    assert.equal(approved.code, 0, approved.stderr);
    assert.match(approved.stdout, new RegExp(`^approved ${waiting.releaseId}: approved \\(approvals: bob\\); release \\S+\n$`));
    const done = await settle(waiting.releaseId);
    assert.deepEqual(done.approvals.map((a: { by: string; comment: string }) => [a.by, a.comment]), [['bob', 'checked the migration']]);
    const late = await runCli(['reject', waiting.releaseId, '-m', 'too late'], { cwd: dir, env: as('bob') });
    assert.equal(late.code, 1);
    assert.match(late.stderr, /^ferry: .*\(409\)\n$/);

    const other = await releaseOf('vault', ['gated'], 'gated', PEOPLE.alice);
    await stack.waitForRelease(other.releaseId, ['awaiting-approval']);
    const rejected = await runCli(['reject', other.releaseId, '-m', 'breaks the ledger', '-o', 'json'], { cwd: dir, env: as('bob') });
    assert.equal(rejected.code, 0, rejected.stderr);
    const r = JSON.parse(rejected.stdout);
    assert.deepEqual([r.id, r.decision], [other.releaseId, 'rejected']);
    assert.equal((await stack.waitForRelease(other.releaseId, ['rejected'])).status, 'rejected');
    const watched = await runCli(['watch', other.releaseId, '--timeout', '10s'], { cwd: dir, env });
    assert.equal(watched.code, 3, watched.stderr);
    assert.match(watched.stderr, new RegExp(`^ferry: release ${other.releaseId} rejected: `, 'm'));
  });
});

describe('policies and Flux setup', () => {
  test('policy apply from YAML, list as table and JSON, delete; refusals exit 1', async () => {
    const { dir } = await makeCheckout({ name: 'pol' });
    const admin = { ...env, FERRY_TOKEN: ADMIN_TOKEN };
    await fs.writeFile(path.join(dir, 'policies.yaml'), 'kind: auto-release\napp: pol\nenv: staging\nbranch: main\n---\nkind: branch-restriction\napp: pol\nenv: prod\nbranchRegex: "^(main|release/.+)$"\n');
    const applied = await runCli(['policy', 'apply', '-f', 'policies.yaml'], { cwd: dir, env: admin });
    assert.equal(applied.code, 0, applied.stderr);
    assert.equal(applied.stdout, 'applied auto-release pol/staging (auto-release:pol:staging)\napplied branch-restriction pol/prod (branch-restriction:pol:prod)\n');
    const again = await runCli(['policy', 'apply', '-f', '-', '-o', 'json'], { cwd: dir, env: admin, stdin: '{"kind": "auto-release", "app": "pol", "env": "staging", "branch": "{main,develop}"}' });
    assert.equal(again.code, 0, again.stderr);
    assert.equal(JSON.parse(again.stdout).items[0].branch, '{main,develop}');

    const listed = await runCli(['policy', 'list', '--app', 'pol'], { cwd: dir, env });
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /^ID\s+KIND\s+APP\s+ENV\s+SETTINGS\n/);
    assert.match(listed.stdout, /\nauto-release:pol:staging\s+auto-release\s+pol\s+staging\s+branch=\{main,develop\}\n/);
    assert.match(listed.stdout, /\nbranch-restriction:pol:prod\s+branch-restriction\s+pol\s+prod\s+branchRegex=\^\(main\|release\/\.\+\)\$\n/);
    const json = await runCli(['policy', 'list', '--app', 'pol', '-o', 'json'], { cwd: dir, env });
    assert.deepEqual(JSON.parse(json.stdout).items.map((p: { id: string }) => p.id).sort(), ['auto-release:pol:staging', 'branch-restriction:pol:prod']);

    const forbidden = await runCli(['policy', 'delete', 'auto-release:pol:staging'], { cwd: dir, env });
    assert.equal(forbidden.code, 1);
    assert.match(forbidden.stderr, /^ferry: not allowed \(403\): needs role admin/);
    await fs.writeFile(path.join(dir, 'bad.yaml'), 'kind: freeze\napp: pol\nenv: staging\n');
    const bad = await runCli(['policy', 'apply', '-f', 'bad.yaml'], { cwd: dir, env: admin });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^ferry: invalid request: kind: must be one of .*\(400\)\n$/);

    const deleted = await runCli(['policy', 'delete', 'auto-release:pol:staging', 'branch-restriction:pol:prod', '-o', 'json'], { cwd: dir, env: admin });
    assert.equal(deleted.code, 0, deleted.stderr);
    assert.deepEqual(JSON.parse(deleted.stdout), { deleted: ['auto-release:pol:staging', 'branch-restriction:pol:prod'] });
    const gone = await runCli(['policy', 'delete', 'auto-release:pol:staging'], { cwd: dir, env: admin });
    assert.equal(gone.code, 1);
    assert.equal(gone.stderr, 'ferry: policy "auto-release:pol:staging" not found (404)\n');
    assert.deepEqual(JSON.parse((await runCli(['policy', 'list', '--app', 'pol', '-o', 'json'], { cwd: dir, env })).stdout).items, []);
  });

  test('flux setup <cluster> prints the manifests the server makes for that cluster', async () => {
    const { dir } = await makeCheckout({ name: 'web' });
    const setup = await runCli(['flux', 'setup', 'eu'], { cwd: dir, env });
    assert.equal(setup.code, 0, setup.stderr);
    const served = await fetch(`${stack.url}/api/flux/manifests/eu`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    assert.equal(setup.stdout, await served.text());
    assert.match(setup.stdout, /kind: Provider/);
    const json = await runCli(['flux', 'setup', 'eu', '-o', 'json'], { cwd: dir, env });
    assert.equal(JSON.parse(json.stdout).cluster, 'eu');
    assert.equal(JSON.parse(json.stdout).manifests, setup.stdout);
    const unknown = await runCli(['flux', 'setup', 'mars'], { cwd: dir, env });
    assert.equal(unknown.code, 1);
    assert.equal(unknown.stderr, 'ferry: cluster "mars" is not configured (404)\n');
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
