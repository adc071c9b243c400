// Conformance with Gimlet's real clients. test/fixtures/gimlet/<client>/exchanges.json holds every HTTP exchange
// of Gimlet's CLI and GitHub Action (built from gimlet-io/gimlet at tag cli-v0.25.0 and at 8ad151ed) running a
// whole pipeline against Ferry (docs/gimlet.md says how they were recorded). This file replays the requests, in
// order, against a fresh stack and checks each answer: same HTTP status, the same outcome (track status, results,
// ids), and decodable into the Go type the CLI decodes it into (test/support/gimlet-types.ts).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ANSWER_TYPES, decodeAs, type GoType } from './support/gimlet-types';
import { configEnv, PEOPLE } from './support/gates';
import { callApi } from './support/http';
import { fluxEvent, makeArtifact, startStack, stopSharedTemporal, type Stack } from './support/stack';

interface Exchange {
  step: string;
  role: string;
  request: { method: string; path: string; contentType?: string; body?: unknown; accept?: string };
  response: { status: number; body: any };
}

const DIR = path.join(__dirname, 'fixtures', 'gimlet');
const clients = fs.readdirSync(DIR).filter((d) => fs.existsSync(path.join(DIR, d, 'exchanges.json'))).sort();
const load = (client: string): Exchange[] => JSON.parse(fs.readFileSync(path.join(DIR, client, 'exchanges.json'), 'utf8')).exchanges;

/** The Go type the CLI decodes this answer into; undefined for error answers, which it prints as text. */
function answerType(x: Exchange): GoType | undefined {
  if (x.response.status > 206) return undefined;
  const p = x.request.path.split('?')[0];
  if (x.request.method === 'POST' && p === '/api/artifact') return ANSWER_TYPES.artifactPush;
  if (p === '/api/artifacts' && x.request.method === 'GET') return ANSWER_TYPES.artifactList;
  if (p === '/api/eventArtifactTrack' || p === '/api/eventReleaseTrack') return ANSWER_TYPES.track;
  if (p === '/api/releases' && x.request.method === 'GET') return ANSWER_TYPES.releaseList;
  if (p === '/api/status') return ANSWER_TYPES.releaseStatus;
  return ANSWER_TYPES.idAnswer;
}

/** What must be the same in a replay: outcomes and ids, not times or GitOps commit ids (those are mapped). */
function outcome(x: Exchange['request'], status: number, body: any): unknown {
  const p = x.path.split('?')[0];
  if (status > 206) return { status };
  if (p === '/api/artifact' || p === '/api/artifacts') return { status, ids: Array.isArray(body) ? body.map((a: any) => a.id) : body.id };
  if (p === '/api/eventArtifactTrack' || p === '/api/eventReleaseTrack') {
    return { status, track: body.status, results: body.results.map((r: any) => [r.app, r.env, r.status, r.gitopsCommitStatus, r.hash]) };
  }
  if (p === '/api/releases' && x.method === 'GET') return { status, releases: body.map((r: any) => [r.app, r.env, r.artifactId, r.gitopsRef, r.gitopsCommitStatus, r.rolledBack]) };
  if (p === '/api/status') return { status, apps: Object.fromEntries(Object.entries(body).map(([k, r]: [string, any]) => [k, [r.artifactId, r.gitopsRef]])) };
  return { status, id: body.id };
}

const HEX40 = /^[0-9a-f]{40}$/;

/**
 * `release make` of an artifact that ran before: whether that is a new release (and commit) is the release
 * identity rule's call, not this API's; here it must answer as Gimlet's CLI expects, with an id it can track.
 */
const IDENTITY_DEPENDENT = new Set(['release-make-older', 'release-track-older']);

