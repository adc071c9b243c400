// The fixture check (docs/versioning.md): each scenario of scripts/record-histories.ts runs again against a real
// stack, and the commands each workflow issues must match a recorded fixture of that workflow type and outcome.
// Replay (test/workflow-replay.test.ts) proves old histories still run; this proves the fixtures still show what new
// runs do, so a changed path cannot ship without a fixture of its own.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { commandsOf, decodeHistory, type RecordedHistory } from './support/histories';
import { runScenarios, startRecordingStack } from './support/history-scenarios';
import { stopSharedTemporal, type Stack } from './support/stack';

const DIR = path.join(__dirname, 'histories');

let stack: Stack;
before(async () => {
  stack = await startRecordingStack();
});
after(async () => {
  await stack?.stop();
  await stopSharedTemporal();
});

/**
 * What depends on timing, not code, is left out: whether an idle-lane claim found the lane free (a local claim
 * followed by its activity-task fallback counts as the claim), and a timer cancelled right after it started (when
 * the cancellation falls into the same workflow task, the SDK sends neither command).
 */
function normalised(commands: string[]): string[] {
  return commands.filter((c, i) => !(
    (c === 'ACTIVITY_TASK_SCHEDULED enterLane' && commands[i - 1] === 'MARKER_RECORDED local enterIdleLane')
    || (c === 'ACTIVITY_TASK_SCHEDULED exitLane' && commands[i - 1] === 'MARKER_RECORDED local exitIdleLane')
    || (c === 'TIMER_STARTED' && commands[i + 1] === 'TIMER_CANCELED')
    || (c === 'TIMER_CANCELED' && commands[i - 1] === 'TIMER_STARTED')));
}

/** The fixtures of one workflow type and outcome: the first recording and any added by later patches (`--tag`). */
function fixturesOf(type: string, outcome: string): Array<{ file: string; commands: string[] }> {
  return fs.readdirSync(DIR)
    .filter((f) => f === `${type}--${outcome}.json` || f.startsWith(`${type}--${outcome}--`))
    .map((file) => ({ file, commands: normalised(commandsOf(decodeHistory(JSON.parse(fs.readFileSync(path.join(DIR, file), 'utf8')) as RecordedHistory))) }));
}

test('every scenario issues the commands of a recorded fixture', { timeout: 600_000 }, async () => {
  const problems: string[] = [];
  let checked = 0;
  await runScenarios(stack, async (workflowId, outcome, opts = {}) => {
    const handle = stack.ferry.temporal.workflow.getHandle(workflowId);
    if (!opts.running) await handle.result().catch(() => undefined);
    const type = (await handle.describe()).type;
    const now = normalised(commandsOf(await handle.fetchHistory()));
    const fixtures = fixturesOf(type, outcome);
    checked += 1;
    if (fixtures.some((f) => JSON.stringify(f.commands) === JSON.stringify(now))) return;
    const closest = fixtures[0];
    problems.push(closest
      ? `${type} (${outcome}) issues other commands than ${closest.file}:\n  recorded: ${closest.commands.join(' | ')}\n  now:      ${now.join(' | ')}`
      : `${type} (${outcome}) has no fixture ${type}--${outcome}.json`);
  });
  assert.ok(checked >= 10, `only ${checked} scenarios ran`);
  assert.deepEqual(problems, [], `a workflow's commands changed: before the first tag re-record the fixtures, after it add a fixture (docs/versioning.md: scripts/record-histories.ts)\n${problems.join('\n')}`);
});
