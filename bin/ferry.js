#!/bin/sh
":" //; exec node "$0" -- "$@"
// The `ferry` CLI: TypeScript run through tsx, like the rest of Ferry (no build step).
// The first lines are read by sh and are a no-op for JavaScript: Node 20 takes `--env-file` anywhere on its command
// line as its own option, so the shell re-runs this file with the CLI's arguments after `--`, where Node stops.
'use strict';
require('tsx/cjs/api').register();
require('../cli/main.ts').run();
