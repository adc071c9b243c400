import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ArtifactInputSchema, artifactDigest, canonicalJson, deriveArtifactId, normalizeArtifact } from '../src/artifact/schema';

const base = {
  version: { sha: 'ABCDEF0123456789abcdef0123456789abcdef01', repositoryName: 'Acme/Shop', branch: 'main', event: 'push' },
  environments: [{ app: 'shop', env: 'staging', namespace: 'shop', manifests: 'kind: x' }],
};

describe('artifact schema', () => {
  test('ids are deterministic per repository, sha and event and path-safe', () => {
    const a = deriveArtifactId('Acme/Shop', 'ABCDEF0123456789', 'push');
    assert.equal(a, deriveArtifactId('Acme/Shop', 'abcdef0123456789', 'push'));
    assert.notEqual(a, deriveArtifactId('Acme/Shop', 'abcdef0123456789', 'tag'));
    assert.notEqual(a, deriveArtifactId('acme-shop', 'abcdef0123456789', 'push'), 'slug collisions are told apart by the hash');
    assert.match(a, /^acme-shop-abcdef012345-push-[0-9a-f]{8}$/);
  });

  test('normalising merges CI context into vars and artifacts into items, keeping unknown fields', () => {
    const parsed = ArtifactInputSchema.parse({ ...base, context: { CI: 'true' }, vars: { IMAGE: 'x' }, artifacts: [{ name: 'ci', jobUrl: 'u' }], extra: 1 });
    const a = normalizeArtifact(parsed);
    assert.deepEqual(a.vars, { CI: 'true', IMAGE: 'x' });
    assert.deepEqual(a.items, [{ name: 'ci', jobUrl: 'u' }]);
    assert.equal(a.extra, 1);
    assert.equal(a.id, deriveArtifactId('Acme/Shop', base.version.sha, 'push'));
  });

  test('the digest ignores key order but not content', () => {
    const a = normalizeArtifact(ArtifactInputSchema.parse(base));
    const b = normalizeArtifact(ArtifactInputSchema.parse({ environments: base.environments, version: { event: 'push', branch: 'main', repositoryName: 'Acme/Shop', sha: base.version.sha } }));
    assert.equal(artifactDigest(a), artifactDigest(b));
    const c = normalizeArtifact(ArtifactInputSchema.parse({ ...base, vars: { X: '1' } }));
    assert.notEqual(artifactDigest(a), artifactDigest(c));
    assert.equal(canonicalJson({ b: 1, a: [2, { d: 1, c: 2 }] }), '{"a":[2,{"c":2,"d":1}],"b":1}');
  });

  test('invalid input names the field', () => {
    const cases: Array<[unknown, string]> = [
      [{ ...base, version: { ...base.version, sha: 'xyz' } }, 'version.sha'],
      [{ ...base, id: '../etc' }, 'id'],
      [{ ...base, environments: [{ ...base.environments[0], app: 'Shop' }] }, 'environments.0.app'],
      [{ ...base, environments: [{ ...base.environments[0], namespace: 'a/b' }] }, 'environments.0.namespace'],
      [{ ...base, environments: [base.environments[0], base.environments[0]] }, 'environments.1'],
      [{ ...base, vars: { 'bad-key': 'v' } }, 'vars.bad-key'],
      [{ version: { sha: 'abcdef0' } }, 'version.repositoryName'],
    ];
    for (const [input, path] of cases) {
      const r = ArtifactInputSchema.safeParse(input);
      assert.equal(r.success, false, path);
      const paths = r.error!.issues.map((i) => i.path.join('.'));
      assert.ok(paths.includes(path), `${path} not in ${paths.join(', ')}`);
    }
  });
});
