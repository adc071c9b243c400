// Attack: patterns that take a backtracking engine exponential time (a ci-supplied glob, a JSON 6902 target, a
// branch restriction) stalled the one event loop that serves the API, the workers and the writer for 3-30 s.
// Each is evaluated here, longer than in the report, while /healthz is polled; it must keep answering.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { watchHealthz } from '../support/healthz-watch';
import { deployment, makeArtifact, useStack } from '../support/stack';

/** Far above a healthy answer on a loaded machine, far below the seconds the old engine took. */
const STALL_MS = 2_000;

const stack = useStack({ env: { FERRY_AWAIT_FLUX: 'false' } });

function artifactWith(environments: Array<Record<string, unknown>>, version: Record<string, unknown> = {}) {
  const base = makeArtifact({ apps: [] });
  return {
    ...base,
    version: { ...base.version, ...version },
    environments: environments.map((e) => ({ namespace: String(e.env), manifests: deployment(String(e.app)), ...e })),
  };
}

async function responsiveWhile<T>(what: () => Promise<T>): Promise<T> {
  const watch = watchHealthz(stack().url);
  try {
    return await what();
  } finally {
    const { maxMs, count } = await watch.stop();
    assert.ok(count > 0, '/healthz was polled');
    assert.ok(maxMs < STALL_MS, `/healthz waited ${Math.round(maxMs)} ms while the pattern was evaluated`);
  }
}

async function commitsMentioning(text: string): Promise<number> {
  const out = stack().git('log', '--format=%H', `--grep=${text}`, '--fixed-strings', '--all');
  return out === '' ? 0 : out.split('\n').length;
}

async function releaseRows(artifactId: string) {
  return (await stack().ferry.db.query('SELECT id, env, app, status FROM releases WHERE artifact_id = $1', [artifactId])).rows;
}

describe('patterns that backtrack exponentially answer at once', () => {
  test('a ci glob *a*a*…*b against a long branch decides without stalling; a normal glob still releases', async () => {
    const branch = `${'a'.repeat(250)}`;
    const glob = `${'*a'.repeat(60)}*b`;
    const messagePattern = `${'*a'.repeat(60)}*b`;
    const id = await responsiveWhile(async () => {
      const res = await stack().api('POST', '/api/artifacts', artifactWith(
        [{ app: 'glob', env: 'staging', deploy: { branch: glob, commitMessagePatterns: [messagePattern] } }],
        { branch, message: 'a'.repeat(4_000) },
      ));
      assert.equal(res.status, 201, JSON.stringify(res.body));
      await stack().ferry.temporal.workflow.getHandle(`artifact:${res.body.id}`).result();
      return res.body.id as string;
    });
    const decisions = (await stack().api('GET', `/api/artifacts/${id}/decisions`)).body.decisions;
    assert.equal(decisions[0].matched, false);
    assert.match(decisions[0].reasons.join(' '), /does not match/);
    assert.deepEqual(await releaseRows(id), []);

    // The legitimate path next to it: a plain glob still matches and releases.
    const ok = await stack().api('POST', '/api/artifacts', artifactWith([{ app: 'glob', env: 'staging', deploy: { branch: 'feature/*', commitMessagePatterns: ['!*\\[skip deploy\\]*'] } }], { branch: 'feature/cart' }));
    assert.equal(ok.status, 201, JSON.stringify(ok.body));
    const result = await stack().ferry.temporal.workflow.getHandle(`artifact:${ok.body.id}`).result();
    assert.deepEqual(result.released, [`release:glob:staging:${ok.body.id}`]);
    assert.equal((await stack().waitForRelease(result.released[0], ['committed', 'failed'])).status, 'committed');
  });

  test('a JSON 6902 target (a+)+b against a long name fails that release only, quickly, and commits nothing', async () => {
    const app = 'a'.repeat(60);
    const pushed = await stack().api('POST', '/api/artifacts', artifactWith([{
      app, env: 'staging',
      json6902Patches: [{ target: { kind: 'Deployment', name: '(a+)+b' }, patch: [{ op: 'replace', path: '/spec/replicas', value: 2 }] }],
    }]));
    assert.equal(pushed.status, 201, JSON.stringify(pushed.body));
    const release = await responsiveWhile(async () => {
      const res = await stack().api('POST', '/api/releases', { artifactId: pushed.body.id, env: 'staging' });
      assert.equal(res.status, 202, JSON.stringify(res.body));
      return stack().waitForRelease(res.body.id, ['committed', 'failed']);
    });
    assert.equal(release.status, 'failed');
    assert.match(release.error, /json6902Patches\[0\]\.target: kind=Deployment name=\(a\+\)\+b matches no resource to patch/);
    assert.equal(await commitsMentioning(release.id), 0);
  });

  test('a branch restriction ^(a+)+$ refuses a long branch at once; the legitimate branch still releases', async () => {
    const put = await stack().api('PUT', '/api/policies', { kind: 'branch-restriction', app: 'redos', env: 'staging', branchRegex: '^(a+)+$' });
    assert.equal(put.status, 201, JSON.stringify(put.body));
    const pushed = await stack().api('POST', '/api/artifacts', artifactWith([{ app: 'redos', env: 'staging' }], { branch: `${'a'.repeat(250)}!` }));
    assert.equal(pushed.status, 201, JSON.stringify(pushed.body));
    const refused = await responsiveWhile(() => stack().api('POST', '/api/releases', { artifactId: pushed.body.id, env: 'staging' }));
    assert.equal(refused.status, 422, JSON.stringify(refused.body));
    assert.equal(refused.body.reason, 'branch-restricted');
    assert.deepEqual(await releaseRows(pushed.body.id), []);

    const good = await stack().api('POST', '/api/artifacts', artifactWith([{ app: 'redos', env: 'staging' }], { branch: 'aaaa' }));
    const released = await stack().api('POST', '/api/releases', { artifactId: good.body.id, env: 'staging' });
    assert.equal(released.status, 202, JSON.stringify(released.body));
    assert.equal((await stack().waitForRelease(released.body.id, ['committed', 'failed'])).status, 'committed');
  });
});

