#!/usr/bin/env node
'use strict';
// The `ferry` CLI: TypeScript run through tsx, like the rest of Ferry (no build step).
require('tsx/cjs/api').register();
require('../cli/main.ts').run();
