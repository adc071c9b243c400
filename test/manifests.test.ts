import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'yaml';
import { ManifestError, manifestFiles, parseManifests, stringifyManifest, type ManifestDoc } from '../src/render/manifests';

const DEPLOYMENT = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
  labels: {app: web}
spec:
  replicas: 2
  template:
    spec:
      containers:
        - name: web
          image: registry.example.com/web:1.2.3
`;

const SERVICE = `apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: shop
spec:
  ports: [{port: 80}]
`;

function manifestErrorOf(fn: () => unknown): ManifestError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ManifestError, `expected ManifestError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a ManifestError');
}

describe('parseManifests', () => {
  it('splits a stream and skips empty and comment-only documents', () => {
    const docs = parseManifests(`---\n${DEPLOYMENT}---\n# just a comment\n---\n${SERVICE}---\n`);
    assert.deepEqual(
      docs.map((d) => `${d.kind}/${d.metadata.name}`),
      ['Deployment/web', 'Service/web'],
    );
    assert.equal(docs[0]!.metadata.namespace, 'shop');
  });

  it('returns nothing for an empty stream', () => {
    assert.deepEqual(parseManifests(''), []);
    assert.deepEqual(parseManifests('---\n---\n'), []);
  });

  it('expands List documents', () => {
    const docs = parseManifests(`apiVersion: v1
kind: List
items:
  - {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}
  - {apiVersion: v1, kind: Secret, metadata: {name: b}}
`);
    assert.deepEqual(
      docs.map((d) => d.kind),
      ['ConfigMap', 'Secret'],
    );
  });

  const invalid: Array<[string, string, { document: number; field?: string; item?: number }, RegExp]> = [
    ['missing apiVersion', 'kind: X\nmetadata: {name: a}\n', { document: 1, field: 'apiVersion' }, /"apiVersion"/],
    ['missing kind', 'apiVersion: v1\nmetadata: {name: a}\n', { document: 1, field: 'kind' }, /"kind"/],
    ['non-string kind', 'apiVersion: v1\nkind: 3\nmetadata: {name: a}\n', { document: 1, field: 'kind' }, /"kind"/],
    ['missing metadata', 'apiVersion: v1\nkind: X\n', { document: 1, field: 'metadata' }, /"metadata"/],
    [
      'missing metadata.name in the second document',
      `${SERVICE}---\napiVersion: v1\nkind: X\nmetadata: {namespace: a}\n`,
      { document: 2, field: 'metadata.name' },
      /document 2, line 9: missing string field "metadata.name"/,
    ],
    ['numeric name', 'apiVersion: v1\nkind: X\nmetadata: {name: 12}\n', { document: 1, field: 'metadata.name' }, /metadata\.name/],
    ['non-string namespace', 'apiVersion: v1\nkind: X\nmetadata: {name: a, namespace: [x]}\n', { document: 1, field: 'metadata.namespace' }, /namespace/],
    ['scalar document', 'just a string\n', { document: 1 }, /must be a mapping/],
    ['sequence document', '- a\n- b\n', { document: 1 }, /must be a mapping/],
    ['List without items', 'apiVersion: v1\nkind: List\n', { document: 1, field: 'items' }, /items/],
    [
      'bad List item',
      'apiVersion: v1\nkind: List\nitems:\n  - {apiVersion: v1, kind: X, metadata: {name: a}}\n  - {kind: X}\n',
      { document: 1, item: 2, field: 'apiVersion' },
      /List item 2/,
    ],
    ['syntax error', 'apiVersion: v1\nkind: [unclosed\n', { document: 1 }, /invalid YAML/],
    ['tab indentation', 'apiVersion: v1\n\tkind: x\n', { document: 1 }, /line 2: invalid YAML: Tabs/],
    ['duplicate keys', 'apiVersion: v1\nkind: X\nkind: Y\nmetadata: {name: a}\n', { document: 1 }, /invalid YAML/],
  ];
  for (const [label, text, at, re] of invalid) {
    it(`rejects ${label}, naming source and document`, () => {
      const err = manifestErrorOf(() => parseManifests(text, { source: 'apps/shop/rendered.yaml' }));
      assert.equal(err.source, 'apps/shop/rendered.yaml');
      assert.equal(err.document, at.document);
      if (at.field !== undefined) assert.equal(err.field, at.field);
      if (at.item !== undefined) assert.equal(err.item, at.item);
      assert.match(err.message, /^apps\/shop\/rendered\.yaml, document \d/);
      assert.match(err.message, re);
    });
  }

  it('rejects a nested-alias YAML bomb quickly', () => {
    let bomb = 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: boom}\n';
    bomb += 'l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n';
    for (let i = 1; i < 12; i++) bomb += `l${i}: &l${i} [${Array(10).fill(`*l${i - 1}`).join(', ')}]\n`;
    const started = process.hrtime.bigint();
    const err = manifestErrorOf(() => parseManifests(bomb, { source: 'bomb.yaml' }));
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    assert.match(err.message, /alias/i);
    assert.ok(ms < 1000, `took ${ms} ms`);
  });

  it('still allows a few ordinary aliases', () => {
    const docs = parseManifests(
      'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, labels: &l {app: a}}\ndata: {x: "1"}\nextra: *l\n',
    );
    assert.deepEqual(docs[0]!.extra, { app: 'a' });
  });

  it('refuses oversized input before parsing', () => {
    const err = manifestErrorOf(() => parseManifests(`${DEPLOYMENT}#${'x'.repeat(200)}\n`, { source: 's', maxBytes: 100 }));
    assert.match(err.message, /exceeds the 100-byte limit/);
  });

  it('keeps a __proto__ key as data', () => {
    const docs = parseManifests('apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n__proto__: {polluted: true}\n');
    assert.equal(Object.getPrototypeOf(docs[0]), Object.prototype);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });
});