describe('syntax that needs backtracking is refused where it enters, naming the field', () => {
  test('a branch restriction with lookahead or a backreference is a 400 and is not stored', async () => {
    for (const [branchRegex, why] of [['^(?!wip/).*$', /negative lookahead/], ['^(a)\\1$', /backreference/], ['(?<=x)main', /lookbehind/]] as const) {
      const res = await stack().api('PUT', '/api/policies', { kind: 'branch-restriction', app: 'shop', env: 'qa', branchRegex });
      assert.equal(res.status, 400, JSON.stringify(res.body));
      const issue = res.body.issues.find((i: { path: string }) => i.path === 'branchRegex');
      assert.ok(issue, JSON.stringify(res.body));
      assert.match(issue.message, why);
      assert.match(issue.message, /RE2/);
    }
    assert.equal((await stack().ferry.db.query("SELECT 1 FROM policies WHERE app = 'shop' AND env = 'qa'")).rowCount, 0);
  });

  test('a patch target with a backreference is a 400 naming the file and field; no artifact is stored', async () => {
    const artifact = artifactWith([{ app: 'shop', env: 'staging', json6902Patches: [{ target: { name: '(shop)\\1' }, patch: [{ op: 'remove', path: '/x' }] }] }]);
    const res = await stack().api('POST', '/api/artifacts', artifact);
    assert.equal(res.status, 400, JSON.stringify(res.body));
    assert.match(JSON.stringify(res.body.issues), /json6902Patches\.0\.target\.name.*backreference/);
    assert.equal((await stack().ferry.db.query('SELECT 1 FROM artifacts WHERE sha = $1', [artifact.version.sha])).rowCount, 0);
  });

  test('an artifact whose patterns exceed the matching budget is a 400, not a stall', async () => {
    const patterns = Array.from({ length: 50 }, (_, k) => `${'*a'.repeat(120)}*${k}`);
    const artifact = artifactWith(
      Array.from({ length: 20 }, (_, i) => ({ app: `budget-${i}`, env: 'staging', deploy: { branch: 'main', commitMessagePatterns: patterns.map((p) => `${p}${i}`) } })),
      { message: 'a'.repeat(10_000) },
    );
    const res = await responsiveWhile(() => stack().api('POST', '/api/artifacts', artifact));
    assert.equal(res.status, 400, JSON.stringify(res.body).slice(0, 500));
    assert.match(JSON.stringify(res.body.issues), /too much matching|add up to/);
    assert.equal((await stack().ferry.db.query('SELECT 1 FROM artifacts WHERE sha = $1', [artifact.version.sha])).rowCount, 0);
  });
});
