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
import { callApi } from './support/http';
import { fluxEvent, startStack, stopSharedTemporal, type Stack } from './support/stack';

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
  stack = await startStack({ env: { FERRY_FLUX_TIMEOUT: '5m' } });
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
