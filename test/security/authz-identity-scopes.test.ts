// Who is who, and rights that cannot grow: four-eyes compares principals (database tokens, OIDC, the tokens file,
// the pusher behind an auto-release), an environment-limited admin stays inside its environments, and a token
// limited to some repositories cannot claim another repository's artifacts. Against a whole Ferry; every refused
// attempt must change nothing, and the legitimate path next to it must still work.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { exportJWK, generateKeyPair, type KeyLike, SignJWT } from 'jose';
import { deriveArtifactId } from '../../src/artifact/schema';
import { as, configEnv, enc } from '../support/gates';
import { makeArtifact, startStack, stopSharedTemporal, type Stack } from '../support/stack';
import { assertNoWorkflow, createToken, fingerprint } from './authz-support';

const ISSUER = 'https://idp.example.test/realms/acme';
let stack: Stack;
let jwks: http.Server;
let signingKey: KeyLike;

before(async () => {
  const pair = await generateKeyPair('RS256');
  signingKey = pair.privateKey;
  const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
  jwks = http.createServer((_req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ keys: [jwk] }));
  });
  await new Promise<void>((r) => jwks.listen(0, '127.0.0.1', r));
  const env = await configEnv({
    staging: {},
    production: { approvals: { required: 1, approvers: ['alice', 'bob', 'carol', 'alice@example.com', 'bob@example.com'], fourEyes: true, timeout: '10m' } },
  }, {
    FERRY_AWAIT_FLUX: 'false',
    FERRY_OIDC_ISSUER: ISSUER,
    FERRY_OIDC_AUDIENCE: 'ferry',
    FERRY_OIDC_JWKS_URL: `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/jwks.json`,
  });
  stack = await startStack({ env });
});
after(async () => {
  await stack?.stop();
  jwks?.close();
  await stopSharedTemporal();
});

async function jwt(subject: string, email: string, roles: string[], lifetimeSeconds = 600): Promise<string> {
  return new SignJWT({ email, ferry_roles: roles })
    .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
    .setIssuer(ISSUER).setAudience('ferry').setSubject(subject)
    .setIssuedAt(Math.floor(Date.now() / 1000) - 60).setExpirationTime(Math.floor(Date.now() / 1000) + lifetimeSeconds)
    .sign(signingKey);
}

async function push(apps: Array<{ app: string; env: string }>, opts: { token?: string; deployMain?: boolean } = {}): Promise<string> {
  const body = makeArtifact({ apps });
  if (opts.deployMain) body.environments = body.environments.map((e) => ({ ...e, deploy: { branch: 'main' } }));
  const res = await stack.api('POST', '/api/artifacts', body, opts.token ? { token: opts.token } : {});
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body.id as string;
}

async function releaseAs(token: string, app: string): Promise<string> {
  const artifactId = await push([{ app, env: 'production' }]);
  const res = await stack.api('POST', '/api/releases', { artifactId, env: 'production' }, { token });
  assert.equal(res.status, 202, JSON.stringify(res.body));
  await stack.waitForRelease(res.body.id, ['awaiting-approval']);
  return res.body.id as string;
}

async function historyLength(id: string): Promise<number> {
  return (await stack.ferry.temporal.workflow.getHandle(id).fetchHistory()).events!.length;
}

/** Every approval attempt is refused with four-eyes, and neither the database nor Temporal's history moves. */
async function refusedAsOwnChange(id: string, ...tokens: string[]): Promise<void> {
  for (const token of tokens) {
    const before = await fingerprint(stack);
    const events = await historyLength(id);
    const res = await stack.api('POST', `/api/releases/${enc(id)}/approve`, { comment: 'lgtm' }, { token });
    assert.equal(res.status, 403, JSON.stringify(res.body));
    assert.match(res.body.error, /four-eyes rule/);
    assert.deepEqual(await fingerprint(stack), before);
    assert.equal(await historyLength(id), events);
  }
  const row = (await stack.api('GET', `/api/releases/${enc(id)}`)).body;
  assert.equal(row.status, 'awaiting-approval');
  assert.deepEqual(row.approvals, []);
}

async function approvedBy(id: string, token: string, name: string): Promise<void> {
  const res = await stack.api('POST', `/api/releases/${enc(id)}/approve`, {}, { token });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  const done = await stack.waitForRelease(id, ['committed', 'succeeded', 'failed']);
  assert.notEqual(done.status, 'failed', done.error);
  assert.deepEqual(done.approvals.map((a: { by: string }) => a.by), [name]);
}

