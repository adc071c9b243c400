// `npm run bench:patterns`: how long /healthz waits while Ferry evaluates the worst user patterns and inputs.
//
// Ferry serves the API, the workers and the writer from one event loop, so a pattern that takes long to match
// stalls everything. This starts the real stack (Temporal dev server, PostgreSQL, a bare GitOps remote; the same
// one the tests use), polls /healthz back to back from a separate process, and runs each attack several times:
// an exponential glob on a long branch and message, a JSON 6902 target (a+)+b on a long name, a branch restriction
// ^(a+)+$ on a long branch, an artifact over the pattern budget, and three million open brackets. Each round uses
// a pattern of its own (a suffix), so every round compiles and builds its automaton afresh, as an attacker would.
// A control row runs the glob flow with plain globs, and the event loop's longest block is measured in-process,
// which separates Ferry's stalls from how often the loaded machine schedules the polling process. For comparison,
// the same patterns on JavaScript's backtracking RegExp (what Ferry used before) are timed once each in a child
// process with a cap, at lengths where they can still finish. Prints the machine and a Markdown table for
// docs/performance.md.
//
// Needs FERRY_TEST_DATABASE_URL (or an embedded PostgreSQL, as the tests). Options (env): BENCH_ROUNDS (10).
import { execFileSync, spawn } from 'node:child_process';
import os from 'node:os';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { deployment, makeArtifact, startStack, stopSharedTemporal, type Stack } from '../test/support/stack';
import { ADMIN_TOKEN } from '../test/support/http';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 10);
const OLD_ENGINE_CAP_MS = 20_000;

const POLLER = `
const url = process.argv[1];
const latencies = [];
let running = true;
process.stdin.on('end', () => { running = false; });
process.stdin.resume();
(async () => {
  while (running) {
    const t = performance.now();
    const res = await fetch(url);
    await res.arrayBuffer();
    latencies.push(performance.now() - t);
    await new Promise((r) => setTimeout(r, 5));
  }
  latencies.sort((a, b) => a - b);
  const q = (p) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))];
  process.stdout.write(JSON.stringify({ n: latencies.length, p50: q(0.5), p99: q(0.99), max: latencies.at(-1) }));
})();
`;

interface Stats { n: number; p50: number; p99: number; max: number; loopMax: number }

