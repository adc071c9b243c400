// Pure parts of the CLI and of authorization: CI variables, remotes, grants, Gimlet's tracking view, tokens; and the
// CLI's answers that need no server (its version).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { imageRef, keyValue } from '../cli/artifact-file';
import { detectCi } from '../cli/ci';
import { parseRemote } from '../cli/git';
import { deny, mergeGrants, parseGrant, type Principal } from '../src/auth/roles';
import { generateToken, parseDurationMs, parseToken, secretMatches } from '../src/auth/tokens';
import { artifactTrack, gimletResult, releaseTrack } from '../src/gimlet/track';
import type { ReleaseStatus } from '../src/release/types';
import { cliEnv, runCli } from './support/cli';

const noFile = () => {
  throw new Error('no event file');
};

describe('CI detection', () => {
  test('GitHub Actions: push, tag, and a pull request whose head comes from the event payload', () => {
    const base = { GITHUB_ACTIONS: 'true', GITHUB_REPOSITORY: 'acme/shop', GITHUB_SHA: 'a'.repeat(40), GITHUB_RUN_ID: '5', GITHUB_SERVER_URL: 'https://github.com' };
    const push = detectCi({ ...base, GITHUB_EVENT_NAME: 'push', GITHUB_REF: 'refs/heads/release/1.2', GITHUB_REF_NAME: 'release/1.2' }, noFile);
    assert.deepEqual([push?.event, push?.branch, push?.sha, push?.url], ['push', 'release/1.2', 'a'.repeat(40), `https://github.com/acme/shop/commit/${'a'.repeat(40)}`]);
    const tag = detectCi({ ...base, GITHUB_EVENT_NAME: 'push', GITHUB_REF: 'refs/tags/v1.0.0', GITHUB_REF_NAME: 'v1.0.0' }, noFile);
    assert.deepEqual([tag?.event, tag?.tag, tag?.branch], ['tag', 'v1.0.0', undefined]);
    const pr = detectCi({ ...base, GITHUB_EVENT_NAME: 'pull_request', GITHUB_REF: 'refs/pull/9/merge', GITHUB_HEAD_REF: 'feat', GITHUB_BASE_REF: 'main', GITHUB_EVENT_PATH: '/e.json' },
      () => JSON.stringify({ pull_request: { number: 9, head: { sha: 'b'.repeat(40) } } }));
    assert.deepEqual([pr?.event, pr?.sha, pr?.sourceBranch, pr?.targetBranch, pr?.branch, pr?.prNumber, pr?.url],
      ['pr', 'b'.repeat(40), 'feat', 'main', 'feat', '9', 'https://github.com/acme/shop/pull/9']);
    // Without the payload the PR number still comes from the ref.
    const bare = detectCi({ ...base, GITHUB_EVENT_NAME: 'pull_request', GITHUB_REF: 'refs/pull/9/merge', GITHUB_HEAD_REF: 'feat', GITHUB_BASE_REF: 'main' }, noFile);
    assert.equal(bare?.prNumber, '9');
  });

  test('GitLab, CircleCI and Jenkins', () => {
    const mr = detectCi({ GITLAB_CI: 'true', CI_PROJECT_PATH: 'g/sub/app', CI_COMMIT_SHA: 'c'.repeat(40), CI_MERGE_REQUEST_IID: '3', CI_MERGE_REQUEST_SOURCE_BRANCH_NAME: 'x', CI_MERGE_REQUEST_TARGET_BRANCH_NAME: 'main' });
    assert.deepEqual([mr?.event, mr?.repositoryName, mr?.sha, mr?.sourceBranch, mr?.targetBranch], ['pr', 'g/sub/app', 'c'.repeat(40), 'x', 'main']);
    const circlePr = detectCi({ CIRCLECI: 'true', CIRCLE_PROJECT_USERNAME: 'acme', CIRCLE_PROJECT_REPONAME: 'app', CIRCLE_SHA1: 'd'.repeat(40), CIRCLE_BRANCH: 'feat', CIRCLE_PULL_REQUEST: 'https://github.com/acme/app/pull/12', FERRY_TARGET_BRANCH: 'main' });
    assert.deepEqual([circlePr?.event, circlePr?.repositoryName, circlePr?.sourceBranch, circlePr?.targetBranch, circlePr?.prNumber], ['pr', 'acme/app', 'feat', 'main', '12']);
    const circlePush = detectCi({ CIRCLECI: 'true', CIRCLE_SHA1: 'd'.repeat(40), CIRCLE_BRANCH: 'main' });
    assert.deepEqual([circlePush?.event, circlePush?.branch], ['push', 'main']);
    const jenkinsPr = detectCi({ JENKINS_URL: 'https://ci/', GIT_URL: 'https://git.example.com/acme/app.git', GIT_COMMIT: 'e'.repeat(40), BRANCH_NAME: 'PR-4', CHANGE_ID: '4', CHANGE_BRANCH: 'fix', CHANGE_TARGET: 'develop', BUILD_URL: 'https://ci/job/4/' });
    assert.deepEqual([jenkinsPr?.event, jenkinsPr?.repositoryName, jenkinsPr?.branch, jenkinsPr?.sourceBranch, jenkinsPr?.targetBranch, jenkinsPr?.jobUrl],
      ['pr', 'acme/app', 'fix', 'fix', 'develop', 'https://ci/job/4/']);
    const jenkinsPush = detectCi({ JENKINS_URL: 'https://ci/', GIT_COMMIT: 'e'.repeat(40), GIT_BRANCH: 'origin/main' });
    assert.equal(jenkinsPush?.branch, 'main');
    assert.equal(detectCi({}), null);
  });

  test('CI tokens and secrets never become artifact variables', () => {
    const gl = detectCi({ GITLAB_CI: 'true', CI_JOB_TOKEN: 'secret', CI_REGISTRY_PASSWORD: 'secret', CI_COMMIT_SHA: 'c'.repeat(40), CI_COMMIT_BRANCH: 'main' });
    assert.ok(!JSON.stringify(gl?.vars).includes('secret'));
    const gh = detectCi({ GITHUB_ACTIONS: 'true', GITHUB_TOKEN: 'secret', ACTIONS_RUNTIME_TOKEN: 'secret', GITHUB_SHA: 'a'.repeat(40) }, noFile);
    assert.ok(!JSON.stringify(gh?.vars).includes('secret'));
  });
});

