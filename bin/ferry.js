#!/bin/sh
":" //; exec node "$0" -- "$@"
// The `ferry` CLI. The first lines are read by sh and are a no-op for JavaScript: Node 20 takes `--env-file`
// anywhere on its command line as its own option, so the shell re-runs this file with the CLI's arguments after
// `--`, where Node stops.
// What users run is the compiled CLI (dist/cli/ferry.js, one file made by `npm run build`; the image ships only
// that), loaded with the V8 code cache the build wrote next to it, so it starts about as fast as Node itself. A
// checkout without dist/, or FERRY_CLI_FROM_SOURCE=1 (the tests set it, so they never run a stale build), runs the
// TypeScript sources through tsx instead.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const file = path.join(__dirname, '..', 'dist', 'cli', 'ferry.js');
let source;
if (process.env.FERRY_CLI_FROM_SOURCE !== '1') {
  try {
    source = fs.readFileSync(file, 'utf8');
  } catch {
    // no build: run the sources
  }
}
if (source !== undefined) {
  const Module = require('node:module');
  const vm = require('node:vm');
  let cachedData;
  try {
    cachedData = fs.readFileSync(`${file}.cache`);
  } catch {
    // compiled without a cache: V8 compiles as usual
  }
  // What require() would do, plus the cache (a cache from another Node version is rejected and ignored).
  const script = new vm.Script(Module.wrap(source), { filename: file, cachedData });
  const mod = new Module(file, module);
  mod.filename = file;
  mod.paths = Module._nodeModulePaths(path.dirname(file));
  script.runInThisContext().call(mod.exports, mod.exports, Module.createRequire(file), mod, file, path.dirname(file));
  mod.loaded = true;
  mod.exports.run();
} else {
  require('tsx/cjs/api').register();
  require('../cli/main.ts').run();
}
