// The versioning check (docs/versioning.md): every recorded history in test/histories replays against the current
// workflow code. A change that would break workflows already running fails here, before it is deployed.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { Worker } from '@temporalio/worker';
import { workflowBundle, installRuntime } from '../worker/runtime';
import * as workflows from '../workflows/index';
import { decodeHistory, type RecordedHistory } from './support/histories';

const DIR = path.join(__dirname, 'histories');
const files = fs.readdirSync(DIR).filter((f) => f.endsWith('.json')).sort();

test('there is a recorded history for every workflow type the worker registers', () => {
  const recorded = new Set(files.map((f) => f.split('--')[0]));
  const missing = Object.keys(workflows).filter((t) => !recorded.has(t));
  assert.deepEqual(missing, [], `record histories for ${missing.join(', ')} with scripts/record-histories.ts`);
});

for (const file of files) {
  test(`replays ${file}`, async () => {
    installRuntime('ERROR');
    const recorded = JSON.parse(fs.readFileSync(path.join(DIR, file), 'utf8')) as RecordedHistory;
    await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, decodeHistory(recorded), recorded.workflowId);
  });
}