test('remotes: scp-style, https, ssh, nested groups, local paths', () => {
  assert.deepEqual(parseRemote('git@github.com:acme/shop.git'), { name: 'acme/shop', web: 'https://github.com/acme/shop' });
  assert.deepEqual(parseRemote('https://gitlab.example.com/g/sub/app.git'), { name: 'g/sub/app', web: 'https://gitlab.example.com/g/sub/app' });
  assert.deepEqual(parseRemote('ssh://git@host:2222/acme/app'), { name: 'acme/app', web: 'https://host/acme/app' });
  assert.deepEqual(parseRemote('https://user:pw@github.com/acme/app'), { name: 'acme/app', web: 'https://github.com/acme/app' });
  assert.equal(parseRemote('/srv/git/app.git')?.name, 'app');
});

test('items and key=value flags', () => {
  assert.deepEqual(imageRef('registry.example.com:5000/acme/shop:1.2'), { repository: 'registry.example.com:5000/acme/shop', tag: '1.2' });
  assert.deepEqual(imageRef('registry.example.com:5000/acme/shop'), {});
  assert.deepEqual(imageRef('https://ci.example.com/job/4'), {});
  assert.deepEqual(keyValue('var', 'URL=https://x/?a=b'), ['URL', 'https://x/?a=b']);
  assert.throws(() => keyValue('var', 'novalue'), /--var takes key=value/);
});

describe('grants', () => {
  const p = (grants: Principal['grants']): Principal => ({ id: 'token-owner:n', name: 'n', actor: 'n (token t)', role: grants[0].role, grants, repos: null, apps: null, via: 'token' });

  test('roles are sets of rights; admin has all of them', () => {
    assert.equal(deny(p([{ role: 'admin', envs: null }]), ['approver'], 'prod'), null);
    assert.equal(deny(p([{ role: 'deployer', envs: null }]), ['approver'])?.missing, 'role');
    assert.equal(deny(p([{ role: 'approver', envs: null }]), ['deployer'])?.message, 'needs role deployer or admin; n (token t) has approver');
  });

  test('environment limits apply per grant', () => {
    const both = p([{ role: 'deployer', envs: ['staging'] }, { role: 'approver', envs: null }]);
    assert.equal(deny(both, ['deployer'], 'staging'), null);
    assert.deepEqual(deny(both, ['deployer'], 'prod'), { missing: 'env', env: 'prod', allowed: ['staging'], message: 'n (token t) may act on environment staging only, not "prod"' });
    assert.equal(deny(both, ['approver'], 'prod'), null);
    assert.equal(deny(both, ['deployer']), null, 'no environment involved');
  });

  test('OIDC claim values parse into grants and merge', () => {
    assert.deepEqual(parseGrant('deployer:staging+prod'), { role: 'deployer', envs: ['staging', 'prod'] });
    assert.deepEqual(parseGrant('approver'), { role: 'approver', envs: null });
    assert.equal(parseGrant('root'), null);
    assert.equal(parseGrant('deployer:Prod!'), null);
    assert.deepEqual(mergeGrants([{ role: 'deployer', envs: ['qa'] }, { role: 'deployer', envs: ['staging'] }, { role: 'ci', envs: null }]),
      [{ role: 'deployer', envs: ['qa', 'staging'] }, { role: 'ci', envs: null }]);
    assert.deepEqual(mergeGrants([{ role: 'deployer', envs: ['qa'] }, { role: 'deployer', envs: null }]), [{ role: 'deployer', envs: null }]);
  });
});