describe('attack 3: four-eyes compares principals', () => {
  test('two database tokens of one owner are one person; the tokens file under the same name too; a second person approves', async () => {
    const deploy = await createToken(stack, { name: 'alice-deploy', owner: 'alice', role: 'deployer' });
    const approve = await createToken(stack, { name: 'alice-approve', owner: 'alice', role: 'approver' });
    const id = await releaseAs(deploy, 'ledger');
    assert.equal((await stack.api('GET', `/api/releases/${enc(id)}`)).body.releasedBy, 'alice (token alice-deploy)');
    await refusedAsOwnChange(id, approve, as('alice').token);
    await approvedBy(id, as('bob').token, 'bob');
  });

  test('one admin token cannot release and approve', async () => {
    const admin = await createToken(stack, { name: 'carol-admin', owner: 'carol', role: 'admin' });
    const id = await releaseAs(admin, 'vault');
    await refusedAsOwnChange(id, admin);
    await approvedBy(id, as('bob').token, 'bob');
  });

  test('one OIDC identity cannot release and approve; another person can', async () => {
    const alice = await jwt('user-alice', 'alice@example.com', ['deployer', 'approver']);
    const id = await releaseAs(alice, 'payroll');
    await refusedAsOwnChange(id, alice);
    await approvedBy(id, await jwt('user-bob', 'bob@example.com', ['approver']), 'bob@example.com');
  });

  test('the pusher behind an auto-release cannot approve it', async () => {
    const ci = await createToken(stack, { name: 'alice-ci', owner: 'alice', role: 'ci' });
    const artifactId = await push([{ app: 'billing', env: 'production' }], { token: ci, deployMain: true });
    const id = `release:billing:production:${artifactId}`;
    const waiting = await stack.waitForRelease(id, ['awaiting-approval']);
    assert.equal(waiting.releasedBy, 'auto-release');
    const approve = await createToken(stack, { name: 'alice-approve-2', owner: 'alice', role: 'approver' });
    await refusedAsOwnChange(id, approve, as('alice').token);
    await approvedBy(id, as('bob').token, 'bob');
  });

  test('the tokens file: the same name releasing and approving is refused', async () => {
    const id = await releaseAs(as('carol').token, 'atlas');
    await refusedAsOwnChange(id, as('carol').token);
    await approvedBy(id, as('alice').token, 'alice');
  });
});

