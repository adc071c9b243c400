// What the CI system knows about the build: which commit, which branch, whether it is a pull request and between
// which branches. Each provider names these differently; the mistakes Gimlet's action made (PR source and target
// swapped, the merge commit taken for the PR head) are the ones to avoid here.
import fs from 'node:fs';
import { parseRemote } from './git';

export type CiProvider = 'github' | 'gitlab' | 'circleci' | 'jenkins';

export interface CiInfo {
  provider: CiProvider;
  repositoryName?: string;
  sha?: string;
  branch?: string;
  event?: 'push' | 'tag' | 'pr';
  sourceBranch?: string;
  targetBranch?: string;
  tag?: string;
  prNumber?: string;
  url?: string;
  jobUrl?: string;
  actor?: string;
  /** Non-secret CI variables that templates may use. Never the whole environment: CI tokens live there. */
  vars: Record<string, string>;
}

type Env = Record<string, string | undefined>;

const pick = (env: Env, names: string[]) =>
  Object.fromEntries(names.filter((n) => env[n] !== undefined && env[n] !== '').map((n) => [n, env[n] as string]));
const strip = (ref: string | undefined, prefix: string) => (ref?.startsWith(prefix) ? ref.slice(prefix.length) : ref);

export function detectCi(env: Env = process.env, readFile: (p: string) => string = (p) => fs.readFileSync(p, 'utf8')): CiInfo | null {
  if (env.GITHUB_ACTIONS === 'true') return github(env, readFile);
  if (env.GITLAB_CI === 'true') return gitlab(env);
  if (env.CIRCLECI === 'true') return circleci(env);
  if (env.JENKINS_URL || env.JENKINS_HOME) return jenkins(env);
  return null;
}

function github(env: Env, readFile: (p: string) => string): CiInfo {
  const server = env.GITHUB_SERVER_URL ?? 'https://github.com';
  const repo = env.GITHUB_REPOSITORY;
  const ref = env.GITHUB_REF ?? '';
  const vars = pick(env, ['GITHUB_REPOSITORY', 'GITHUB_REPOSITORY_OWNER', 'GITHUB_RUN_ID', 'GITHUB_RUN_NUMBER', 'GITHUB_RUN_ATTEMPT', 'GITHUB_WORKFLOW', 'GITHUB_JOB', 'GITHUB_ACTOR', 'GITHUB_EVENT_NAME', 'GITHUB_REF', 'GITHUB_REF_NAME', 'GITHUB_SHA', 'GITHUB_HEAD_REF', 'GITHUB_BASE_REF']);
  const info: CiInfo = {
    provider: 'github', repositoryName: repo, sha: env.GITHUB_SHA, actor: env.GITHUB_ACTOR, vars,
    jobUrl: repo && env.GITHUB_RUN_ID ? `${server}/${repo}/actions/runs/${env.GITHUB_RUN_ID}` : undefined,
  };
  const name = env.GITHUB_EVENT_NAME ?? '';
  if (name === 'pull_request' || name === 'pull_request_target') {
    // GITHUB_SHA is the merge commit GitHub made for the test run; the commit people know is the PR head.
    let pr: { number?: number; head?: { sha?: string }; html_url?: string } | undefined;
    try {
      pr = env.GITHUB_EVENT_PATH ? JSON.parse(readFile(env.GITHUB_EVENT_PATH)).pull_request : undefined;
    } catch {
      pr = undefined;
    }
    info.event = 'pr';
    info.sourceBranch = env.GITHUB_HEAD_REF;
    info.targetBranch = env.GITHUB_BASE_REF;
    info.branch = env.GITHUB_HEAD_REF;
    info.sha = pr?.head?.sha ?? env.GITHUB_SHA;
    info.prNumber = pr?.number !== undefined ? String(pr.number) : /^refs\/pull\/(\d+)\//.exec(ref)?.[1];
    info.url = pr?.html_url ?? (repo && info.prNumber ? `${server}/${repo}/pull/${info.prNumber}` : undefined);
  } else if (ref.startsWith('refs/tags/')) {
    info.event = 'tag';
    info.tag = strip(ref, 'refs/tags/');
  } else {
    info.event = 'push';
    info.branch = env.GITHUB_REF_NAME ?? strip(ref, 'refs/heads/');
  }
  if (!info.url && repo && info.sha) info.url = `${server}/${repo}/commit/${info.sha}`;
  return info;
}

