import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ArtifactInputSchema, artifactDigest, canonicalJson, deriveArtifactId, normalizeArtifact } from '../src/artifact/schema';
import { gimletArtifactId, toGimletArtifact, unixSeconds } from '../src/gimlet/shapes';

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
      [{ ...base, vars: { 'bad key': 'v' } }, 'vars.bad key'],
      [{ ...base, vars: { '-flag': 'v' } }, 'vars.-flag'],
      [{ version: { sha: 'abcdef0' } }, 'version.repositoryName'],
    ];
    for (const [input, path] of cases) {
      const r = ArtifactInputSchema.safeParse(input);
      assert.equal(r.success, false, path);
      const paths = r.error!.issues.map((i) => i.path.join('.'));
      assert.ok(paths.includes(path), `${path} not in ${paths.join(', ')}`);
    }
  });

  test("Gimlet's Go-struct env files: an empty chart is no chart, an empty json6902 selector is no selector, field keys may hold '-'", () => {
    const env = {
      ...base.environments[0], chart: { name: '' }, tenant: {},
      json6902Patches: [{ patch: '- op: replace\n  path: /spec/replicas\n  value: 2', target: { group: 'apps', version: '', kind: 'Deployment', name: 'shop' } }],
    };
    const a = normalizeArtifact(ArtifactInputSchema.parse({ ...base, environments: [env], vars: { 'docker-image': 'r/x:1', GITHUB_RUN_ATTEMPT: '2' } }));
    assert.equal(a.environments[0]!.chart, undefined);
    assert.deepEqual(a.environments[0]!.json6902Patches![0]!.target, { group: 'apps', kind: 'Deployment', name: 'shop' });
    assert.equal(a.vars['docker-image'], 'r/x:1');
    // A chart that names something is still checked as a chart.
    const half = ArtifactInputSchema.safeParse({ ...base, environments: [{ ...env, chart: { name: 'web', repository: '' } }] });
    assert.equal(half.success, false);
  });

  test("Gimlet's view: created and version.created are int64 seconds whatever was stored; a re-run is a new artifact", () => {
    assert.equal(unixSeconds('2026-11-23T10:00:00Z'), 1795428000);
    assert.equal(unixSeconds(1795428000), 1795428000);
    assert.equal(unixSeconds(1795428000123), 1795428000);
    assert.equal(unixSeconds('1795428000'), 1795428000);
    assert.equal(unixSeconds('soon'), undefined);
    const stored = normalizeArtifact(ArtifactInputSchema.parse({ ...base, version: { ...base.version, created: 'soon' },
      environments: [{ ...base.environments[0], deploy: { event: ['push', 'tag'] }, json6902Patches: [{ target: { kind: 'Deployment' }, patch: [{ op: 'remove', path: '/x' }] }] }] }));
    const g = toGimletArtifact(stored, '2026-11-23T10:00:00.000Z') as any;
    assert.equal(g.created, 1795428000);
    assert.equal('created' in g.version, false, 'an unreadable date is left out (Go reads 0), never sent as a string');
    assert.equal(g.environments[0].deploy.event, 'push');
    assert.equal(typeof g.environments[0].json6902Patches[0].patch, 'string');
    const { id: _, ...rest } = stored;
    const rerun = { ...rest, vars: { ...rest.vars, GITHUB_RUN_ATTEMPT: '2' } };
    assert.equal(gimletArtifactId(rest), gimletArtifactId({ ...rest }), 'an HTTP retry of the same body is the same artifact');
    assert.notEqual(gimletArtifactId(rest), gimletArtifactId(rerun));
    assert.match(gimletArtifactId(rerun), /^acme-shop-abcdef012345-push-[0-9a-f]{8}$/);
  });
});
