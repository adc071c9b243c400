// The CI integrations in integrations/, run the way each CI runs them: the step's script with that CI's variables,
// calling the real CLI against a whole Ferry.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { parse } from 'yaml';
import { cliEnv, ENV_FILE, FERRY_BIN, makeCheckout, runBash, settleWhenReconciling } from './support/cli';
import { fluxEvent, startStack, stopSharedTemporal, type Stack } from './support/stack';

const INTEGRATIONS = path.resolve(__dirname, '../integrations');
let stack: Stack;
let ciToken: string;

before(async () => {
  stack = await startStack({ env: { FERRY_FLUX_TIMEOUT: '10m' } });
  const t = await stack.api('POST', '/api/tokens', { name: 'pipelines', role: 'ci', owner: 'ci' });
  ciToken = t.body.token;
});
after(async () => {
  await stack?.stop();
  await stopSharedTemporal();
});

test('GitHub composite action: ships, deploys, waits and sets its outputs', async () => {
  const action = parse(await fs.readFile(path.join(INTEGRATIONS, 'github/action.yml'), 'utf8'));
  assert.equal(action.runs.using, 'composite');
  const inputs: Record<string, string> = Object.fromEntries(Object.entries(action.inputs as Record<string, { default?: string }>).map(([k, v]) => [k, v.default ?? '']));
  Object.assign(inputs, { server: stack.url, token: ciToken, app: 'gh-web', env: 'staging', items: 'image=ghcr.io/acme/web:1.0.0\n', vars: 'IMAGE=ghcr.io/acme/web', cli: FERRY_BIN, timeout: '2m' });
  const step = action.runs.steps[0];
  const expr = (s: string) => s.replace(/\$\{\{\s*inputs\.([\w-]+)\s*\}\}/g, (_m, k) => inputs[k] ?? '').replace(/\$\{\{\s*github\.action_path\s*\}\}/g, path.join(INTEGRATIONS, 'github'));
  const stepEnv = Object.fromEntries(Object.entries(step.env as Record<string, string>).map(([k, v]) => [k, expr(v)]));

  const { dir, sha } = await makeCheckout({ name: 'web', envFiles: { '.ferry/staging.yaml': ENV_FILE('gh-web') } });
  const runner = await fs.mkdtemp(path.join(os.tmpdir(), 'runner-'));
  const outputFile = path.join(runner, 'output');
  const env = cliEnv({
    ...stepEnv, GITHUB_ACTIONS: 'true', CI: 'true', GITHUB_REPOSITORY: 'acme/web', GITHUB_EVENT_NAME: 'push', GITHUB_REF: 'refs/heads/main', GITHUB_REF_NAME: 'main',
    GITHUB_SHA: sha, GITHUB_SERVER_URL: 'https://github.com', GITHUB_RUN_ID: '31', GITHUB_ACTOR: 'grace', GITHUB_OUTPUT: outputFile, RUNNER_TEMP: runner,
  });
  const running = runBash(expr(step.run), { cwd: dir, env });
  await settleWhenReconciling(stack, 'gh-web', ['ReconciliationSucceeded'], fluxEvent);
  const res = await running;
  assert.equal(res.code, 0, `${res.stdout}\n${res.stderr}`);
  assert.match(res.stderr, /✓ gh-web → staging: succeeded/);
  const outputs = Object.fromEntries((await fs.readFile(outputFile, 'utf8')).trim().split('\n').map((l) => l.split(/=(.*)/s).slice(0, 2)));
  assert.match(outputs['artifact-id'], /^acme-web-[0-9a-f]{12}-push-/);
  assert.equal(outputs['release-id'], `release:gh-web:staging:${outputs['artifact-id']}`);
  const artifact = (await stack.api('GET', `/api/artifacts/${outputs['artifact-id']}`)).body;
  assert.deepEqual([artifact.version.event, artifact.version.branch, artifact.version.sha], ['push', 'main', sha]);
  assert.equal(artifact.vars.JOB_URL, 'https://github.com/acme/web/actions/runs/31');
  assert.equal(artifact.items.find((i: { name: string }) => i.name === 'image').tag, '1.0.0');
});

