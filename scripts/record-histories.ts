// Records one history per workflow type and outcome from a real stack into test/histories/*.json, for the replay
// check (test/workflow-replay.test.ts) and the command check (test/workflow-fixtures.test.ts). Run it when a
// workflow type or a path through one is added, and commit the files it writes:
//   node --import tsx scripts/record-histories.ts
// After a patched change to a workflow: node --import tsx scripts/record-histories.ts --tag <patch> --types <type>
// An existing file is never overwritten: recorded histories are what running workflows look like after a deploy.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startPostgres } from '../server/postgres';
import { encodeHistory } from '../test/support/histories';
import { runScenarios, startRecordingStack } from '../test/support/history-scenarios';
import { stopSharedTemporal } from '../test/support/stack';

const OUT = path.resolve(__dirname, '../test/histories');

// `--tag <change>` names the new files `<type>--<outcome>--<change>.json`, so a patched workflow gets fixtures of
// its new path beside the old ones; `--types a,b` records only those workflow types.
function option(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
const TAG = option('--tag');
const TYPES = option('--types')?.split(',');

async function main(): Promise<void> {
  await fs.mkdir(OUT, { recursive: true });
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'ferry-record-'));
  const pg = await startPostgres({ databaseUrl: process.env.DATABASE_URL, dataDir });
  process.env.FERRY_TEST_DATABASE_URL = pg.url;
  const stack = await startRecordingStack();
  try {
    await runScenarios(stack, async (workflowId, outcome, opts = {}) => {
      const handle = stack.ferry.temporal.workflow.getHandle(workflowId);
      // Entity workflows (lanes) never end: their history so far is what a deploy must replay.
      if (!opts.running) await handle.result().catch(() => undefined);
      const desc = await handle.describe();
      if (TYPES && !TYPES.includes(desc.type)) return;
      const file = path.join(OUT, `${desc.type}--${outcome}${TAG ? `--${TAG}` : ''}.json`);
      if (await fs.stat(file).then(() => true, () => false)) {
        process.stdout.write(`kept ${path.relative(process.cwd(), file)}: recorded histories are never overwritten\n`);
        return;
      }
      await fs.writeFile(file, `${JSON.stringify(encodeHistory(desc.type, workflowId, await handle.fetchHistory()), null, 1)}\n`);
      process.stdout.write(`recorded ${path.relative(process.cwd(), file)} (${workflowId})\n`);
    });
  } finally {
    await stack.stop();
    await stopSharedTemporal();
    await pg.stop();
    await fs.rm(dataDir, { recursive: true, force: true });
  }
}

main().then(() => process.exit(0), (err) => {
  process.stderr.write(`${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
