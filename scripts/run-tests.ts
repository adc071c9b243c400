// `npm test`: one PostgreSQL for the whole run (embedded unless DATABASE_URL names one; each test file makes
// its own database on it), then node's test runner over every test file. Its summary is the last thing printed.
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startPostgres } from '../server/postgres';

const TEST_TIMEOUT_MS = Number(process.env.FERRY_TEST_TIMEOUT_MS ?? 20 * 60_000);
const RUN_TIMEOUT_MS = Number(process.env.FERRY_TEST_RUN_TIMEOUT_MS ?? 60 * 60_000);

async function testFiles(root: string): Promise<string[]> {
  const entries = await fs.readdir(root, { withFileTypes: true, recursive: true });
  return entries
    .filter((e) => e.isFile() && e.name.endsWith('.test.ts'))
    .map((e) => path.join(e.parentPath, e.name))
    .sort();
}

async function main(): Promise<number> {
  const root = path.resolve(__dirname, '..');
  const only = process.argv.slice(2);
  const files = only.length
    ? (await Promise.all(only.map(async (f) => ((await fs.stat(f)).isDirectory() ? testFiles(path.resolve(f)) : [path.resolve(f)])))).flat()
    : await testFiles(path.join(root, 'test'));
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'ferry-test-pg-'));
  // Every test file gets a database on this one server, and a file can run several Ferry processes with a pool of
  // 10 each; two files run at a time. PostgreSQL's default of 100 connections leaves too little headroom.
  const pg = await startPostgres({ databaseUrl: process.env.DATABASE_URL, dataDir, maxConnections: 400 });
  try {
    // A test that hangs must fail with its name, not stall CI until its own limit. node applies --test-timeout to
    // each file as a whole (and to each test in it); a file that finished its tests but keeps a handle open is made
    // to exit; the whole run has RUN_TIMEOUT_MS.
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', '--test', '--test-concurrency=2', `--test-timeout=${TEST_TIMEOUT_MS}`, '--test-force-exit', ...files],
      { cwd: root, stdio: 'inherit', detached: true, env: { ...process.env, FERRY_TEST_DATABASE_URL: pg.url } },
    );
    const killGroup = (signal: NodeJS.Signals) => {
      try {
        process.kill(-child.pid!, signal);
      } catch {
        child.kill(signal);
      }
    };
    const watchdog = setTimeout(() => {
      process.stderr.write(`run-tests: the run took longer than ${RUN_TIMEOUT_MS / 60_000} min; killing it and every process it started\n`);
      killGroup('SIGKILL');
    }, RUN_TIMEOUT_MS);
    // The runner has its own process group (so the watchdog can end everything it started); pass on Ctrl-C.
    for (const s of ['SIGINT', 'SIGTERM'] as const) process.on(s, () => killGroup(s));
    const code = await new Promise<number>((resolve) => child.on('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0))));
    clearTimeout(watchdog);
    return code;
  } finally {
    await pg.stop();
    await fs.rm(dataDir, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`run-tests: ${(err as Error).stack ?? err}\n`);
    process.exit(1);
  },
);