test('GitLab CI template: a merge request pipeline ships a pr artifact with source and target, deploys and waits', async () => {
  const template = parse(await fs.readFile(path.join(INTEGRATIONS, 'gitlab/ferry.gitlab-ci.yml'), 'utf8'));
  const job = template['.ferry-ship'];
  const { dir, sha } = await makeCheckout({ name: 'api', envFiles: { '.ferry/review.yaml': ENV_FILE('gl-api', 'review') } });
  const env = cliEnv({
    ...job.variables, FERRY_CLI: FERRY_BIN, FERRY_APP: 'gl-api', FERRY_ENV: 'review', FERRY_SERVER: stack.url, FERRY_TOKEN: ciToken,
    GITLAB_CI: 'true', CI: 'true', CI_PROJECT_PATH: 'acme/api', CI_PROJECT_URL: 'https://gitlab.example.com/acme/api', CI_PIPELINE_SOURCE: 'merge_request_event',
    CI_COMMIT_SHA: sha, CI_COMMIT_REF_NAME: 'feature/rate-limit', CI_MERGE_REQUEST_IID: '17', CI_MERGE_REQUEST_SOURCE_BRANCH_NAME: 'feature/rate-limit',
    CI_MERGE_REQUEST_TARGET_BRANCH_NAME: 'main', CI_JOB_URL: 'https://gitlab.example.com/acme/api/-/jobs/4',
  });
  const running = runBash((job.script as string[]).join('\n'), { cwd: dir, env });
  await settleWhenReconciling(stack, 'gl-api', ['Progressing', 'ReconciliationSucceeded'], fluxEvent);
  const res = await running;
  assert.equal(res.code, 0, `${res.stdout}\n${res.stderr}`);
  assert.match(res.stdout, /Flux: Progressing/);
  assert.match(res.stdout, /✓ gl-api → review: succeeded/);
  const id = /FERRY_ARTIFACT_ID=(\S+)/.exec(await fs.readFile(path.join(dir, 'ferry.env'), 'utf8'))?.[1];
  const artifact = (await stack.api('GET', `/api/artifacts/${id}`)).body;
  assert.deepEqual([artifact.version.event, artifact.version.branch, artifact.version.sourceBranch, artifact.version.targetBranch], ['pr', 'feature/rate-limit', 'feature/rate-limit', 'main']);
  assert.equal(artifact.version.url, 'https://gitlab.example.com/acme/api/-/merge_requests/17');
});

test('CircleCI orb-style command: a tag build ships a tag artifact and starts the release without waiting', async () => {
  const orb = parse(await fs.readFile(path.join(INTEGRATIONS, 'circleci/ferry-orb.yml'), 'utf8'));
  const command = orb.commands['ferry-ship'];
  const params: Record<string, string> = Object.fromEntries(Object.entries(command.parameters as Record<string, { default: unknown }>).map(([k, v]) => [k, String(v.default)]));
  Object.assign(params, { app: 'cc-worker', env: 'staging', wait: 'false', cli: FERRY_BIN, items: 'image=cimg/worker:v3.1.0' });
  // CircleCI substitutes << parameters.x >> and unescapes \<< before running the step.
  const sub = (s: string) => s.replace(/<<\s*parameters\.([\w-]+)\s*>>/g, (_m, k) => params[k]).replace(/\\<</g, '<<');
  const step = command.steps[0].run;
  const stepEnv = Object.fromEntries(Object.entries(step.environment as Record<string, string>).map(([k, v]) => [k, sub(String(v))]));
  const { dir, sha } = await makeCheckout({ name: 'worker', envFiles: { '.ferry/staging.yaml': ENV_FILE('cc-worker') } });
  const env = cliEnv({
    ...stepEnv, FERRY_SERVER: stack.url, FERRY_TOKEN: ciToken, CIRCLECI: 'true', CI: 'true', CIRCLE_PROJECT_USERNAME: 'acme', CIRCLE_PROJECT_REPONAME: 'worker',
    CIRCLE_SHA1: sha, CIRCLE_TAG: 'v3.1.0', CIRCLE_BUILD_URL: 'https://circleci.com/gh/acme/worker/88', CIRCLE_USERNAME: 'grace',
  });
  const res = await runBash(sub(step.command), { cwd: dir, env });
  assert.equal(res.code, 0, `${res.stdout}\n${res.stderr}`);
  assert.match(res.stdout, /release accepted: release:cc-worker:staging:acme-worker-[0-9a-f]{12}-tag-/);
  const rows = await stack.ferry.db.query<{ artifact_id: string }>("SELECT artifact_id FROM releases WHERE app = 'cc-worker'");
  assert.equal(rows.rowCount, 1);
  const artifact = (await stack.api('GET', `/api/artifacts/${rows.rows[0].artifact_id}`)).body;
  assert.deepEqual([artifact.version.event, artifact.version.tag, artifact.version.repositoryName], ['tag', 'v3.1.0', 'acme/worker']);
  assert.equal(artifact.vars.JOB_URL, 'https://circleci.com/gh/acme/worker/88');
});