async function whilePolling(stack: Stack, run: () => Promise<void>): Promise<Stats & { ms: number }> {
  const child = spawn(process.execPath, ['-e', POLLER, `${stack.url}/healthz`], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  await new Promise((resolve) => setTimeout(resolve, 300));
  // Ferry runs in this process: the longest the event loop was blocked is the stall itself, apart from how
  // often the loaded machine schedules the polling process.
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  const started = performance.now();
  await run();
  const ms = performance.now() - started;
  loop.disable();
  child.stdin.end();
  await new Promise((resolve) => child.on('close', resolve));
  return { ...(JSON.parse(out) as Omit<Stats, 'loopMax'>), loopMax: loop.max / 1e6, ms };
}

/** One evaluation of `source` on `input` with JavaScript's RegExp, in a child process, capped. */
function oldEngineMs(source: string, input: string): string {
  const script = `const re = new RegExp(${JSON.stringify(source)}); const t = performance.now(); re.test(${JSON.stringify(input)}); process.stdout.write(String(performance.now() - t));`;
  try {
    return Number(execFileSync(process.execPath, ['-e', script], { timeout: OLD_ENGINE_CAP_MS, encoding: 'utf8' })).toFixed(0);
  } catch {
    return `> ${OLD_ENGINE_CAP_MS}`;
  }
}

function artifactWith(environments: Array<Record<string, unknown>>, version: Record<string, unknown> = {}) {
  const base = makeArtifact({ apps: [] });
  return { ...base, version: { ...base.version, ...version }, environments: environments.map((e) => ({ namespace: String(e.env), manifests: deployment(String(e.app)), ...e })) };
}

async function main(): Promise<void> {
  const stack = await startStack({ env: { FERRY_AWAIT_FLUX: 'false', FERRY_MAX_BODY: '8mb' } });
  const rows: string[] = [];
  const row = (name: string, what: string, s: Stats & { ms: number }, old: string) =>
    rows.push(`| ${name} | ${what} | ${ROUNDS} | ${(s.ms / ROUNDS).toFixed(0)} | ${s.n} | ${s.p50.toFixed(1)} | ${s.p99.toFixed(1)} | ${s.max.toFixed(1)} | ${s.loopMax.toFixed(1)} | ${old} |`);
  try {
    row('idle', 'nothing (baseline)', await whilePolling(stack, () => new Promise((r) => setTimeout(r, 3000))), '–');

    // Warm-up (not measured): the first artifact workflow, release and schema parse pay one-off costs.
    const warm = await stack.api('POST', '/api/artifacts', artifactWith([{ app: 'warm', env: 'staging', deploy: { branch: 'main' } }]));
    const warmRun = await stack.ferry.temporal.workflow.getHandle(`artifact:${warm.body.id}`).result();
    await stack.waitForRelease(warmRun.released[0], ['committed', 'failed'], 120_000);

    row('control: plain globs', 'deploy.branch `feature/*`, message pattern `*deploy*`, same flow as the next row', await whilePolling(stack, async () => {
      for (let i = 0; i < ROUNDS; i++) {
        const res = await stack.api('POST', '/api/artifacts', artifactWith([{ app: `plain-${i}`, env: 'staging', deploy: { branch: 'feature/*', commitMessagePatterns: ['*deploy*'] } }], { branch: 'a'.repeat(250), message: 'a'.repeat(4000) }));
        if (res.status !== 201) throw new Error(JSON.stringify(res.body));
        await stack.ferry.temporal.workflow.getHandle(`artifact:${res.body.id}`).result();
      }
    }), '–');

    const glob = `${'*a'.repeat(60)}*b`;
    row('ci glob', `deploy.branch and a message pattern \`*a\`×60\`*b\`, 250-char branch, 4,000-char message`, await whilePolling(stack, async () => {
      for (let i = 0; i < ROUNDS; i++) {
        const res = await stack.api('POST', '/api/artifacts', artifactWith([{ app: `glob-${i}`, env: 'staging', deploy: { branch: `${glob}${i}`, commitMessagePatterns: [`${glob}${i}`] } }], { branch: 'a'.repeat(250), message: 'a'.repeat(4000) }));
        if (res.status !== 201) throw new Error(JSON.stringify(res.body));
        await stack.ferry.temporal.workflow.getHandle(`artifact:${res.body.id}`).result();
      }
    }), `${oldEngineMs(`^(?:${'[^/]*a'.repeat(7)}[^/]*b)$`, 'a'.repeat(60))} (7 stars, 60 chars)`);

    const app = 'a'.repeat(60);
    row('JSON 6902 target', '`(a+)+b` against a 60-char resource name, release rendered', await whilePolling(stack, async () => {
      for (let i = 0; i < ROUNDS; i++) {
        const pushed = await stack.api('POST', '/api/artifacts', artifactWith([{ app, env: `t${i}`, json6902Patches: [{ target: { kind: 'Deployment', name: `(a+)+b${i}` }, patch: [{ op: 'replace', path: '/spec/replicas', value: 2 }] }] }]));
        const started = await stack.api('POST', '/api/releases', { artifactId: pushed.body.id, env: `t${i}` });
        const done = await stack.waitForRelease(started.body.id, ['committed', 'failed'], 120_000);
        if (done.status !== 'failed') throw new Error(`target release ${done.status}`);
      }
    }), `${oldEngineMs('^(?:(a+)+b)$', 'a'.repeat(28))} (28 chars)`);

    const put = await stack.api('PUT', '/api/policies', { kind: 'branch-restriction', app: 'redos', env: 'staging', branchRegex: '^(a+)+$' });
    if (put.status !== 201) throw new Error(JSON.stringify(put.body));
    row('branch restriction', '`^(a+)+$` against a 251-char branch, manual release refused', await whilePolling(stack, async () => {
      for (let i = 0; i < ROUNDS; i++) {
        const pushed = await stack.api('POST', '/api/artifacts', artifactWith([{ app: 'redos', env: 'staging' }], { branch: `${'a'.repeat(250)}!` }));
        const res = await stack.api('POST', '/api/releases', { artifactId: pushed.body.id, env: 'staging' });
        if (res.status !== 422) throw new Error(JSON.stringify(res.body));
      }
    }), `${oldEngineMs('^(a+)+$', `${'a'.repeat(26)}!`)} (27 chars)`);

    const patterns = Array.from({ length: 50 }, (_, k) => `${'*a'.repeat(120)}*${k}`);
    row('pattern budget', '20 files × 50 distinct 242-char message patterns, 10,000-char message: 400', await whilePolling(stack, async () => {
      for (let i = 0; i < ROUNDS; i++) {
        const res = await stack.api('POST', '/api/artifacts', artifactWith(Array.from({ length: 20 }, (_, f) => ({ app: `b-${f}`, env: 'staging', deploy: { branch: 'main', commitMessagePatterns: patterns.map((p) => `${p}${f}-${i}`) } })), { message: 'a'.repeat(10_000) }));
        if (res.status !== 400) throw new Error(`budget: ${res.status}`);
      }
    }), '–');

    const brackets = '['.repeat(3_000_000);
    row('deep JSON', '3,000,000 open brackets: 400 before parsing', await whilePolling(stack, async () => {
      for (let i = 0; i < ROUNDS; i++) {
        const res = await fetch(`${stack.url}/api/artifacts`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_TOKEN}` }, body: brackets });
        await res.arrayBuffer();
        if (res.status !== 400) throw new Error(`deep: ${res.status}`);
      }
    }), '–');
  } finally {
    await stack.stop();
    await stopSharedTemporal();
  }
  const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  console.log(`machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}; node ${process.version}; commit ${commit}; ${new Date().toISOString().slice(0, 10)}`);
  console.log('| attack | input | rounds | ms per round | /healthz answers | p50 ms | p99 ms | max ms | event loop blocked, max ms | backtracking RegExp, one evaluation (ms) |');
  console.log('|---|---|---|---|---|---|---|---|---|---|');
  for (const r of rows) console.log(r);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
