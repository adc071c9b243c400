// Replays Gimlet's recorded CLI and Action exchanges (test/fixtures/gimlet/<client>/exchanges.json) against a
// stack: same HTTP status, same outcome, and answers decodable into Gimlet's Go types. Used by the
// gimlet-replay-*.test.ts files, one client and one fresh stack per file (each recording started on an empty Ferry).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { ANSWER_TYPES, decodeAs, type GoType } from './gimlet-types';
import { callApi } from './http';
import { after, before, test } from 'node:test';
import { fluxEvent, type Stack, startStack, stopSharedTemporal } from './stack';

export interface Exchange {
  step: string;
  role: string;
  request: { method: string; path: string; contentType?: string; body?: unknown; accept?: string };
  response: { status: number; body: any };
}

export const DIR = path.join(__dirname, '..', 'fixtures', 'gimlet');
export const clients = fs.readdirSync(DIR).filter((d) => fs.existsSync(path.join(DIR, d, 'exchanges.json'))).sort();
export const load = (client: string): Exchange[] => JSON.parse(fs.readFileSync(path.join(DIR, client, 'exchanges.json'), 'utf8')).exchanges;

/** The Go type the CLI decodes this answer into; undefined for error answers, which it prints as text. */
export function answerType(x: Exchange): GoType | undefined {
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
  // Sorted: the Action's push step ends before its auto-release is created, so the next job's release may be
  // asked for first; the newest-first order of such neighbours is a race of the scenario, not of the API.
  if (p === '/api/releases' && x.method === 'GET') return { status, releases: body.map((r: any) => [r.app, r.env, r.artifactId, r.gitopsRef, r.gitopsCommitStatus, r.rolledBack])
    .sort((a: string[], b: string[]) => `${a[0]}/${a[1]}/${a[2]}`.localeCompare(`${b[0]}/${b[1]}/${b[2]}`)) };
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
    // Releases are paired by what they release, not by position: see `outcome` on list order.
    const key = (v: any) => (v && typeof v === 'object' && typeof v.artifactId === 'string' ? `${v.env}/${v.app}/${v.artifactId}` : undefined);
    const seen = new Map<string, number>();
    recorded.forEach((v, i) => {
      const k = key(v);
      if (k === undefined) return learn(v, replayed[i], map);
      const n = seen.get(k) ?? 0;
      seen.set(k, n + 1);
      learn(v, replayed.filter((w) => key(w) === k)[n], map);
    });
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


/**
 * Flux as the recording had it: every release waiting for Flux is reconciled soon after its commit, and told again
 * every few seconds while it waits (real Flux repeats ReconciliationSucceeded on every interval). Returns a stop.
 */
export function simulateFlux(stack: Stack): () => Promise<void> {
  const told = new Map<string, number>();
  let on = true;
  const loop = (async () => {
    while (on) {
      const waiting = await stack.api('GET', '/api/releases?status=reconciling&limit=50');
      for (const r of waiting.body.items ?? []) {
        if (r.gitopsCommit && Date.now() - (told.get(r.gitopsCommit) ?? 0) > 3000) {
          await stack.postFlux(fluxEvent('ReconciliationSucceeded', r.gitopsCommit, { env: r.env }));
          told.set(r.gitopsCommit, Date.now());
        }
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  })();
  return async () => {
    on = false;
    await loop;
  };
}

/** Replays one client's recording, in order, on `stack` (empty, with Flux simulated). */
export async function replay(stack: Stack, client: string): Promise<void> {
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
    let where = `${x.step}: ${req.method} ${req.path}`;
    if (JSON.stringify(mapped(outcome(req, got.status, got.body), commits)) !== JSON.stringify(mapped(outcome(x.request, x.response.status, x.response.body), commits))) {
      const releases = (await stack.api('GET', '/api/releases?limit=10')).body.items ?? [];
      where += `; releases now: ${releases.map((r: any) => `${r.env}/${r.app} ${r.artifactId} ${r.status}`).join(', ')}`;
    }
    assert.deepEqual(mapped(outcome(req, got.status, got.body), commits), mapped(outcome(x.request, x.response.status, x.response.body), commits), where);
    const type = answerType(x);
    if (type) assert.deepEqual(decodeAs(got.body, type), [], where);
  }
}

/**
 * The test file of one recorded client (one file per client, so the runner replays them side by side): a fresh stack
 * with Flux simulated, and the whole recorded pipeline replayed against it.
 */
export function replayRecordedPipeline(client: string): void {
  let stack: Stack;
  let stopFlux: (() => Promise<void>) | undefined;
  before(async () => {
    stack = await startStack({ env: { FERRY_FLUX_TIMEOUT: '5m' } });
    stopFlux = simulateFlux(stack);
  });
  after(async () => {
    await stopFlux?.();
    await stack?.stop();
    await stopSharedTemporal();
  });
  test(`${client}: push, auto-deploy, track --wait, deploy, re-run, PR, tag, list, status, rollback, release make, delete`, { timeout: 600_000 }, async () => {
    await replay(stack, client);
  });
}
