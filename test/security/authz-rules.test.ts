// The authorization rules on their own: scopes, what a principal may hand out, what a release needs by trigger,
// four-eyes identity, and the principals each credential source makes (the tokens file with limits included).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { grantDenial, releaseDenial, systemPrincipal } from '../../src/auth/authorize';
import { isRequester } from '../../src/auth/four-eyes';
import { databaseTokenPrincipal, tokensFilePrincipal } from '../../src/auth/principals';
import type { Principal } from '../../src/auth/roles';
import { inScope, scopeMatches, scopeWithin } from '../../src/auth/scopes';
import { ConfigFileError, loadTokensFile } from '../../src/config-files';

const token = (role: Principal['role'], envs: string[] | null, repos: string[] | null = null, apps: string[] | null = null): Principal =>
  databaseTokenPrincipal({ id: 'abcdefghijkl', name: 't', owner: 'sam', role, envs, repos, apps });

describe('scopes', () => {
  test('a name, a prefix ending in *, or *', () => {
    assert.ok(scopeMatches('acme/*', 'acme/shop'));
    assert.ok(!scopeMatches('acme/*', 'acme-evil/shop'));
    assert.ok(!scopeMatches('acme/shop', 'acme/shop2'));
    assert.ok(scopeMatches('*', 'anything/at-all'));
    assert.ok(inScope(null, 'x/y'));
    assert.ok(!inScope([], 'x/y'));
  });

  test('a scope lies within another exactly when every value it matches, the other matches too', () => {
    const pattern = fc.oneof(fc.constant('*'), fc.stringMatching(/^[ab/]{1,4}\*?$/).filter((p) => /^[ab]/.test(p)));
    const value = fc.stringMatching(/^[ab/]{0,6}$/);
    fc.assert(fc.property(fc.array(pattern, { maxLength: 3 }), fc.array(pattern, { minLength: 1, maxLength: 3 }), fc.array(value, { maxLength: 30 }), (inner, outer, values) => {
      if (!scopeWithin(inner, outer)) return;
      for (const v of values) if (inScope(inner, v)) assert.ok(inScope(outer, v), `${v}: ${inner} within ${outer}`);
    }));
    assert.ok(!scopeWithin(null, ['acme/*']));
    assert.ok(!scopeWithin(['acme*'], ['acme/*']));
    assert.ok(scopeWithin(['acme/shop', 'acme/x*'], ['acme/*']));
  });
});

describe('what a principal may hand out', () => {
  test('an environment-limited admin grants inside its environments only, and must name them', () => {
    const admin = token('admin', ['staging']);
    assert.equal(grantDenial(admin, { role: 'ci', envs: ['staging'], repos: null, apps: null }), null);
    assert.equal(grantDenial(admin, { role: 'admin', envs: ['staging'], repos: null, apps: null }), null);
    assert.match(grantDenial(admin, { role: 'ci', envs: null, repos: null, apps: null })!.message, /name them in "envs"/);
    assert.match(grantDenial(admin, { role: 'ci', envs: ['staging', 'prod'], repos: null, apps: null })!.message, /not "prod"/);
  });

  test('scopes only narrow; a non-admin hands out nothing', () => {
    const admin = token('admin', null, ['acme/*'], ['shop*']);
    assert.equal(grantDenial(admin, { role: 'deployer', envs: null, repos: ['acme/shop'], apps: ['shop'] }), null);
    assert.equal(grantDenial(admin, { role: 'deployer', envs: null, repos: null, apps: ['shop'] })!.missing, 'scope');
    assert.equal(grantDenial(admin, { role: 'deployer', envs: null, repos: ['acme/shop'], apps: ['cart'] })!.missing, 'scope');
    assert.equal(grantDenial(token('deployer', null), { role: 'ci', envs: ['staging'], repos: null, apps: null })!.missing, 'role');
  });
});

