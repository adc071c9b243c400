/**
 * A branch per environment, the pieces without git: configuration (FERRY_GITOPS_BRANCH_<ENV> and FERRY_CONFIG
 * `gitops.branch`, which must agree), the branch-name rule, the branch a Flux revision names, event attribution by
 * branch, the layout's routing, and the Flux objects `ferry flux setup` prints (never with credentials).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import YAML from 'yaml';
import { ConfigError, loadConfig } from '../src/config';
import { revisionNamesOtherBranch } from '../src/flux/event-branch';
import { branchOfRevision } from '../src/flux/revision';
import { branchNameProblem } from '../src/gitops/branch-name';
import { clusterCloneUrl, envSourceManifests, envsWithOwnSource } from '../src/gitops/flux-sources';
import { branchCacheDir, branchForEnv, layoutTargets, type RepoLayout, targetForEnv } from '../src/gitops/repos';

const SHA = '2a7995ebfc7670927618aefc34db3e6b39300ca1';

function configFile(yaml: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-env-branch-config-'));
  const f = path.join(dir, 'ferry.yaml');
  fs.writeFileSync(f, yaml);
  return f;
}

describe('configuration', () => {
  test('FERRY_GITOPS_BRANCH_<ENV> gives an environment a branch of its own, keyed like FERRY_GITOPS_REPO_<ENV>', () => {
    const c = loadConfig({ FERRY_GITOPS_BRANCH_STAGING: 'env/staging', FERRY_GITOPS_BRANCH_PROD_EU: 'env/prod-eu', FERRY_GITOPS_REPO_PROD_EU: '/srv/eu.git' });
    assert.deepEqual(c.gitopsBranchByEnv, { STAGING: 'env/staging', PROD_EU: 'env/prod-eu' });
    assert.equal(c.gitopsBranch, 'main');
    assert.deepEqual(loadConfig({}).gitopsBranchByEnv, {});
  });

  test('FERRY_CONFIG environments.<env>.gitops.branch does the same; both places must agree', () => {
    const f = configFile('environments:\n  staging-eu:\n    gitops: { branch: env/staging-eu }\n  qa: {}\n');
    assert.deepEqual(loadConfig({ FERRY_CONFIG: f }).gitopsBranchByEnv, { STAGING_EU: 'env/staging-eu' });
    assert.deepEqual(loadConfig({ FERRY_CONFIG: f, FERRY_GITOPS_BRANCH_STAGING_EU: 'env/staging-eu' }).gitopsBranchByEnv, { STAGING_EU: 'env/staging-eu' });
    assert.throws(
      () => loadConfig({ FERRY_CONFIG: f, FERRY_GITOPS_BRANCH_STAGING_EU: 'other' }),
      (e: Error) => e instanceof ConfigError && /FERRY_GITOPS_BRANCH_STAGING_EU \(other\) and FERRY_CONFIG environments\.staging-eu\.gitops\.branch \(env\/staging-eu\) disagree/.test(e.message),
    );
  });

  test('a bad branch or key stops start-up naming the variable or field', () => {
    for (const bad of ['../main', 'env/../x', 'env//x', '/env', 'env/', '.hidden', 'env/.x', 'x.lock', 'refs/heads/x', 'a b', 'a:b', 'a~1', 'x.', '-x', 'HEAD', 'ümlaut']) {
      assert.throws(() => loadConfig({ FERRY_GITOPS_BRANCH_STAGING: bad }), (e: Error) => e instanceof ConfigError && /FERRY_GITOPS_BRANCH_STAGING: /.test(e.message), bad);
    }
    assert.throws(() => loadConfig({ FERRY_GITOPS_BRANCH: 'env/../main' }), /FERRY_GITOPS_BRANCH: must not contain \.\./);
    assert.throws(() => loadConfig({ FERRY_GITOPS_BRANCH_staging: 'env/staging' }), /FERRY_GITOPS_BRANCH_staging: the environment part/);
    const f = configFile('environments:\n  staging:\n    gitops: { branch: "../main" }\n');
    assert.throws(() => loadConfig({ FERRY_CONFIG: f }), /environments\.staging\.gitops\.branch: must not contain \.\./);
    const typo = configFile('environments:\n  staging:\n    gitops: { brnch: env/staging }\n');
    assert.throws(() => loadConfig({ FERRY_CONFIG: typo }), /environments\.staging\.gitops/);
  });

  test('branch names: git-valid, plain ASCII, with slashes', () => {
    for (const ok of ['main', 'env/staging', 'release/2026-10', 'env/prod-eu_1', 'v1.2']) assert.equal(branchNameProblem(ok), null, ok);
    assert.match(branchNameProblem('')!, /non-empty/);
    assert.match(branchNameProblem('x'.repeat(201))!, /200/);
  });
});

describe('Flux revisions name branches', () => {
  test('the branch of a revision, slashes kept, in every form Flux reports', () => {
    assert.equal(branchOfRevision(`env/staging@sha1:${SHA}`), 'env/staging');
    assert.equal(branchOfRevision(`env/staging/${SHA}`), 'env/staging');
    assert.equal(branchOfRevision(`refs/heads/env/staging@sha1:${SHA}`), 'env/staging');
    assert.equal(branchOfRevision(`main@sha1:${SHA}`), 'main');
    assert.equal(branchOfRevision(`refs/pull/1/head@sha1:${SHA}`), null);
    assert.equal(branchOfRevision(`sha1:${SHA}`), null);
    assert.equal(branchOfRevision(`HEAD/${SHA}`), null);
    assert.equal(branchOfRevision(SHA), null);
    assert.equal(branchOfRevision(''), null);
    assert.equal(branchOfRevision(null), null);
  });

  test('an event naming another environment’s branch is not about this one; unknown refs are left to ancestry', () => {
    const written = ['main', 'env/staging', 'env/production'];
    assert.equal(revisionNamesOtherBranch(`env/staging@sha1:${SHA}`, 'env/production', written), true);
    assert.equal(revisionNamesOtherBranch(`env/staging@sha1:${SHA}`, 'env/staging', written), false);
    assert.equal(revisionNamesOtherBranch(`main/${SHA}`, 'env/staging', written), true);
    assert.equal(revisionNamesOtherBranch(`v1.0.0@sha1:${SHA}`, 'env/staging', written), false);
    assert.equal(revisionNamesOtherBranch(`sha1:${SHA}`, 'env/staging', written), false);
    assert.equal(revisionNamesOtherBranch(null, 'env/staging', written), false);
    // the default layout: every environment on main, every event about main concerns all of them
    assert.equal(revisionNamesOtherBranch(`main@sha1:${SHA}`, 'main', ['main']), false);
  });
});

describe('layout routing', () => {
  const layout: RepoLayout = {
    defaultRemote: '/srv/gitops.git',
    defaultBranch: 'main',
    byEnv: { PROD_EU: 'ssh://git@git.example.com/eu.git' },
    branchByEnv: { STAGING: 'env/staging', PRODUCTION: 'env/production', PROD_EU: 'env/prod-eu', QA: 'main' },
  };

  test('each environment goes to its repository and branch; the default takes the rest', () => {
    assert.deepEqual(targetForEnv(layout, 'staging'), { remote: '/srv/gitops.git', branch: 'env/staging' });
    assert.deepEqual(targetForEnv(layout, 'prod-eu'), { remote: 'ssh://git@git.example.com/eu.git', branch: 'env/prod-eu' });
    assert.deepEqual(targetForEnv(layout, 'dev'), { remote: '/srv/gitops.git', branch: 'main' });
    assert.equal(branchForEnv(layout, 'qa'), 'main');
    assert.deepEqual(layoutTargets(layout).map((t) => `${t.remote}#${t.branch}`), [
      '/srv/gitops.git#main', 'ssh://git@git.example.com/eu.git#env/prod-eu', '/srv/gitops.git#env/staging', '/srv/gitops.git#env/production',
    ]);
    assert.notEqual(branchCacheDir('/data/git/writer-abc', 'env/staging'), branchCacheDir('/data/git/writer-abc', 'env/production'));
    assert.match(branchCacheDir('/data/git/writer-abc', '../../etc'), /^\/data\/git\/writer-abc-b[0-9a-f]{12}$/);
  });

  test('setup manifests: a GitRepository and a Kustomization per environment with its own repository or branch', () => {
    const envs = envsWithOwnSource(layout, ['dev', 'staging', 'qa']);
    assert.deepEqual(envs, ['prod-eu', 'production', 'staging'], 'qa names the default branch: flux-system covers it');
    const text = envSourceManifests({ layout: { ...layout, defaultRemote: 'https://git.example.com/gitops.git' }, envs, perAppEnvs: ['production'] });
    const docs = YAML.parseAllDocuments(text).map((d) => d.toJS());
    const repo = (name: string) => docs.find((d) => d.kind === 'GitRepository' && d.metadata.name === name);
    const ks = (name: string) => docs.find((d) => d.kind === 'Kustomization' && d.metadata.name === name);
    assert.deepEqual(repo('ferry-staging').spec, { interval: '1m', url: 'https://git.example.com/gitops.git', ref: { branch: 'env/staging' }, secretRef: { name: 'flux-system' } });
    assert.equal(repo('ferry-prod-eu').spec.url, 'ssh://git@git.example.com/eu.git');
    assert.equal(ks('ferry-staging').spec.path, './staging');
    assert.equal(ks('ferry-production').spec.path, './production/flux');
    assert.match(text, /production: per-app Kustomizations must name this source: fluxKustomization\.sourceRef\.name: ferry-production/);
    assert.equal(envSourceManifests({ layout, envs: [] }), '');
  });

  test('abuse: credentials in a repository URL never reach the printed manifests; local paths become a placeholder', () => {
    assert.equal(clusterCloneUrl('https://x-access-token:ghp_S3CRET@github.com/acme/gitops.git?token=ghp_Q#frag'), 'https://github.com/acme/gitops.git');
    assert.equal(clusterCloneUrl('https://ghp_S3CRET@github.com/acme/gitops.git'), 'https://github.com/acme/gitops.git');
    assert.equal(clusterCloneUrl('ssh://git:hunter2@github.com/acme/gitops.git'), 'ssh://git@github.com/acme/gitops.git');
    assert.equal(clusterCloneUrl('git@github.com:acme/gitops.git'), 'ssh://git@github.com/acme/gitops.git');
    assert.equal(clusterCloneUrl('/srv/gitops.git'), null);
    assert.equal(clusterCloneUrl('file:///srv/gitops.git'), null);
    assert.equal(clusterCloneUrl('./relative.git'), null);
    const layout2: RepoLayout = { defaultRemote: 'https://bot:ghp_S3CRET@github.com/acme/gitops.git', defaultBranch: 'main', byEnv: { LOCAL: '/srv/local.git' }, branchByEnv: { STAGING: 'env/staging' } };
    const text = envSourceManifests({ layout: layout2, envs: envsWithOwnSource(layout2, []) });
    assert.ok(!text.includes('S3CRET') && !text.includes('bot'), text);
    assert.ok(!text.includes('/srv/local.git'), 'a path on Ferry’s machine is not printed');
    assert.match(text, /url: <URL the cluster clones the local repository from>/);
  });
});