/** Learns recorded → replayed GitOps commit ids from two answers of the same request. */
function learn(recorded: unknown, replayed: unknown, map: Map<string, string>): void {
  if (typeof recorded === 'string' && typeof replayed === 'string' && HEX40.test(recorded) && HEX40.test(replayed) && recorded !== replayed) {
    if (!map.has(recorded)) map.set(recorded, replayed);
  } else if (Array.isArray(recorded) && Array.isArray(replayed)) {
    recorded.forEach((v, i) => learn(v, replayed[i], map));
  } else if (recorded && replayed && typeof recorded === 'object' && typeof replayed === 'object') {
    for (const [k, v] of Object.entries(recorded)) learn(v, (replayed as Record<string, unknown>)[k], map);
  }
}

function mapped<T>(value: T, map: Map<string, string>): T {
  let text = JSON.stringify(value);
  for (const [from, to] of map) text = text.split(from).join(to);
  return JSON.parse(text) as T;
}

/** Consecutive identical requests are the CLI polling: replay the last one, polling until it answers the same. */
function collapse(xs: Exchange[]): Array<Exchange & { polls: number }> {
  const out: Array<Exchange & { polls: number }> = [];
  for (const x of xs) {
    const prev = out.at(-1);
    if (prev && prev.request.method === x.request.method && prev.request.path === x.request.path && JSON.stringify(prev.request.body) === JSON.stringify(x.request.body)) {
      out[out.length - 1] = { ...x, polls: prev.polls + 1 };
    } else out.push({ ...x, polls: 1 });
  }
  return out;
}

let stack: Stack;
let fluxOn = true;
let fluxLoop: Promise<void> | undefined;
before(async () => {
  const now = Date.now();
  stack = await startStack({
    env: await configEnv({
      staging: {},
      production: { approvals: { required: 1, approvers: ['bob'], timeout: '10m' } },
      launch: { freezes: [{ name: 'launch day', from: new Date(now - 3600_000).toISOString(), to: new Date(now + 3600_000).toISOString() }] },
    }, { FERRY_FLUX_TIMEOUT: '5m' }),
  });
});
after(async () => {
  fluxOn = false;
  await fluxLoop;
  await stack?.stop();
  await stopSharedTemporal();
});

