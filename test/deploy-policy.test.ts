import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DeploySchema, EnvironmentFileSchema } from '../src/artifact/schema';
import { decide } from '../src/policy/decide';
import { evaluateDeploy, evaluatePreview, previewAppName, releaseAppName, type Version } from '../src/policy/deploy';
import { globMatches } from '../src/policy/glob';
import { parseServerRestrictions, type Policy } from '../src/policy/policies';

const push = (branch: string, message = 'Fix the cart'): Version => ({ sha: 'a'.repeat(40), repositoryName: 'acme/shop', event: 'push', branch, message });
const tag = (name: string): Version => ({ sha: 'b'.repeat(40), repositoryName: 'acme/shop', event: 'tag', branch: '', tag: name });
const pr = (source: string, target: string): Version => ({ sha: 'c'.repeat(40), repositoryName: 'acme/shop', event: 'pr', branch: source, sourceBranch: source, targetBranch: target });

// [name, deploy conditions, artifact version, matched, a failing field that must be named when not matched]
const CASES: Array<[string, Record<string, unknown>, Version, boolean, string?]> = [
  ['exact branch', { branch: 'main' }, push('main'), true],
  ['exact branch, other branch', { branch: 'main' }, push('develop'), false, 'deploy.branch'],
  ['glob * within one segment', { branch: 'feature/*' }, push('feature/cart'), true],
  ['glob * does not cross /', { branch: 'feature/*' }, push('feature/cart/v2'), false, 'deploy.branch'],
  ['glob ** crosses /', { branch: 'feature/**' }, push('feature/cart/v2'), true],
  ['braces', { branch: '{main,master}' }, push('master'), true],
  ['negated branch excludes', { branch: '!main' }, push('main'), false, 'deploy.branch'],
  ['negated branch admits others', { branch: '!main' }, push('feature/x'), true],
  ['negated glob branch', { branch: '!release/*' }, push('release/1.0'), false, 'deploy.branch'],
  ['branch implies push: tag artifact refused', { branch: 'main' }, tag('v1.0.0'), false, 'deploy.event'],
  ['branch with pr event uses the source branch', { branch: 'feature/*', event: 'pr' }, pr('feature/x', 'main'), true],
  ['branch implies push: pr refused', { branch: 'feature/*' }, pr('feature/x', 'main'), false, 'deploy.event'],
  ['pr target branch', { event: 'pr', targetBranch: 'main' }, pr('feature/x', 'main'), true],
  ['pr target branch mismatch', { event: 'pr', targetBranch: 'main' }, pr('feature/x', 'develop'), false, 'deploy.targetBranch'],
  ['pr source and target', { event: 'pr', branch: 'feature/*', targetBranch: 'release/*' }, pr('feature/x', 'release/2'), true],
  ['tag glob', { tag: 'v*' }, tag('v1.2.3'), true],
  ['tag glob mismatch', { tag: 'v*' }, tag('nightly'), false, 'deploy.tag'],
  ['negated tag excludes', { tag: '!v1*' }, tag('v1.0.0'), false, 'deploy.tag'],
  ['negated tag admits others', { tag: '!v1*' }, tag('v2.0.0'), true],
  ['tag implies tag event: push refused', { tag: 'v*' }, push('main'), false, 'deploy.event'],
  ['event only: push', { event: 'push' }, push('anything'), true],
  ['event only: tag refused for push', { event: 'tag' }, push('main'), false, 'deploy.event'],
  ['event list', { event: ['push', 'tag'] }, tag('v1'), true],
  ['commit message pattern', { branch: 'main', commitMessagePatterns: ['*deploy*'] }, push('main', 'Please deploy this'), true],
  ['commit message pattern no match', { branch: 'main', commitMessagePatterns: ['*deploy*'] }, push('main', 'Just a fix'), false, 'deploy.commitMessagePatterns'],
  ['commit message negation', { branch: 'main', commitMessagePatterns: ['!*\\[skip deploy\\]*'] }, push('main', 'Fix [skip deploy]'), false, 'deploy.commitMessagePatterns'],
  ['commit message negation admits others', { branch: 'main', commitMessagePatterns: ['!*\\[skip deploy\\]*'] }, push('main', 'Fix it'), true],
  ['commit message * spans slashes and lines', { event: 'push', commitMessagePatterns: ['*release*'] }, push('x', 'chore: a/b\n\nrelease it'), true],
  ['all conditions must hold', { branch: 'main', commitMessagePatterns: ['*deploy*'] }, push('develop', 'deploy'), false, 'deploy.branch'],
  ['empty deploy releases nothing', {}, push('main'), false, 'deploy'],
];