describe('attack 4: an environment-limited admin stays in its environments', () => {
  test('cannot create wider tokens, change production variables or policies, or revoke tokens beyond its rights', async () => {
    const limited = await createToken(stack, { name: 'staging-admin', owner: 'sam', role: 'admin', envs: ['staging'] });
    const prodCi = await stack.api('POST', '/api/tokens', { name: 'prod-ci', role: 'ci', envs: ['production'] });
    assert.equal(prodCi.status, 201);
    const everywhere = await stack.api('POST', '/api/tokens', { name: 'everywhere-ci', role: 'ci' });
    assert.equal(everywhere.status, 201);
    assert.equal((await stack.api('PUT', '/api/env-vars/production', { vars: { IMAGE: 'registry.example.com/acme/shop' } })).status, 200);

    const before = await fingerprint(stack);
    const attempts: Array<[string, string, unknown, RegExp]> = [
      ['POST', '/api/tokens', { name: 'root', role: 'admin' }, /may grant rights in environment staging only; name them in "envs"/],
      ['POST', '/api/tokens', { name: 'prod-admin', role: 'admin', envs: ['production'] }, /not "production"/],
      ['POST', '/api/tokens', { name: 'both', role: 'ci', envs: ['staging', 'production'] }, /not "production"/],
      ['POST', '/api/tokens', { name: 'as-bob', owner: 'bob', role: 'approver', envs: ['staging'] }, /may create tokens for itself \("sam"\) only, not for "bob"/],
      ['PUT', '/api/env-vars/production', { vars: { IMAGE: 'evil.example.com/backdoor' } }, /not "production"/],
      ['PUT', '/api/policies', { kind: 'auto-release', app: 'shop', env: 'production', branch: '**' }, /not "production"/],
      ['DELETE', `/api/tokens/${prodCi.body.id}`, undefined, /not "production"/],
      ['DELETE', `/api/tokens/${everywhere.body.id}`, undefined, /may grant rights in environment staging only/],
    ];
    for (const [method, route, body, reason] of attempts) {
      const res = await stack.api(method, route, body, { token: limited });
      assert.equal(res.status, 403, `${method} ${route}: ${JSON.stringify(res.body)}`);
      assert.match(res.body.error, reason, `${method} ${route}`);
    }
    assert.deepEqual(await fingerprint(stack), before);

    // Within its environment it administers as before, and what it creates cannot grow either.
    const sub = await createToken(stack, { name: 'staging-sub-admin', role: 'admin', envs: ['staging'] }, limited);
    assert.equal((await stack.api('POST', '/api/tokens', { name: 'sub-root', role: 'admin' }, { token: sub })).status, 403);
    const ci = await stack.api('POST', '/api/tokens', { name: 'staging-ci-2', role: 'ci', envs: ['staging'] }, { token: limited });
    assert.equal(ci.status, 201);
    assert.equal(ci.body.owner, 'sam');
    assert.equal((await stack.api('PUT', '/api/env-vars/staging', { vars: { IMAGE: 'registry.example.com/acme/shop' } }, { token: limited })).status, 200);
    assert.equal((await stack.api('PUT', '/api/policies', { kind: 'auto-release', app: 'shop', env: 'staging', branch: 'main' }, { token: limited })).status, 201);
    assert.equal((await stack.api('DELETE', `/api/tokens/${ci.body.id}`, undefined, { token: limited })).status, 204);
    assert.deepEqual((await stack.api('GET', '/api/env-vars/production')).body.vars, { IMAGE: 'registry.example.com/acme/shop' });
  });

  test('an admin limited to repositories hands out only those, and cannot set variables every app sees', async () => {
    const acmeAdmin = await createToken(stack, { name: 'acme-admin', role: 'admin', repos: ['acme/*'] });
    const before = await fingerprint(stack);
    const wide = await stack.api('POST', '/api/tokens', { name: 'any-repo', role: 'ci' }, { token: acmeAdmin });
    assert.equal(wide.status, 403);
    assert.match(wide.body.error, /may grant repositories acme\/\* only/);
    assert.equal((await stack.api('POST', '/api/tokens', { name: 'other-org', role: 'ci', repos: ['other/*'] }, { token: acmeAdmin })).status, 403);
    assert.equal((await stack.api('PUT', '/api/env-vars/staging', { vars: { A: 'b' } }, { token: acmeAdmin })).status, 403);
    assert.deepEqual(await fingerprint(stack), before);
    const narrow = await stack.api('POST', '/api/tokens', { name: 'acme-shop-ci', role: 'ci', repos: ['acme/shop'] }, { token: acmeAdmin });
    assert.equal(narrow.status, 201, JSON.stringify(narrow.body));
    assert.deepEqual(narrow.body.repos, ['acme/shop']);
  });
});

