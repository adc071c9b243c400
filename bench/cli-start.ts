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
const subjects: Subject[] = [
  { name: 'node', command: 'node -e 0', run: timed(process.execPath, ['-e', '0'], env), ms: [] },
  { name: 'ferry (compiled)', command: 'bin/ferry.js --version', run: timed(BIN, ['--version'], env), ms: [] },
  { name: 'ferry (sources via tsx)', command: 'FERRY_CLI_FROM_SOURCE=1 bin/ferry.js --version', run: timed(BIN, ['--version'], { ...env, FERRY_CLI_FROM_SOURCE: '1' }), ms: [] },
];

// One warm-up each (page cache), then interleaved rounds.
for (const s of subjects) s.run();
for (let i = 0; i < iterations; i++) {
  for (const s of subjects) {
    const t = process.hrtime.bigint();
    s.run();
    s.ms.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
}

const base = pct(subjects[0]!.ms, 50);
const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: ROOT, encoding: 'utf8' }).trim() ? ' (with uncommitted changes)' : '';
const rows = subjects.map((s) => {
  const p50 = pct(s.ms, 50);
  return `| \`${s.command}\` | ${p50.toFixed(0)} | ${pct(s.ms, 90).toFixed(0)} | ${(p50 / base).toFixed(2)}× |`;
});
const body = [
  `Run ${new Date().toISOString().slice(0, 16)}Z, commit ${commit}${dirty}, ${iterations} interleaved rounds; ${machineDescription()}.`,
  '',
  '| command | median ms | p90 ms | median ÷ `node -e 0` |',
  '|---|---:|---:|---:|',
  ...rows,
].join('\n');
writeDocSection('bench:cli', body);
process.stdout.write(`${body}\n`);