test('tokens: format, digest comparison, durations', () => {
  const t = generateToken();
  const parsed = parseToken(t.token);
  assert.equal(parsed?.id, t.id);
  assert.ok(parsed && secretMatches(parsed.secret, t.secretHash));
  assert.ok(parsed && !secretMatches(`${parsed.secret.slice(0, -1)}x`, t.secretHash));
  assert.equal(parseToken('ferry_short_x'), null);
  assert.equal(parseDurationMs('30d'), 30 * 86_400_000);
  assert.equal(parseDurationMs('soon'), null);
});

describe("Gimlet's tracking view of Ferry releases", () => {
  const row = (status: ReleaseStatus, extra: Record<string, unknown> = {}) => ({
    id: `release:a:staging:x`, app: 'a', env: 'staging', status, gitopsCommit: null, fluxStatus: null, error: null, createdAt: '2026-01-01T00:00:00Z', ...extra,
  });

  test('results end the way Gimlet clients decide: "Failed" anywhere fails, ReconciliationSucceeded succeeds', () => {
    assert.equal(gimletResult(row('succeeded', { gitopsCommit: 'c1' }), true).gitopsCommitStatus, 'ReconciliationSucceeded');
    assert.equal(gimletResult(row('committed', { gitopsCommit: 'c1' }), false).gitopsCommitStatus, 'ReconciliationSucceeded', 'committed is the end without Flux');
    assert.equal(gimletResult(row('committed', { gitopsCommit: 'c1' }), true).gitopsCommitStatus, 'NotReconciled');
    assert.equal(gimletResult(row('reconciling', { gitopsCommit: 'c1', fluxStatus: 'Progressing' }), true).gitopsCommitStatus, 'Progressing');
    assert.equal(gimletResult(row('failed', { gitopsCommit: 'c1', fluxStatus: 'HealthCheckFailed', error: 'x' }), true).gitopsCommitStatus, 'HealthCheckFailed');
    assert.match(gimletResult(row('timed-out', { gitopsCommit: 'c1' }), true).gitopsCommitStatus, /Failed/);
    const early = gimletResult(row('failed', { error: 'render' }), true);
    assert.deepEqual([early.status, early.gitopsCommitStatus, early.gitopsCommitStatusDesc], ['failure', 'ReleaseFailed', 'render']);
    assert.equal(gimletResult(row('rendering'), true).status, 'pending');
  });

  test('request status: new until written or until the deploy policies were evaluated, error when nothing could be written', () => {
    assert.equal(releaseTrack(row('rendering'), true).status, 'new');
    assert.equal(releaseTrack(row('reconciling', { gitopsCommit: 'c' }), true).status, 'processed');
    assert.equal(releaseTrack({ ...row('failed', { error: 'e' }), trigger: 'rollback' }, true).type, 'rollback');
    assert.equal(artifactTrack([], true, 'pending').status, 'new');
    // The Action's deploy mode waits for this before making its own release: no policy released the artifact.
    assert.deepEqual(artifactTrack([], true, 'evaluated'), { status: 'processed', statusDesc: 'no deploy policy released this artifact', results: [] });
    assert.equal(artifactTrack([], true, { failed: 'terminated' }).status, 'error');
    assert.equal(artifactTrack([row('succeeded', { gitopsCommit: 'c' })], true, 'pending').status, 'new');
    assert.equal(artifactTrack([row('succeeded', { gitopsCommit: 'c' }), row('rendering')], true).status, 'new');
    assert.equal(artifactTrack([row('failed', { error: 'boom' })], true).statusDesc, 'staging/a: boom');
  });
});

test('ferry --version and ferry version print the version of package.json, and need no server or token', async () => {
  const { version } = JSON.parse(readFileSync(path.resolve(__dirname, '../package.json'), 'utf8')) as { version: string };
  assert.match(version, /^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/);
  // an unreachable server and no token: the version is answered without asking anyone
  const env = cliEnv({ FERRY_SERVER: 'http://127.0.0.1:9' });
  for (const args of [['--version'], ['version']]) {
    const r = await runCli(args, { cwd: tmpdir(), env });
    assert.deepEqual(r, { code: 0, stdout: `ferry ${version}\n`, stderr: '' }, args.join(' '));
  }
  const help = await runCli(['--help'], { cwd: tmpdir(), env });
  assert.match(help.stdout, /"ferry --version" for the version/);
});