describe('attack 8: artifact squatting', () => {
  test("a token limited to its repositories cannot claim another repository's name, commit or id", async () => {
    const acme = await createToken(stack, { name: 'acme-ci', role: 'ci', repos: ['acme/*'] });
    const evil = await createToken(stack, { name: 'evil-ci', role: 'ci', repos: ['evil/*'] });
    const sha = 'c0ffee'.padEnd(40, '1');
    const real = makeArtifact({ apps: [{ app: 'shop', env: 'staging' }], sha, repo: 'acme/shop' });
    const realId = deriveArtifactId('acme/shop', sha, 'push');

    const before = await fingerprint(stack);
    const claimRepo = await stack.api('POST', '/api/artifacts', real, { token: evil });
    assert.equal(claimRepo.status, 403);
    assert.deepEqual(claimRepo.body.missing, { repository: 'acme/shop' });
    const viaGimlet = await stack.api('POST', '/api/artifact', real, { token: evil });
    assert.equal(viaGimlet.status, 403);
    const takeId = await stack.api('POST', '/api/artifacts', { ...makeArtifact({ apps: [{ app: 'shop', env: 'staging' }], sha, repo: 'evil/shop' }), id: realId }, { token: evil });
    assert.equal(takeId.status, 400);
    assert.equal(takeId.body.issues[0].path, 'id');
    assert.deepEqual(await fingerprint(stack), before);
    await assertNoWorkflow(stack, `artifact:${realId}`);

    // The real push is not blocked, and the stored artifact is the real one.
    const pushed = await stack.api('POST', '/api/artifacts', real, { token: acme });
    assert.equal(pushed.status, 201, JSON.stringify(pushed.body));
    assert.equal(pushed.body.id, realId);
    assert.equal((await stack.api('POST', '/api/artifacts', real, { token: acme })).status, 200);
    // (Staging's auto-release policy for shop, set above, releases it: let that settle first.)
    const { released } = await stack.ferry.temporal.workflow.getHandle(`artifact:${realId}`).result();
    for (const id of released) await stack.waitForRelease(id, ['committed', 'failed']);

    const afterReal = await fingerprint(stack);
    const sameCommit = await stack.api('POST', '/api/artifacts', makeArtifact({ apps: [{ app: 'shop', env: 'staging' }], sha, repo: 'evil/shop' }), { token: evil });
    assert.equal(sameCommit.status, 409);
    assert.match(sameCommit.body.error, /already stored for repository acme\/shop/);
    assert.deepEqual(await fingerprint(stack), afterReal);

    // Its own repository, its own commits: stored as ever.
    const own = await stack.api('POST', '/api/artifacts', makeArtifact({ apps: [{ app: 'tool', env: 'staging' }], repo: 'evil/tool' }), { token: evil });
    assert.equal(own.status, 201, JSON.stringify(own.body));
    const stored = await stack.ferry.db.query('SELECT pushed_by FROM artifacts WHERE id = $1', [own.body.id]);
    assert.equal(stored.rows[0].pushed_by.id, 'token-owner:admin');
    assert.deepEqual(stored.rows[0].pushed_by.repos, ['evil/*']);
  });
});

/** An open event stream: what it has said so far, and when (if ever) the server ended it. */
async function openStream(token: string) {
  const res = await fetch(`${stack.url}/api/stream`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(res.status, 200);
  const reader = res.body!.getReader();
  const state = { text: '', ended: false };
  const done = (async () => {
    for (;;) {
      const { value, done: finished } = await reader.read();
      if (finished) break;
      state.text += Buffer.from(value).toString('utf8');
    }
    state.ended = true;
  })().catch(() => { state.ended = true; });
  const until = async (what: string, ok: () => boolean, timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    while (!ok()) {
      assert.ok(Date.now() < deadline, `the stream never ${what}; it said:\n${state.text}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  return { state, done, until, cancel: () => reader.cancel().catch(() => undefined) };
}

describe("attack 9: the console's event stream outliving its credential", () => {
  test('a revoked database token stops receiving events within seconds, and cannot reconnect', async () => {
    const created = await stack.api('POST', '/api/tokens', { name: 'watcher', owner: 'erin', role: 'deployer' });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const stream = await openStream(created.body.token);
    try {
      // It is live: a release changing shows up on it.
      const id = await releaseAs(as('alice').token, 'radar');
      await stream.until(`announced ${id}`, () => stream.state.text.includes(JSON.stringify({ id })), 30_000);

      assert.equal((await stack.api('DELETE', `/api/tokens/${created.body.id}`)).status, 204);
      await stream.until('ended after the revocation', () => stream.state.ended, 15_000);
      const again = await fetch(`${stack.url}/api/stream`, { headers: { authorization: `Bearer ${created.body.token}` } });
      assert.equal(again.status, 401);
      assert.match(((await again.json()) as { error: string }).error, /revoked/);
    } finally {
      await stream.cancel();
    }
  });

  test('an OIDC session ends with its JWT', async () => {
    // Ferry allows 30 s of clock skew past `exp`: this JWT expired 20 s ago, so it is accepted for 10 s more.
    const stream = await openStream(await jwt('user-frank', 'frank@example.com', ['approver'], -20));
    try {
      await new Promise((r) => setTimeout(r, 1_000));
      assert.equal(stream.state.ended, false, 'a valid JWT keeps its stream');
      await stream.until('ended after the JWT expired', () => stream.state.ended, 30_000);
    } finally {
      await stream.cancel();
    }
  });

  test('a credential that still holds keeps its stream across rechecks', async () => {
    const stream = await openStream(as('bob').token);
    try {
      await new Promise((r) => setTimeout(r, 11_000));
      assert.equal(stream.state.ended, false);
      const id = await releaseAs(as('alice').token, 'sonar');
      await stream.until(`announced ${id}`, () => stream.state.text.includes(JSON.stringify({ id })), 30_000);
    } finally {
      await stream.cancel();
    }
  });
});
