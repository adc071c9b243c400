#!/usr/bin/env node
// `npm run build`: compiles Ferry into dist/ and prebuilds the workflow bundle, so that what users run (the image,
// `node dist/server/main.js`, the `ferry` CLI) is plain JavaScript with no transpiler at run time. Plain JavaScript
// itself, so it needs no build. Incremental: an unchanged tree rebuilds in seconds and the bundle is kept when no
// compiled workflow file is newer than it.
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const DIST = path.join(ROOT, 'dist');

function newestMtime(dir) {
  let newest = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile() && e.name.endsWith('.js')) newest = Math.max(newest, fs.statSync(path.join(e.parentPath, e.name)).mtimeMs);
  }
  return newest;
}

/**
 * V8's code cache for the CLI (bin/ferry.js passes it to vm.Script): compiling the file is a large part of what the
 * CLI's start costs beyond Node's own. Made after running the module's top level, so the functions that runs are in it.
 */
function writeCodeCache(file) {
  const vm = require('node:vm');
  const Module = require('node:module');
  const script = new vm.Script(Module.wrap(fs.readFileSync(file, 'utf8')), { filename: file });
  const mod = new Module(file, module);
  mod.filename = file;
  mod.paths = Module._nodeModulePaths(path.dirname(file));
  script.runInThisContext().call(mod.exports, mod.exports, Module.createRequire(file), mod, file, path.dirname(file));
  fs.writeFileSync(`${file}.cache`, script.createCachedData());
}

async function main() {
  const started = Date.now();
  execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', path.join(ROOT, 'tsconfig.build.json')], { cwd: ROOT, stdio: 'inherit' });
  // Files the compiled code reads next to itself.
  fs.cpSync(path.join(ROOT, 'src/store/migrations'), path.join(DIST, 'src/store/migrations'), { recursive: true });
  // The web console's pages, served by dist/api/console.js from the folder beside it.
  fs.cpSync(path.join(ROOT, 'console'), path.join(DIST, 'console'), { recursive: true });
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  // require('../package.json') from dist/cli and dist/api/routes lands here; only what they read.
  fs.writeFileSync(path.join(DIST, 'package.json'), `${JSON.stringify({ name: pkg.name, version: pkg.version, type: 'commonjs', private: true }, null, 2)}\n`);

  // The CLI as one file: pipelines call it many times, and one file loads faster than the dozen modules tsc emits.
  // Packages it uses only in some commands stay outside and load when those commands run.
  require('esbuild').buildSync({
    entryPoints: [path.join(ROOT, 'cli/main.ts')], outfile: path.join(DIST, 'cli/ferry.js'), bundle: true, platform: 'node',
    format: 'cjs', target: 'node20', external: ['yaml', 'zod', '@temporalio/*', '../package.json'], logLevel: 'warning',
  });

  writeCodeCache(path.join(DIST, 'cli/ferry.js'));

  const bundleFile = path.join(DIST, 'workflow-bundle.js');
  const stale = !fs.existsSync(bundleFile) || fs.statSync(bundleFile).mtimeMs < newestMtime(path.join(DIST, 'workflows'));
  if (stale) {
    const { bundleWorkflowCode, DefaultLogger } = require('@temporalio/worker');
    const { code } = await bundleWorkflowCode({ workflowsPath: path.join(DIST, 'workflows/index.js'), logger: new DefaultLogger('WARN') });
    fs.writeFileSync(`${bundleFile}.tmp`, code);
    fs.renameSync(`${bundleFile}.tmp`, bundleFile);
  }
  process.stdout.write(`build: dist/ ready (${stale ? 'workflow bundle rebuilt, ' : ''}${((Date.now() - started) / 1000).toFixed(1)}s)\n`);
}

main().catch((err) => {
  process.stderr.write(`build: ${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
});
