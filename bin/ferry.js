#!/bin/sh
":" //; exec node "$0" -- "$@"
// The `ferry` CLI. The first lines are read by sh and are a no-op for JavaScript: Node 20 takes `--env-file`
// anywhere on its command line as its own option, so the shell re-runs this file with the CLI's arguments after
// `--`, where Node stops.
// What users run is the compiled CLI (dist/, made by `npm run build`; the image and a package ship only that): it
// starts about as fast as Node itself. A checkout without dist/, or FERRY_CLI_FROM_SOURCE=1 (the tests set it, so
// they never run a stale build), runs the TypeScript sources through tsx instead.
'use strict';
const path = require('node:path');
const compiled = path.join(__dirname, '..', 'dist', 'cli', 'ferry.js');
let useCompiled = process.env.FERRY_CLI_FROM_SOURCE !== '1';
if (useCompiled) {
  try {
    require.resolve(compiled);
  } catch {
    useCompiled = false;
  }
}
if (useCompiled) {
  require(compiled).run();
} else {
  require('tsx/cjs/api').register();
  require('../cli/main.ts').run();
}