describe('deploy conditions', () => {
  for (const [name, deploy, version, matched, field] of CASES) {
    test(name, () => {
      const parsed = DeploySchema.parse(deploy);
      const r = evaluateDeploy(parsed, version);
      assert.equal(r.matched, matched, JSON.stringify(r.reasons));
      assert.ok(r.reasons.length > 0);
      if (field) assert.ok(r.reasons.some((reason) => reason.startsWith(`${field}`)), `expected a reason naming ${field}: ${JSON.stringify(r.reasons)}`);
    });
  }

  test('conditions that can never hold are refused when the file is validated, naming the field', () => {
    const bad = DeploySchema.safeParse({ branch: 'main', event: 'tag' });
    assert.equal(bad.success, false);
    assert.deepEqual(bad.error!.issues[0]!.path, ['branch']);
    const badTag = DeploySchema.safeParse({ tag: 'v*', event: 'push' });
    assert.deepEqual(badTag.error!.issues[0]!.path, ['tag']);
    const lone = DeploySchema.safeParse({ branch: '!' });
    assert.match(lone.error!.issues[0]!.message, /negates nothing/);
  });

  test('Gimlet environment files are accepted unchanged', () => {
    const gimlet = {
      app: 'myapp', env: 'staging', namespace: 'default',
      deploy: { branch: 'main', event: 'push' },
      chart: { repository: 'https://chart.onechart.dev', name: 'onechart', version: '0.41.0' },
      values: { replicas: 1, image: { repository: 'ghcr.io/acme/myapp', tag: '{{ .SHA }}' } },
      strategicMergePatches: 'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: myapp\n',
      json6902Patches: [{ target: { group: 'apps', version: 'v1', kind: 'Deployment', name: 'myapp' }, patch: '- op: replace\n  path: /spec/replicas\n  value: 2\n' }],
      cleanup: { app: 'myapp-{{ .BRANCH | sanitizeDNSName }}', event: 'branchDeleted', branch: 'feature/*' },
      dependencies: [{ name: 'my-redis', kind: 'terraform' }],
    };
    const parsed = EnvironmentFileSchema.parse(gimlet);
    assert.deepEqual((parsed as Record<string, unknown>).dependencies, gimlet.dependencies);
  });
});

describe('globs', () => {
  test('negation works the same for every kind', () => {
    assert.equal(globMatches('!v1*', 'v1.0', 'tag'), false);
    assert.equal(globMatches('!v1*', 'v2.0', 'tag'), true);
    assert.equal(globMatches('!main', 'main', 'branch'), false);
  });
});

describe('previews', () => {
  const envFile = EnvironmentFileSchema.parse({ app: 'shop', env: 'preview', namespace: 'preview', preview: true, manifests: '' });

  test('a preview deploys on pushes to any branch but the main one, as <app>-<sanitized branch>', () => {
    assert.equal(evaluatePreview(envFile, push('feature/New_Cart'), 'main').matched, true);
    assert.equal(releaseAppName(envFile, push('feature/New_Cart')), 'shop-feature-new-cart');
    const main = evaluatePreview(envFile, push('main'), 'main');
    assert.equal(main.matched, false);
    assert.match(main.reasons[0]!, /main branch/);
    assert.equal(evaluatePreview(envFile, tag('v1'), 'main').matched, false);
    assert.equal(evaluatePreview(envFile, push('develop'), 'develop').matched, false);
  });

  test('preview names stay one DNS label', () => {
    const name = previewAppName('shop', `feature/${'x'.repeat(100)}`);
    assert.ok(name.length <= 63);
    assert.match(name, /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/);
  });
});

describe('decisions: env-file deploy, stored auto-release policies and restrictions', () => {
  const file = (deploy?: Record<string, unknown>) => EnvironmentFileSchema.parse({ app: 'shop', env: 'production', namespace: 'shop', manifests: '', ...(deploy ? { deploy } : {}) });
  const artifact = (v: Version) => ({ id: 'art-1', version: v, vars: {}, items: [], environments: [] });
  const auto = (branch: string): Policy => ({ id: 'auto-release:shop:production', kind: 'auto-release', app: 'shop', env: 'production', branch, source: 'api', createdBy: 'x', createdAt: null, updatedBy: 'x', updatedAt: null });
  const server = parseServerRestrictions('production=^main$,staging=^(main|release/.+)$');

  test('a file without deploy and without a policy is manual, and says so', () => {
    const d = decide(artifact(push('main')), file(), { serverRestrictions: [], policies: [], mainBranch: 'main' });
    assert.equal(d.matched, false);
    assert.match(d.reasons[0]!, /release it manually/);
  });

  test('either the file or a stored policy can match', () => {
    const viaPolicy = decide(artifact(push('main')), file({ branch: 'release/*' }), { serverRestrictions: [], policies: [auto('main')], mainBranch: 'main' });
    assert.equal(viaPolicy.matched, true);
    assert.equal(viaPolicy.source, 'policy');
    const viaFile = decide(artifact(push('release/1')), file({ branch: 'release/*' }), { serverRestrictions: [], policies: [auto('main')], mainBranch: 'main' });
    assert.equal(viaFile.source, 'deploy');
    const neither = decide(artifact(push('dev')), file({ branch: 'release/*' }), { serverRestrictions: [], policies: [auto('main')], mainBranch: 'main' });
    assert.equal(neither.matched, false);
    assert.equal(neither.reasons.length, 2, 'both sources say why');
  });

  test('a matching file on a restricted branch is refused, naming the restriction', () => {
    const d = decide(artifact(push('feature/x')), file({ branch: 'feature/*' }), { serverRestrictions: server, policies: [], mainBranch: 'main' });
    assert.equal(d.matched, false);
    assert.equal(d.refused, true);
    assert.match(d.reasons.at(-1)!, /server-wide branch restriction for production .*refuses branch "feature\/x"/);
  });
});