describe('manifestFiles', () => {
  it('writes one file per object, named <kind>-<name>.yaml, sorted', () => {
    const files = manifestFiles(parseManifests(`${SERVICE}---\n${DEPLOYMENT}`));
    assert.deepEqual(Object.keys(files), ['deployment-web.yaml', 'service-web.yaml']);
    assert.equal(files['service-web.yaml'], SERVICE.replace('ports: [{port: 80}]', 'ports:\n    - port: 80'));
  });

  it('keeps the source key order and ends with a newline', () => {
    const files = manifestFiles(parseManifests(DEPLOYMENT));
    const text = files['deployment-web.yaml']!;
    assert.ok(text.endsWith('\n'));
    assert.deepEqual(Object.keys(parse(text) as object), ['apiVersion', 'kind', 'metadata', 'spec']);
    assert.deepEqual(parse(text), parseManifests(DEPLOYMENT)[0]);
  });

  it('is byte-identical across runs', () => {
    const text = `${SERVICE}---\n${DEPLOYMENT}`;
    assert.deepEqual(manifestFiles(parseManifests(text)), manifestFiles(parseManifests(text)));
  });

  const naming: Array<[string, ManifestDoc[], string[]]> = [
    ['dots kept, case folded', [doc('ConfigMap', 'App.Config-v1')], ['configmap-app.config-v1.yaml']],
    ['colons and slashes replaced', [doc('ClusterRole', 'system:auth/../x')], ['clusterrole-system-auth-..-x.yaml']],
    ['same kind and name in two namespaces', [doc('Service', 'web', 'a'), doc('Service', 'web', 'b')], ['service-web-a.yaml', 'service-web-b.yaml']],
    ['no namespace suffix without a collision', [doc('Service', 'web', 'a'), doc('Service', 'api', 'b')], ['service-api.yaml', 'service-web.yaml']],
    ['same name, different kinds', [doc('Service', 'web', 'a'), doc('Deployment', 'web', 'a')], ['deployment-web.yaml', 'service-web.yaml']],
  ];
  for (const [label, docs, names] of naming) {
    it(label, () => assert.deepEqual(Object.keys(manifestFiles(docs)), names));
  }

  it('disambiguates names that only collide after sanitizing', () => {
    const names = Object.keys(manifestFiles([doc('ClusterRole', 'a:b'), doc('ClusterRole', 'a_b')]));
    assert.equal(names.length, 2);
    assert.notEqual(names[0], names[1]);
    for (const n of names) assert.match(n, /^clusterrole-a-b-[0-9a-f]{8}\.yaml$/);
  });

  it('disambiguates when a namespace suffix meets another object name', () => {
    const names = Object.keys(manifestFiles([doc('Service', 'a-b'), doc('Service', 'a', 'b'), doc('Service', 'a', 'c')]));
    assert.equal(new Set(names).size, 3);
  });

  it('keeps file names under the filesystem limit', () => {
    const names = Object.keys(manifestFiles([doc('Deployment', `${'a'.repeat(250)}.b`)]));
    assert.ok(names[0]!.length <= 255);
    assert.match(names[0]!, /^deployment-a+-[0-9a-f]{8}\.yaml$/);
  });

  it('rejects the same object twice', () => {
    const err = manifestErrorOf(() => manifestFiles([doc('Service', 'web', 'a'), doc('Service', 'web', 'a')]));
    assert.match(err.message, /duplicate object Service a\/web/);
  });

  it('treats kinds from different API groups as different objects', () => {
    const a = { ...doc('Certificate', 'web'), apiVersion: 'cert-manager.io/v1' };
    const b = { ...doc('Certificate', 'web'), apiVersion: 'example.com/v1' };
    assert.equal(Object.keys(manifestFiles([a, b])).length, 2);
  });
});

describe('stringifyManifest', () => {
  it('quotes strings that a YAML 1.1 or 1.2 reader would load as another type', () => {
    const text = stringifyManifest({
      ...doc('ConfigMap', 'flags'),
      data: { a: 'yes', b: 'on', c: 'y', d: '1_000', e: '0o14', f: '012', g: '2026-01-02', h: 'null', i: '1:20', j: 'plain', on: 'x' },
    });
    for (const line of ['a: "yes"', 'b: "on"', 'c: "y"', 'd: "1_000"', 'e: "0o14"', 'f: "012"', 'g: "2026-01-02"', 'h: "null"', 'i: "1:20"', 'j: plain', '"on": x']) {
      assert.ok(text.includes(`  ${line}\n`), `${line} in\n${text}`);
    }
    assert.deepEqual((parse(text) as { data: unknown }).data, (parse(text, { version: '1.1' }) as { data: unknown }).data);
  });

  it('writes shared objects out in full instead of as anchors', () => {
    const labels = { app: 'web' };
    const text = stringifyManifest({ ...doc('Service', 'web'), metadata: { name: 'web', labels }, spec: { selector: labels } });
    assert.doesNotMatch(text, /[&*]a\d/);
  });

  it('does not fold long strings', () => {
    const long = 'word '.repeat(40).trim();
    const text = stringifyManifest({ ...doc('ConfigMap', 'x'), data: { long } });
    assert.ok(text.includes(`long: ${long}\n`));
  });
});

function doc(kind: string, name: string, namespace?: string): ManifestDoc {
  return { apiVersion: 'v1', kind, metadata: namespace === undefined ? { name } : { name, namespace } };
}
