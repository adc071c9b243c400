// Tokens, roles and environment limits, OIDC for people, and the Gimlet-compatible API, against a whole Ferry.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { exportJWK, generateKeyPair, SignJWT, type KeyLike } from 'jose';
import { fluxEvent, makeArtifact, startStack, stopSharedTemporal, type Stack } from './support/stack';

let stack: Stack;
let jwks: http.Server;
let signingKey: KeyLike;
let strangerKey: KeyLike;
const ISSUER = 'https://idp.example.test/realms/acme';

before(async () => {
  const pair = await generateKeyPair('RS256');
  const stranger = await generateKeyPair('RS256');
  signingKey = pair.privateKey;
  strangerKey = stranger.privateKey;
  const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
  jwks = http.createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ keys: [jwk] }));
  });
  await new Promise<void>((r) => jwks.listen(0, '127.0.0.1', r));
  stack = await startStack({
    env: {
      FERRY_FLUX_TIMEOUT: '10m',
      FERRY_OIDC_ISSUER: ISSUER,
      FERRY_OIDC_AUDIENCE: 'ferry',
      FERRY_OIDC_JWKS_URL: `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/jwks.json`,
    },
  });
});
after(async () => {
  await stack?.stop();
  jwks?.close();
  await stopSharedTemporal();
});

async function token(body: Record<string, unknown>): Promise<string> {
  const res = await stack.api('POST', '/api/tokens', body);
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body.token;
}

async function pushed(apps: Array<{ app: string; env: string }>, tokenValue?: string): Promise<string> {
  const res = await stack.api('POST', '/api/artifacts', makeArtifact({ apps }), { token: tokenValue });
  assert.ok([200, 201].includes(res.status), JSON.stringify(res.body));
  return res.body.id;
}

async function jwt(claims: Record<string, unknown>, opts: { key?: KeyLike; audience?: string; expiresAt?: number } = {}): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
    .setIssuer(ISSUER)
    .setAudience(opts.audience ?? 'ferry')
    .setSubject('user-123')
    .setIssuedAt(Math.floor(Date.now() / 1000) - 600)
    .setExpirationTime(opts.expiresAt ?? Math.floor(Date.now() / 1000) + 300)
    .sign(opts.key ?? signingKey);
}

