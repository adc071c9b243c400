// The compiled build (`npm run build`) is what users run: it must work without tsx or esbuild at run time, its
// prebuilt workflow bundle must replay every recorded history, and the CLI must be the compiled one.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { before, test } from 'node:test';
import { Worker } from '@temporalio/worker';
import { installRuntime } from '../worker/runtime';
import { decodeHistory, type RecordedHistory } from './support/histories';

const ROOT = path.resolve(__dirname, '..');
const DIST = path.join(ROOT, 'dist');
let forbid: string;

before(() => {
  // Incremental: seconds when dist/ is current, a full compile and bundle on a fresh checkout.
  execFileSync(process.execPath, [path.join(ROOT, 'scripts/build.js')], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  // Preloaded into every node process below (NODE_OPTIONS reaches the children they fork): loading a transpiler
  // (the workflow bundler's swc) fails the process. The SDK loads webpack itself whenever a worker does.
  forbid = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-build-')), 'forbid-transpilers.js');
  fs.writeFileSync(forbid, `
const Module = require('node:module');
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  if (/^(tsx|esbuild|@swc\\/core)(\\/|$)/.test(request)) throw new Error('compiled code loaded ' + request);
  return resolve.call(this, request, ...rest);
};
`);
});

const compiledEnv = () => ({ PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? os.tmpdir(), NODE_OPTIONS: `--require=${forbid}` });

test('the published CLI is the compiled one and loads no transpiler', () => {
  const version = (JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  const r = spawnSync(path.join(ROOT, 'bin/ferry.js'), ['--version'], { env: compiledEnv(), encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, `ferry ${version}\n`);
  const help = spawnSync(path.join(ROOT, 'bin/ferry.js'), ['--help'], { env: compiledEnv(), encoding: 'utf8' });
  assert.equal(help.status, 0, help.stderr);
  assert.match(help.stdout, /temporal check/);
  // The same run with the forbidding hook but from sources fails: the hook does catch tsx.
  const fromSource = spawnSync(path.join(ROOT, 'bin/ferry.js'), ['--version'], { env: { ...compiledEnv(), FERRY_CLI_FROM_SOURCE: '1' }, encoding: 'utf8' });
  assert.notEqual(fromSource.status, 0);
  assert.match(fromSource.stderr, /compiled code loaded tsx/);
});

test('the compiled git helper and workflow bundle need no transpiler', () => {
  const script = `
const { useGitHelper } = require(${JSON.stringify(path.join(DIST, 'src/gitops/git-helper.js'))});
const { runGit } = require(${JSON.stringify(path.join(DIST, 'src/gitops/git.js'))});
const { workflowBundle, PREBUILT_BUNDLE } = require(${JSON.stringify(path.join(DIST, 'worker/runtime.js'))});
const fs = require('node:fs');
(async () => {
  const stop = useGitHelper();
  const r = await runGit(['--version']);
  const helpers = fs.readdirSync('/proc').filter((p) => /^\\d+$/.test(p)).map((p) => { try { return fs.readFileSync('/proc/' + p + '/cmdline', 'utf8').split('\\0'); } catch { return []; } })
    .filter((a) => a.some((x) => x.endsWith('git-helper-main.js')) && fs.readFileSync('/proc/' + process.pid + '/cmdline', 'utf8').length > 0);
  const bundle = await workflowBundle();
  await stop();
  process.stdout.write(JSON.stringify({ git: r.stdout, helpers, bundleIsPrebuilt: typeof bundle.code === 'string' && bundle.code === fs.readFileSync(PREBUILT_BUNDLE, 'utf8') }));
})().catch((e) => { process.stderr.write(String(e && e.stack || e)); process.exit(1); });
`;
  const r = spawnSync(process.execPath, ['-e', script], { env: compiledEnv(), encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { git: string; helpers: string[][]; bundleIsPrebuilt: boolean };
  assert.match(out.git, /^git version /);
  assert.ok(out.helpers.length >= 1, 'a git helper process ran');
  for (const argv of out.helpers) {
    assert.ok(!argv.some((a) => /tsx|--import|--loader/.test(a)), `helper started without a loader: ${argv.join(' ')}`);
  }
  assert.equal(out.bundleIsPrebuilt, true);
  for (const entry of ['server/main.js', 'cli/ferry.js', 'src/store/migrations/001_init.sql']) assert.ok(fs.existsSync(path.join(DIST, entry)), entry);
});

test('the prebuilt workflow bundle replays every recorded history', async () => {
  installRuntime('ERROR');
  const dir = path.join(__dirname, 'histories');
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.json'));
  assert.ok(files.length > 0);
  for (const file of files) {
    const recorded = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as RecordedHistory;
    await Worker.runReplayHistory({ workflowBundle: { codePath: path.join(DIST, 'workflow-bundle.js') } }, decodeHistory(recorded), recorded.workflowId);
  }
});