function gitlab(env: Env): CiInfo {
  const vars = pick(env, ['CI_PROJECT_PATH', 'CI_PROJECT_NAMESPACE', 'CI_PROJECT_NAME', 'CI_PIPELINE_ID', 'CI_PIPELINE_IID', 'CI_PIPELINE_SOURCE', 'CI_JOB_ID', 'CI_JOB_NAME', 'CI_COMMIT_SHA', 'CI_COMMIT_SHORT_SHA', 'CI_COMMIT_REF_NAME', 'CI_COMMIT_REF_SLUG', 'CI_COMMIT_BRANCH', 'CI_COMMIT_TAG', 'CI_MERGE_REQUEST_IID', 'CI_MERGE_REQUEST_SOURCE_BRANCH_NAME', 'CI_MERGE_REQUEST_TARGET_BRANCH_NAME', 'GITLAB_USER_LOGIN']);
  const info: CiInfo = { provider: 'gitlab', repositoryName: env.CI_PROJECT_PATH, sha: env.CI_COMMIT_SHA, jobUrl: env.CI_JOB_URL, actor: env.GITLAB_USER_LOGIN, vars };
  if (env.CI_MERGE_REQUEST_IID) {
    info.event = 'pr';
    info.sourceBranch = env.CI_MERGE_REQUEST_SOURCE_BRANCH_NAME;
    info.targetBranch = env.CI_MERGE_REQUEST_TARGET_BRANCH_NAME;
    info.branch = info.sourceBranch;
    // Merged-results pipelines run on a merge commit; the source branch's head is the commit people pushed.
    info.sha = env.CI_MERGE_REQUEST_SOURCE_BRANCH_SHA || env.CI_COMMIT_SHA;
    info.prNumber = env.CI_MERGE_REQUEST_IID;
    info.url = env.CI_MERGE_REQUEST_PROJECT_URL || env.CI_PROJECT_URL ? `${env.CI_MERGE_REQUEST_PROJECT_URL || env.CI_PROJECT_URL}/-/merge_requests/${env.CI_MERGE_REQUEST_IID}` : undefined;
  } else if (env.CI_COMMIT_TAG) {
    info.event = 'tag';
    info.tag = env.CI_COMMIT_TAG;
  } else {
    info.event = 'push';
    info.branch = env.CI_COMMIT_BRANCH ?? env.CI_COMMIT_REF_NAME;
  }
  if (!info.url && env.CI_PROJECT_URL && info.sha) info.url = `${env.CI_PROJECT_URL}/-/commit/${info.sha}`;
  return info;
}

function circleci(env: Env): CiInfo {
  const repo = env.CIRCLE_PROJECT_USERNAME && env.CIRCLE_PROJECT_REPONAME ? `${env.CIRCLE_PROJECT_USERNAME}/${env.CIRCLE_PROJECT_REPONAME}` : undefined;
  const vars = pick(env, ['CIRCLE_PROJECT_USERNAME', 'CIRCLE_PROJECT_REPONAME', 'CIRCLE_BUILD_NUM', 'CIRCLE_WORKFLOW_ID', 'CIRCLE_JOB', 'CIRCLE_SHA1', 'CIRCLE_BRANCH', 'CIRCLE_TAG', 'CIRCLE_PR_NUMBER', 'CIRCLE_USERNAME']);
  const info: CiInfo = { provider: 'circleci', repositoryName: repo, sha: env.CIRCLE_SHA1, jobUrl: env.CIRCLE_BUILD_URL, actor: env.CIRCLE_USERNAME, vars };
  const prUrl = env.CIRCLE_PULL_REQUEST ?? env.CIRCLE_PULL_REQUESTS?.split(',')[0];
  if (env.CIRCLE_TAG) {
    info.event = 'tag';
    info.tag = env.CIRCLE_TAG;
  } else if (prUrl || env.CIRCLE_PR_NUMBER) {
    // CircleCI builds the branch head and does not say what the PR targets: FERRY_TARGET_BRANCH (or
    // --target-branch) fills that in.
    info.event = 'pr';
    info.branch = env.CIRCLE_BRANCH;
    info.sourceBranch = env.CIRCLE_BRANCH;
    info.targetBranch = env.FERRY_TARGET_BRANCH;
    info.prNumber = env.CIRCLE_PR_NUMBER ?? /\/(\d+)\/?$/.exec(prUrl ?? '')?.[1];
    info.url = prUrl;
  } else {
    info.event = 'push';
    info.branch = env.CIRCLE_BRANCH;
  }
  return info;
}

function jenkins(env: Env): CiInfo {
  const vars = pick(env, ['BUILD_NUMBER', 'BUILD_ID', 'BUILD_TAG', 'JOB_NAME', 'BRANCH_NAME', 'GIT_COMMIT', 'GIT_BRANCH', 'CHANGE_ID', 'CHANGE_BRANCH', 'CHANGE_TARGET', 'TAG_NAME']);
  const info: CiInfo = { provider: 'jenkins', repositoryName: env.GIT_URL ? parseRemote(env.GIT_URL)?.name : undefined, sha: env.GIT_COMMIT, jobUrl: env.BUILD_URL, actor: env.CHANGE_AUTHOR, vars };
  if (env.CHANGE_ID) {
    info.event = 'pr';
    info.sourceBranch = env.CHANGE_BRANCH;
    info.targetBranch = env.CHANGE_TARGET;
    info.branch = env.CHANGE_BRANCH;
    info.prNumber = env.CHANGE_ID;
    info.url = env.CHANGE_URL;
  } else if (env.TAG_NAME) {
    info.event = 'tag';
    info.tag = env.TAG_NAME;
  } else {
    info.event = 'push';
    info.branch = env.BRANCH_NAME ?? strip(env.GIT_BRANCH, 'origin/');
  }
  return info;
}