describe('tokens and roles', () => {
  test('each role may do its own work and gets a 403 naming what is missing otherwise', async () => {
    const ci = await token({ name: 'shop-ci', role: 'ci', owner: 'github-actions' });
    const approver = await token({ name: 'lead', role: 'approver', owner: 'lin@example.com' });
    const artifactId = await pushed([{ app: 'cart', env: 'staging' }, { app: 'cart', env: 'prod' }], ci);

    const started = await stack.api('POST', '/api/releases', { artifactId, env: 'staging', app: 'cart' }, { token: ci });
    assert.equal(started.status, 202, JSON.stringify(started.body));
    assert.equal((await stack.api('GET', `/api/releases/${encodeURIComponent(started.body.id)}`, undefined, { token: approver })).status, 200);

    const listTokens = await stack.api('GET', '/api/tokens', undefined, { token: ci });
    assert.equal(listTokens.status, 403);
    assert.deepEqual(listTokens.body.missing, { role: ['admin'] });
    assert.equal(listTokens.body.error, 'forbidden: needs role admin; github-actions (token shop-ci) has ci');
    assert.equal((await stack.api('DELETE', '/api/tokens/lead', undefined, { token: ci })).status, 403);
    assert.equal((await stack.api('POST', '/api/tokens', { name: 'escalate', role: 'admin' }, { token: ci })).status, 403);

    const push = await stack.api('POST', '/api/artifacts', makeArtifact({ apps: [{ app: 'cart', env: 'staging' }] }), { token: approver });
    assert.equal(push.status, 403);
    assert.deepEqual(push.body.missing, { role: ['ci', 'deployer', 'admin'] });
    const rollback = await stack.api('POST', '/api/rollback', { app: 'cart', env: 'staging' }, { token: ci });
    assert.equal(rollback.status, 403);
    assert.deepEqual(rollback.body.missing, { role: ['deployer', 'admin'] });
  });

  test('a role limited to environments is refused elsewhere, naming the environment', async () => {
    const deployer = await token({ name: 'staging-deployer', role: 'deployer', owner: 'ada@example.com', envs: ['staging'] });
    const artifactId = await pushed([{ app: 'search', env: 'staging' }, { app: 'search', env: 'prod' }]);
    const prod = await stack.api('POST', '/api/releases', { artifactId, env: 'prod' }, { token: deployer });
    assert.equal(prod.status, 403);
    assert.deepEqual(prod.body.missing, { env: 'prod' });
    assert.deepEqual(prod.body.allowedEnvs, ['staging']);
    assert.match(prod.body.error, /ada@example\.com \(token staging-deployer\) may act on environment staging only, not "prod"/);
    const noEnv = await stack.api('POST', '/api/releases', { artifactId }, { token: deployer });
    assert.equal(noEnv.status, 400);
    assert.equal(noEnv.body.issues[0].path, 'env');
    const gimletRollback = await stack.api('POST', '/api/rollback?env=prod&app=search&sha=abc1234', undefined, { token: deployer });
    assert.equal(gimletRollback.status, 403);
    assert.deepEqual(gimletRollback.body.missing, { env: 'prod' });

    const staging = await stack.api('POST', '/api/releases', { artifactId, env: 'staging' }, { token: deployer });
    assert.equal(staging.status, 202, JSON.stringify(staging.body));
    const release = await stack.waitForRelease(staging.body.id, ['reconciling']);
    assert.equal(release.releasedBy, 'ada@example.com (token staging-deployer)');
    assert.match(stack.git('log', '-1', '--format=%B', release.gitopsCommit), /Ferry-Released-By: ada@example\.com \(token staging-deployer\)/);
  });

  test('tokens are stored as digests, shown once, and revocation or expiry is a 401 at once', async () => {
    const created = await stack.api('POST', '/api/tokens', { name: 'short-lived', role: 'ci', owner: 'bot', expiresIn: '1h' });
    assert.equal(created.status, 201);
    const secret: string = created.body.token;
    assert.match(secret, /^ferry_[a-z0-9]{12}_[A-Za-z0-9_-]{43}$/);
    assert.equal(created.body.createdBy, 'admin');
    assert.ok(Date.parse(created.body.expiresAt) > Date.now());
    // the random part is base64url, which may itself contain `_`: cut the prefix off rather than split on `_`
    const randomPart = secret.replace(/^ferry_[a-z0-9]{12}_/, '');
    assert.equal(randomPart.length, 43);
    const row = await stack.ferry.db.query('SELECT * FROM api_tokens WHERE id = $1', [created.body.id]);
    assert.match(row.rows[0].secret_hash, /^[0-9a-f]{64}$/);
    assert.ok(!JSON.stringify(row.rows[0]).includes(randomPart), 'the secret itself is not stored');
    const listed = await stack.api('GET', '/api/tokens');
    assert.ok(!JSON.stringify(listed.body).includes(randomPart));
    assert.equal((await stack.api('POST', '/api/tokens', { name: 'short-lived', role: 'ci' })).status, 409);
    assert.equal((await stack.api('POST', '/api/tokens', { name: 'bad', role: 'root', envs: ['Prod!'] })).body.issues.length, 2);

    const id = await pushed([{ app: 'ledger', env: 'staging' }]);
    assert.equal((await stack.api('GET', `/api/artifacts/${id}`, undefined, { token: secret })).status, 200);
    // Gimlet's access_token query parameter is accepted too.
    const viaQuery = await fetch(`${stack.url}/api/artifacts/${id}?access_token=${secret}`);
    assert.equal(viaQuery.status, 200);

    assert.equal((await stack.api('DELETE', '/api/tokens/short-lived')).status, 204);
    const revoked = await stack.api('GET', `/api/artifacts/${id}`, undefined, { token: secret });
    assert.equal(revoked.status, 401);
    assert.match(revoked.body.error, /^token "short-lived" was revoked at /);
    assert.equal((await stack.api('DELETE', '/api/tokens/short-lived')).status, 404);
    const gone = await stack.api('GET', '/api/tokens?all=true');
    assert.equal(gone.body.items.find((t: { id: string }) => t.id === created.body.id).revokedBy, 'admin');

    const expiring = await stack.api('POST', '/api/tokens', { name: 'expiring', role: 'ci', expiresIn: '90m' });
    await stack.ferry.db.query("UPDATE api_tokens SET expires_at = now() - interval '1 second' WHERE id = $1", [expiring.body.id]);
    const expired = await stack.api('GET', `/api/artifacts/${id}`, undefined, { token: expiring.body.token });
    assert.equal(expired.status, 401);
    assert.match(expired.body.error, /^token "expiring" expired at /);

    const forged = `${secret.slice(0, 19)}${'A'.repeat(43)}`;
    assert.equal((await stack.api('GET', `/api/artifacts/${id}`, undefined, { token: forged })).body.error, 'unknown token');
    assert.equal((await stack.api('GET', `/api/artifacts/${id}`, undefined, { headers: { authorization: 'Basic abc' }, token: null })).status, 401);
  });

  test('artifacts record who pushed them', async () => {
    const ci = await token({ name: 'recorder', role: 'ci', owner: 'jenkins' });
    const id = await pushed([{ app: 'audit', env: 'staging' }], ci);
    const row = await stack.ferry.db.query('SELECT created_by, created_by_token FROM artifacts WHERE id = $1', [id]);
    assert.equal(row.rows[0].created_by, 'jenkins (token recorder)');
    assert.match(row.rows[0].created_by_token, /^[a-z0-9]{12}$/);
  });
});