describe('what a release needs', () => {
  const target = { env: 'prod', app: 'shop', repository: 'acme/shop' };
  test('by trigger: ci releases and auto-releases; promotion on request and rollback are a deployer\'s call', () => {
    const ci = token('ci', null);
    assert.equal(releaseDenial(ci, 'manual', target), null);
    assert.equal(releaseDenial(ci, 'auto', target), null);
    assert.equal(releaseDenial(ci, 'promote', target)!.missing, 'role');
    assert.equal(releaseDenial(ci, 'promote', target, true), null);
    assert.equal(releaseDenial(ci, 'rollback', target)!.missing, 'role');
    assert.equal(releaseDenial(token('approver', null), 'manual', target)!.missing, 'role');
    assert.equal(releaseDenial(systemPrincipal('auto-rollback'), 'rollback', target), null);
  });

  test('environment, repository and app limits each refuse, naming what is missing', () => {
    assert.deepEqual(releaseDenial(token('ci', ['staging']), 'auto', target)!.missing, 'env');
    const repo = releaseDenial(token('ci', null, ['acme/other']), 'auto', target)!;
    assert.equal(repo.missing === 'scope' && repo.scope, 'repository');
    const app = releaseDenial(token('ci', null, null, ['cart']), 'auto', target)!;
    assert.equal(app.missing === 'scope' && app.scope, 'app');
  });
});

describe('identity', () => {
  test('each credential source has its own stable id; every token of one owner is one principal', () => {
    const a = databaseTokenPrincipal({ id: 'aaaaaaaaaaaa', name: 'alice-deploy', owner: 'alice', role: 'deployer', envs: null, repos: null, apps: null });
    const b = databaseTokenPrincipal({ id: 'bbbbbbbbbbbb', name: 'alice-approve', owner: 'alice', role: 'approver', envs: null, repos: null, apps: null });
    assert.equal(a.id, 'token-owner:alice');
    assert.equal(a.id, b.id);
    assert.equal(a.actor, 'alice (token alice-deploy)');
    assert.equal(tokensFilePrincipal({ name: 'alice', roles: ['deployer'] }).id, 'tokens-file:alice');
  });

  test('four-eyes compares ids and names, never display strings', () => {
    const release = { releasedBy: 'alice (token alice-deploy)', releasedById: 'token-owner:alice', releasedByName: 'alice' };
    assert.ok(isRequester({ by: 'alice', byId: 'token-owner:alice' }, release));
    assert.ok(isRequester({ by: 'alice', byId: 'tokens-file:alice' }, release));
    assert.ok(isRequester({ by: 'alice' }, release));
    assert.ok(!isRequester({ by: 'bob', byId: 'token-owner:bob' }, release));
    const auto = { releasedBy: 'auto-release', releasedById: 'token-owner:ci-bot', releasedByName: 'ci-bot' };
    assert.ok(isRequester({ by: 'ci-bot', byId: 'token-owner:ci-bot' }, auto));
    assert.ok(!isRequester({ by: 'auto-release-fan', byId: 'token-owner:auto-release-fan' }, auto));
    // A release recorded before ids were carried: the display string is all there is.
    assert.ok(isRequester({ by: 'alice', byId: 'tokens-file:alice' }, { releasedBy: 'alice' }));
  });

  test('the tokens file takes environment, repository and app limits, and refuses bad scopes naming the field', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-tokens-'));
    const file = path.join(dir, 'tokens.yaml');
    fs.writeFileSync(file, 'tokens:\n  - name: shop-ci\n    token: a-long-enough-secret-1\n    roles: [ci]\n    envs: [staging]\n    repos: [acme/shop]\n');
    const p = tokensFilePrincipal(loadTokensFile(file)[0]!);
    assert.deepEqual(p.grants, [{ role: 'ci', envs: ['staging'] }]);
    assert.deepEqual(p.repos, ['acme/shop']);
    assert.equal(releaseDenial(p, 'manual', { env: 'prod', app: 'shop', repository: 'acme/shop' })!.missing, 'env');
    fs.writeFileSync(file, 'tokens:\n  - name: shop-ci\n    token: a-long-enough-secret-1\n    repos: ["a*b"]\n');
    assert.throws(() => loadTokensFile(file), (err) => err instanceof ConfigFileError && /tokens\.0\.repos\.0: must be a name, a prefix ending in "\*"/.test(err.message));
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