/** Flux as the recording had it: every release waiting for Flux is reconciled soon after its commit. */
function simulateFlux(): void {
  const settled = new Set<string>();
  fluxLoop = (async () => {
    while (fluxOn) {
      const waiting = await stack.api('GET', '/api/releases?status=reconciling&limit=50');
      for (const r of waiting.body.items ?? []) {
        if (r.gitopsCommit && !settled.has(r.gitopsCommit)) {
          settled.add(r.gitopsCommit);
          await stack.postFlux(fluxEvent('ReconciliationSucceeded', r.gitopsCommit));
        }
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  })();
}

describe("Gimlet's CLI and Action, replayed", () => {
  test('fixtures were recorded for both pinned clients', () => {
    assert.deepEqual(clients, ['cli-v0.25.0', 'head-8ad151ed']);
  });

  test('every recorded answer decodes into the Go type the CLI reads it as', () => {
    for (const client of clients) {
      for (const x of load(client)) {
        const type = answerType(x);
        if (type) assert.deepEqual(decodeAs(x.response.body, type), [], `${client} ${x.step}: ${x.request.method} ${x.request.path}`);
      }
    }
  });

  test('the type check catches what broke Gimlet clients before', () => {
    assert.notDeepEqual(decodeAs([{ id: 'a', version: { created: '2026-11-23T10:00:00Z' } }], ANSWER_TYPES.artifactList), []);
    assert.notDeepEqual(decodeAs({ items: [], nextBefore: null }, ANSWER_TYPES.releaseList), []);
    assert.notDeepEqual(decodeAs([{ environments: [{ json6902Patches: [{ patch: [{ op: 'remove' }] }] }] }], ANSWER_TYPES.artifactList), []);
    assert.deepEqual(decodeAs([{ id: 'a', created: 1795428000, version: { created: 1795428000, event: 'push' }, unknownField: { x: 1 } }], ANSWER_TYPES.artifactList), []);
  });

  test('POST /api/artifact auto-deploys like POST /api/artifacts; a re-run is a new artifact, a retry the same', async () => {
    const artifact = { ...makeArtifact({ apps: [{ app: 'web', env: 'staging' }] }), vars: { IMAGE: 'r/web', GITHUB_RUN_ATTEMPT: '1', 'docker-image': 'r/web:1' } };
    artifact.environments[0] = { ...artifact.environments[0]!, deploy: { branch: 'main', event: 'push' }, chart: { name: '' } } as never;
    const first = await stack.api('POST', '/api/artifact', artifact);
    assert.equal(first.status, 201, JSON.stringify(first.body));
    assert.equal(typeof first.body.version.created, 'number');
    const retry = await stack.api('POST', '/api/artifact', artifact);
    assert.deepEqual([retry.status, retry.body.id], [200, first.body.id]);
    const rerun = await stack.api('POST', '/api/artifact', { ...artifact, vars: { ...artifact.vars, GITHUB_RUN_ATTEMPT: '2' } });
    assert.equal(rerun.status, 201);
    assert.notEqual(rerun.body.id, first.body.id);
    // Both artifacts released web to staging by policy; with Flux answering, both end.
    fluxOn = true;
    simulateFlux();
    let track = await stack.api('GET', `/api/eventArtifactTrack?artifactId=${first.body.id}`);
    for (let i = 0; i < 600 && !(track.body.status === 'processed' && track.body.results[0]?.gitopsCommitStatus === 'ReconciliationSucceeded'); i++) {
      await new Promise((r) => setTimeout(r, 100));
      track = await stack.api('GET', `/api/eventArtifactTrack?artifactId=${first.body.id}`);
    }
    fluxOn = false;
    await fluxLoop;
    assert.equal(track.body.status, 'processed', JSON.stringify(track.body));
    assert.deepEqual(track.body.results.map((r: any) => [r.app, r.env, r.status, r.gitopsCommitStatus]), [['web', 'staging', 'success', 'ReconciliationSucceeded']]);
    const decisions = await stack.api('GET', `/api/artifacts/${first.body.id}/decisions`);
    assert.equal(decisions.status, 200);
  });

  test("release delete: one commit removing the app, the deployer's call, never in a gated or frozen environment", async () => {
    const pushed = await stack.api('POST', '/api/artifact', makeArtifact({ apps: [{ app: 'cart', env: 'staging' }] }));
    const started = await stack.api('POST', '/api/releases', { env: 'staging', app: 'cart', artifactId: pushed.body.id });
    const row = await stack.waitForRelease(started.body.id, ['reconciling']);
    assert.ok(stack.git('ls-tree', '--name-only', 'main', 'staging/').split('\n').includes('staging/cart'));
    const ci = (await stack.api('POST', '/api/tokens', { name: 'delete-ci', role: 'ci' })).body.token;
    const stagingOnly = (await stack.api('POST', '/api/tokens', { name: 'delete-staging', role: 'deployer', envs: ['staging'] })).body.token;
    const del = (q: string, token?: string) => stack.api('POST', `/api/delete?${q}`, undefined, { token });

    assert.equal((await del('env=staging&app=cart', ci)).status, 403, 'pushing artifacts is not deleting apps');
    const elsewhere = await del('env=production&app=cart', stagingOnly);
    assert.equal(elsewhere.status, 403);
    assert.deepEqual(elsewhere.body.missing, { env: 'production' });
    const gated = await del('env=production&app=cart', PEOPLE.alice);
    assert.equal(gated.status, 409);
    assert.match(gated.body.error, /need approval/);
    const frozen = await del('env=launch&app=cart', PEOPLE.alice);
    assert.equal(frozen.status, 409);
    assert.match(frozen.body.error, /frozen by "launch day"/);
    const never = await del('env=staging&app=cert-manager', PEOPLE.alice);
    assert.equal(never.status, 404, 'a directory Ferry never released into is not an app it deletes');
    for (const bad of ['env=staging&app=../staging', 'env=staging', 'app=cart', 'env=Staging&app=cart', 'env=staging&app=flux']) {
      const r = await del(bad, PEOPLE.alice);
      assert.equal(r.status, 400, bad);
      assert.ok(r.body.issues.length > 0, bad);
    }
    assert.equal(stack.git('rev-parse', 'main'), row.gitopsCommit, 'nothing refused wrote anything');

    const removed = await del('env=staging&app=cart', stagingOnly);
    assert.equal(removed.status, 200, JSON.stringify(removed.body));
    assert.equal(removed.body.status, 'committed');
    assert.equal(stack.git('rev-parse', 'main'), removed.body.commit);
    assert.ok(!stack.git('ls-tree', '--name-only', 'main', 'staging/').split('\n').includes('staging/cart'));
    assert.match(stack.git('log', '-1', '--format=%B', 'main'), /Ferry-Trigger: delete/);
    const again = await del('env=staging&app=cart', stagingOnly);
    assert.equal(again.body.status, 'unchanged');
  });

  for (const client of clients) {
    test(`${client}: the recorded pipeline replays with the same outcomes`, { timeout: 600_000 }, async () => {
      // Each client's recording started on an empty Ferry; artifact and release ids depend only on what is sent.
      await stack.stop();
      stack = await startStack({ env: { FERRY_FLUX_TIMEOUT: '5m' } });
      fluxOn = true;
      simulateFlux();
      const tokens: Record<string, string | undefined> = { admin: undefined };
      for (const role of ['ci', 'deployer']) tokens[role] = (await stack.api('POST', '/api/tokens', { name: `gimlet-${role}`, role, owner: `gimlet-${role}` })).body.token;
      const commits = new Map<string, string>();
      for (const x of collapse(load(client))) {
        const req = mapped(x.request, commits);
        if (IDENTITY_DEPENDENT.has(x.step)) {
          const ask = () => callApi(stack.url, req.method, req.path, req.body, { token: tokens[x.role], headers: { accept: '' } });
          let got = await ask();
          // Like `release track --wait`: until every result is ReconciliationSucceeded, or one failed.
          const ended = (b: any) => b?.status === 'error' || (b?.status === 'processed' && (b.results as any[]).every((r) => r.gitopsCommitStatus === 'ReconciliationSucceeded' || /Failed/.test(r.gitopsCommitStatus)));
          for (let i = 0; x.request.path.startsWith('/api/eventReleaseTrack') && !ended(got.body) && i < 240; i++) {
            await new Promise((r) => setTimeout(r, 250));
            got = await ask();
          }
          assert.ok(got.status >= 200 && got.status <= 206, `${x.step}: ${got.status} ${JSON.stringify(got.body)}`);
          const type = answerType(x);
          if (type) assert.deepEqual(decodeAs(got.body, type), [], x.step);
          continue;
        }
        const want = mapped(outcome(x.request, x.response.status, x.response.body), commits);
        const headers: Record<string, string> = {};
        if (req.accept !== undefined) headers.accept = req.accept;
        // Gimlet's Go client sends no Accept header; fetch adds one unless given one (empty counts as none).
        const call = () => callApi(stack.url, req.method, req.path, req.body, { token: tokens[x.role], headers: { accept: '', ...headers } });
        let got = await call();
        const deadline = Date.now() + 60_000;
        // Polls (and anything right after a background step) may need a moment to reach the recorded outcome.
        while (JSON.stringify(mapped(outcome(req, got.status, got.body), commits)) !== JSON.stringify(want) && Date.now() < deadline) {
          learn(x.response.body, got.body, commits);
          if (JSON.stringify(mapped(outcome(req, got.status, got.body), commits)) === JSON.stringify(mapped(outcome(x.request, x.response.status, x.response.body), commits))) break;
          await new Promise((r) => setTimeout(r, 250));
          got = await call();
        }
        learn(x.response.body, got.body, commits);
        const where = `${x.step}: ${req.method} ${req.path}`;
        assert.deepEqual(mapped(outcome(req, got.status, got.body), commits), mapped(outcome(x.request, x.response.status, x.response.body), commits), where);
        const type = answerType(x);
        if (type) assert.deepEqual(decodeAs(got.body, type), [], where);
      }
      fluxOn = false;
      await fluxLoop;
    });
  }
});
