// `npm run bench:cli`: how long the published `ferry` CLI takes to start, against a bare `node -e 0` measured in the
// same run, interleaved (so both see the same machine load). The CLI is the compiled one (`npm run build` first),
// run the way pipelines run it: the bin/ferry.js executable, `ferry --version`. The TypeScript sources through tsx
// (FERRY_CLI_FROM_SOURCE=1, what every call cost before the compiled build) are measured too, for comparison.
// Writes a dated table into docs/performance.md.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { arg } from './support/args';
import { pct } from './support/repo';
import { machineDescription, writeDocSection } from './support/report';

const ROOT = path.resolve(__dirname, '..');
const BIN = path.join(ROOT, 'bin/ferry.js');
const iterations = Number(arg('iterations', '40'));

if (!fs.existsSync(path.join(ROOT, 'dist/cli/ferry.js'))) {
  process.stderr.write('bench:cli: no compiled CLI; run `npm run build` first\n');
  process.exit(1);
}

interface Subject {
  name: string;
  command: string;
  run(): void;
  ms: number[];
}

function timed(file: string, args: string[], env: NodeJS.ProcessEnv): () => void {
  return () => {
    const r = spawnSync(file, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    if (r.status !== 0) throw new Error(`${file} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  };
}

const env = { PATH: process.env.PATH, HOME: process.env.HOME };
const node = (): Subject => ({ name: 'node', command: 'node -e 0', run: timed(process.execPath, ['-e', '0'], env), ms: [] });
const compiled: Subject = { name: 'ferry (compiled)', command: 'bin/ferry.js --version', run: timed(BIN, ['--version'], env), ms: [] };
const source: Subject = { name: 'ferry (sources via tsx)', command: 'FERRY_CLI_FROM_SOURCE=1 bin/ferry.js --version', run: timed(BIN, ['--version'], { ...env, FERRY_CLI_FROM_SOURCE: '1' }), ms: [] };

/** Interleaved rounds of node and one subject (both see the same load), after one warm-up each. */
function pair(subject: Subject, rounds: number): { base: Subject; subject: Subject } {
  const base = node();
  for (const s of [base, subject]) s.run();
  for (let i = 0; i < rounds; i++) {
    for (const s of i % 2 ? [subject, base] : [base, subject]) {
      const t = process.hrtime.bigint();
      s.run();
      s.ms.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
  }
  return { base, subject };
}

// The tsx run is separate: its CPU-heavy starts would otherwise slow whatever runs next.
const pairs = [pair(compiled, iterations), pair(source, Math.max(5, Math.round(iterations / 4)))];
const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: ROOT, encoding: 'utf8' }).trim() ? ' (with uncommitted changes)' : '';
const rows = pairs.flatMap(({ base, subject }) => {
  const b = pct(base.ms, 50);
  const m = pct(subject.ms, 50);
  return [
    `| \`${subject.command}\` | ${subject.ms.length} | ${m.toFixed(0)} | ${pct(subject.ms, 90).toFixed(0)} | ${b.toFixed(0)} | **${(m / b).toFixed(2)}×** |`,
  ];
});
const body = [
  `Run ${new Date().toISOString().slice(0, 16)}Z, commit ${commit}${dirty}; ${machineDescription()}.`,
  '',
  '| command | runs | median ms | p90 ms | `node -e 0` median ms, same rounds | ratio of medians |',
  '|---|---:|---:|---:|---:|---:|',
  ...rows,
].join('\n');
writeDocSection('bench:cli', body);
process.stdout.write(`${body}\n`);