describe('OIDC', () => {
  test("a person's JWT gives the roles in its claim, limited to environments", async () => {
    const person = await jwt({ email: 'ada@example.com', ferry_roles: ['deployer:staging', 'approver'] });
    const artifactId = await pushed([{ app: 'profile', env: 'staging' }, { app: 'profile', env: 'prod' }]);
    const staging = await stack.api('POST', '/api/releases', { artifactId, env: 'staging' }, { token: person });
    assert.equal(staging.status, 202, JSON.stringify(staging.body));
    const row = await stack.waitForRelease(staging.body.id, ['pending', 'rendering', 'committing', 'committed', 'reconciling']);
    assert.equal(row.releasedBy, 'ada@example.com (oidc)');
    const prod = await stack.api('POST', '/api/releases', { artifactId, env: 'prod' }, { token: person });
    assert.equal(prod.status, 403);
    assert.deepEqual(prod.body.missing, { env: 'prod' });
    assert.equal((await stack.api('GET', '/api/tokens', undefined, { token: person })).status, 403);

    const admin = await jwt({ email: 'root@example.com', ferry_roles: 'admin' });
    assert.equal((await stack.api('GET', '/api/tokens', undefined, { token: admin })).status, 200);
  });

  test('wrong audience, expired, foreign keys and no role are refused', async () => {
    const wrongAud = await stack.api('GET', '/api/tokens', undefined, { token: await jwt({ ferry_roles: ['admin'] }, { audience: 'someone-else' }) });
    assert.equal(wrongAud.status, 401);
    assert.match(wrongAud.body.error, /OIDC token rejected: claim "aud"/);
    const expired = await stack.api('GET', '/api/tokens', undefined, { token: await jwt({ ferry_roles: ['admin'] }, { expiresAt: Math.floor(Date.now() / 1000) - 300 }) });
    assert.equal(expired.status, 401);
    assert.equal(expired.body.error, 'OIDC token rejected: expired');
    const foreign = await stack.api('GET', '/api/tokens', undefined, { token: await jwt({ ferry_roles: ['admin'] }, { key: strangerKey }) });
    assert.equal(foreign.status, 401);
    assert.equal(foreign.body.error, 'OIDC token rejected: bad signature');
    const noRole = await stack.api('GET', '/api/openapi.json', undefined, { token: await jwt({ email: 'visitor@example.com', ferry_roles: ['superuser'] }) });
    assert.equal(noRole.status, 403);
    assert.match(noRole.body.error, /visitor@example\.com \(oidc\) has no Ferry role/);
  });
});

