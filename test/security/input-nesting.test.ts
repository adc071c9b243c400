// Attacks: deeply nested JSON made the artifact push a 500 (a stack overflow in canonical JSON), and a YAML alias
// that refers to the node containing it failed a release with "Maximum call stack size exceeded". Both must be
// refused naming the problem, change nothing, and leave ordinary nesting alone.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ADMIN_TOKEN } from '../support/http';
import { makeArtifact, useStack } from '../support/stack';

const stack = useStack({ env: { FERRY_AWAIT_FLUX: 'false', FERRY_MAX_BODY: '8mb' } });

function nested(depth: number): unknown {
  let v: unknown = 'leaf';
  for (let i = 0; i < depth; i++) v = { a: v };
  return v;
}

async function storedArtifacts(sha: string): Promise<number> {
  return (await stack().ferry.db.query('SELECT 1 FROM artifacts WHERE sha = $1', [sha])).rowCount ?? 0;
}

async function postRaw(text: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${stack().url}/api/artifacts`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_TOKEN}` }, body: text });
  return { status: res.status, body: await res.json() };
}

describe('deep JSON', () => {
  test('an artifact nested 10,000 levels deep is a 400 naming the problem; nothing is stored', async () => {
    const artifact = makeArtifact({ apps: [{ app: 'deep', env: 'staging' }] });
    (artifact.environments[0] as Record<string, unknown>).values = 'DEEP';
    const res = await postRaw(JSON.stringify(artifact).replace('"DEEP"', `${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}`));
    assert.equal(res.status, 400, JSON.stringify(res.body).slice(0, 300));
    assert.match(res.body.error, /nested more than 100 levels deep/);
    assert.equal(await storedArtifacts(artifact.version.sha), 0);
  });

  test('millions of open brackets are refused before they are parsed', async () => {
    const res = await postRaw('['.repeat(3_000_000));
    assert.equal(res.status, 400);
    assert.match(res.body.error, /nested more than 100 levels deep \(at byte 100\)/);
  });

  test('brackets inside strings do not count, and ordinary nesting is stored', async () => {
    const artifact = makeArtifact({ apps: [{ app: 'shallow', env: 'staging' }], vars: { BRACKETS: '['.repeat(500) } });
    (artifact.environments[0] as Record<string, unknown>).values = nested(40);
    const res = await stack().api('POST', '/api/artifacts', artifact);
    assert.equal(res.status, 201, JSON.stringify(res.body).slice(0, 300));
  });
});

describe('recursive YAML', () => {
  test('a self-referencing alias fails the release at once naming it; nothing is committed', async () => {
    const artifact = makeArtifact({ apps: [{ app: 'loop', env: 'staging', manifests: 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: loop\ndata: &a\n  again: *a\n' }] });
    const pushed = await stack().api('POST', '/api/artifacts', artifact);
    assert.equal(pushed.status, 201, JSON.stringify(pushed.body));
    const started = await stack().api('POST', '/api/releases', { artifactId: pushed.body.id, env: 'staging' });
    assert.equal(started.status, 202, JSON.stringify(started.body));
    const release = await stack().waitForRelease(started.body.id, ['committed', 'failed'], 60_000);
    assert.equal(release.status, 'failed');
    assert.match(release.error, /data\.again refers to a node that contains it \(a recursive YAML alias\)/);
    assert.doesNotMatch(release.error, /call stack/);
    assert.equal(stack().git('log', '--format=%H', `--grep=${release.id}`, '--fixed-strings', '--all'), '');
  });

  test('an alias shared by two siblings is not recursive and still releases', async () => {
    const artifact = makeArtifact({ apps: [{ app: 'shared', env: 'staging', manifests: 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: shared\ndata:\n  a: &v "1"\n  b: *v\n' }] });
    const pushed = await stack().api('POST', '/api/artifacts', artifact);
    const started = await stack().api('POST', '/api/releases', { artifactId: pushed.body.id, env: 'staging' });
    assert.equal((await stack().waitForRelease(started.body.id, ['committed', 'failed'], 60_000)).status, 'committed');
  });
});