describe('Gimlet API', () => {
  // What Gimlet's CLI (`gimlet artifact create/add/push`) sends: unix times, `context`, unnamed items, env files as is.
  const gimletArtifact = (sha: string) => ({
    version: {
      repositoryName: 'acme/legacy', sha, created: 1764000000, branch: 'main', authorName: 'Laszlo', authorEmail: 'l@example.com',
      committerName: 'Laszlo', committerEmail: 'l@example.com', message: 'Bugfix 123', url: `https://github.com/acme/legacy/commit/${sha}`,
    },
    context: { GITHUB_RUN_ID: '12', REPO: 'acme/legacy' },
    vars: { GITHUB_RUN_ID: '12', REPO: 'acme/legacy', IMAGE: 'ghcr.io/acme/legacy' },
    items: [{ name: 'CI', url: 'https://github.com/acme/legacy/actions/runs/12' }, { image: 'ghcr.io/acme/legacy', tag: sha }],
    environments: [{
      // No deploy policy: these tests release by hand (auto-deploy through this route: gimlet-conformance.test.ts).
      app: 'legacy', env: 'staging', namespace: 'legacy',
      manifests: 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: legacy\ndata:\n  image: "{{ .IMAGE }}:{{ .SHA }}"\n',
    }],
  });

  test('a Gimlet-shaped artifact push, artifact list, release and release track', async () => {
    const sha = 'c0ffee'.padEnd(40, '1');
    const ci = await token({ name: 'gimlet-action', role: 'ci', owner: 'legacy-ci' });
    // Gimlet's GitHub Action authenticates with the header; Flux-era setups used ?access_token=.
    const res = await fetch(`${stack.url}/api/artifact?access_token=${ci}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(gimletArtifact(sha)) });
    assert.equal(res.status, 201);
    const saved = await res.json() as Record<string, any>;
    assert.match(saved.id, /^acme-legacy-c0ffee111111-push-[0-9a-f]{8}$/);
    assert.equal(typeof saved.created, 'number');
    assert.equal(saved.version.created, 1764000000);
    assert.deepEqual(saved.items[1], { name: 'item-2', image: 'ghcr.io/acme/legacy', tag: sha });
    assert.equal(saved.vars.IMAGE, 'ghcr.io/acme/legacy');

    const list = await stack.api('GET', `/api/artifacts?repository=acme/legacy&sha=${sha.slice(0, 10)}&event=push&limit=5`);
    assert.equal(list.status, 200);
    assert.ok(Array.isArray(list.body));
    assert.deepEqual(list.body.map((a: { id: string }) => a.id), [saved.id]);
    assert.equal(list.body[0].createdBy, 'legacy-ci (token gimlet-action)');
    assert.deepEqual((await stack.api('GET', '/api/artifacts?repository=acme/legacy&branch=other')).body, []);
    assert.equal((await stack.api('GET', '/api/artifacts?limit=0')).status, 400);

    let untracked = await stack.api('GET', `/api/eventArtifactTrack?artifactId=${saved.id}`);
    for (let i = 0; i < 100 && untracked.body.status === 'new'; i++) {
      await new Promise((r) => setTimeout(r, 100));
      untracked = await stack.api('GET', `/api/eventArtifactTrack?artifactId=${saved.id}`);
    }
    assert.deepEqual(untracked.body, { status: 'processed', statusDesc: 'no deploy policy released this artifact', results: [] });

    // Gimlet's release request: `tenant` and `triggeredBy` ride along; Ferry records the caller, not triggeredBy.
    const release = await stack.api('POST', '/api/releases', { env: 'staging', app: 'legacy', artifactId: saved.id, tenant: '', triggeredBy: 'someone-else' }, { token: ci });
    assert.ok(release.status >= 200 && release.status <= 206, JSON.stringify(release.body));
    assert.equal(typeof release.body.id, 'string');
    const reconciling = await stack.waitForRelease(release.body.id, ['reconciling']);
    assert.equal(reconciling.releasedBy, 'legacy-ci (token gimlet-action)');

    const waiting = await stack.api('GET', `/api/eventReleaseTrack?id=${release.body.id}`);
    assert.equal(waiting.body.status, 'processed');
    assert.deepEqual(waiting.body.results, [{
      app: 'legacy', env: 'staging', hash: reconciling.gitopsCommit, status: 'success', gitopsCommitStatus: 'NotReconciled', gitopsCommitStatusDesc: '', statusDesc: 'reconciling',
    }]);
    await stack.postFlux(fluxEvent('Progressing', reconciling.gitopsCommit, { env: reconciling.env }));
    await stack.postFlux(fluxEvent('ReconciliationSucceeded', reconciling.gitopsCommit, { env: reconciling.env }));
    await stack.waitForRelease(release.body.id, ['succeeded']);
    const done = await stack.api('GET', `/api/eventReleaseTrack?id=${release.body.id}`);
    assert.equal(done.body.type, 'release');
    assert.equal(done.body.results[0].gitopsCommitStatus, 'ReconciliationSucceeded');
    const artifactTrack = await stack.api('GET', `/api/eventArtifactTrack?artifactId=${saved.id}`);
    assert.equal(artifactTrack.body.status, 'processed');
    assert.deepEqual(artifactTrack.body.results.map((r: { gitopsCommitStatus: string; hash: string }) => [r.gitopsCommitStatus, r.hash]), [['ReconciliationSucceeded', reconciling.gitopsCommit]]);

    assert.equal((await stack.api('GET', '/api/eventReleaseTrack?id=release:none')).status, 404);
    assert.equal((await stack.api('GET', '/api/eventArtifactTrack')).status, 400);
  });

  test("a failed release shows a status with \"Failed\" in it, which Gimlet's CLI treats as failure", async () => {
    const artifact = gimletArtifact('bad0'.padEnd(40, '2'));
    artifact.environments[0].manifests = 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  a: "{{ .MISSING }}"\n';
    const saved = await stack.api('POST', '/api/artifact', artifact);
    assert.equal(saved.status, 201);
    const release = await stack.api('POST', '/api/releases', { env: 'staging', app: 'legacy', artifactId: saved.body.id, tenant: '' });
    await stack.waitForRelease(release.body.id, ['failed']);
    const track = await stack.api('GET', `/api/eventReleaseTrack?id=${release.body.id}`);
    assert.equal(track.body.status, 'error');
    assert.equal(track.body.results[0].status, 'failure');
    assert.match(track.body.results[0].gitopsCommitStatus, /Failed/);
    assert.match(track.body.statusDesc, /MISSING/);
    // `new` while the artifact's deploy policies are still being evaluated, as Gimlet's CLI polls for (track --wait).
    let artifactTrack = await stack.api('GET', `/api/eventArtifactTrack?artifactId=${saved.body.id}`);
    for (const deadline = Date.now() + 30_000; artifactTrack.body.status === 'new' && Date.now() < deadline;) {
      await new Promise((r) => setTimeout(r, 200));
      artifactTrack = await stack.api('GET', `/api/eventArtifactTrack?artifactId=${saved.body.id}`);
    }
    assert.equal(artifactTrack.body.status, 'error');
  });

  test('the API description is served to any authenticated caller', async () => {
    const doc = await stack.api('GET', '/api/openapi.json');
    assert.equal(doc.status, 200);
    assert.equal(doc.body.openapi, '3.1.0');
    assert.ok(doc.body.paths['/api/releases/{id}'].get);
    assert.equal((await stack.api('GET', '/api/openapi.json', undefined, { token: null })).status, 401);
  });
});
