// Records one history per workflow type and outcome from a real stack into test/histories/*.json, for the replay
// check (test/workflow-replay.test.ts). Run it when a workflow type is added, and commit the files it writes:
//   node --import tsx scripts/record-histories.ts
// After a patched change to a workflow: node --import tsx scripts/record-histories.ts --tag <patch> --types <type>
// Histories recorded by older code are never deleted: they are what running workflows look like after a deploy.
import fs from 'node:fs/promises';
import path from 'node:path';
import { encodeHistory } from '../test/support/histories';
import { startPostgres } from '../server/postgres';
import { configEnv } from '../test/support/gates';
import { fluxEvent, makeArtifact, startStack, stopSharedTemporal, type Stack } from '../test/support/stack';

const OUT = path.resolve(__dirname, '../test/histories');

// `--tag <change>` names the new files `<type>--<outcome>--<change>.json`, so a patched workflow gets fixtures of
// its new path beside the old ones; `--types a,b` records only those workflow types. An existing file is never
// overwritten (docs/versioning.md).
function option(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
const TAG = option('--tag');
const TYPES = option('--types')?.split(',');

async function save(stack: Stack, workflowId: string, name: string, opts: { running?: boolean } = {}): Promise<void> {
  const handle = stack.ferry.temporal.workflow.getHandle(workflowId);
  // Entity workflows (lanes) never end: their history so far is what a deploy must replay.
  if (!opts.running) await handle.result().catch(() => undefined);
  const desc = await handle.describe();
  if (TYPES && !TYPES.includes(desc.type)) return;
  const file = path.join(OUT, `${desc.type}--${name}${TAG ? `--${TAG}` : ''}.json`);
  if (await fs.stat(file).then(() => true, () => false)) {
    process.stdout.write(`kept ${path.relative(process.cwd(), file)}: recorded histories are never overwritten\n`);
    return;
  }
  await fs.writeFile(file, `${JSON.stringify(encodeHistory(desc.type, workflowId, await handle.fetchHistory()), null, 1)}\n`);
  process.stdout.write(`recorded ${path.relative(process.cwd(), file)} (${workflowId})\n`);
}

async function release(stack: Stack, app: string, manifests?: string, env = 'staging') {
  const pushed = await stack.api('POST', '/api/artifacts', makeArtifact({ apps: [{ app, env, manifests }] }));
  const started = await stack.api('POST', '/api/releases', { artifactId: pushed.body.id, env });
  if (started.status !== 202) throw new Error(JSON.stringify(started.body));
  return { artifactId: pushed.body.id as string, id: started.body.id as string };
}

async function main(): Promise<void> {
  await fs.mkdir(OUT, { recursive: true });
  const dataDir = await fs.mkdtemp(path.join(require('node:os').tmpdir(), 'ferry-record-'));
  const pg = await startPostgres({ databaseUrl: process.env.DATABASE_URL, dataDir });
  process.env.FERRY_TEST_DATABASE_URL = pg.url;
  // production promotes automatically from staging, so a successful staging release records an auto-promotion;
  // only prod rolls back automatically, so the staging scenarios record what they always did.
  const stack = await startStack({
    env: await configEnv({ staging: {}, production: { promotion: { from: 'staging', auto: true } }, prod: { autoRollback: true } }, { FERRY_FLUX_TIMEOUT: '3s' }),
  });
  try {
    const ok = await release(stack, 'recorded');
    const row = await stack.waitForRelease(ok.id, ['reconciling']);
    const event = await stack.postFlux(fluxEvent('ReconciliationSucceeded', row.gitopsCommit));
    await save(stack, ok.id, 'succeeded');
    await save(stack, `flux-event:${event.body.id}`, 'settled');
    await save(stack, `artifact:${ok.artifactId}`, 'stored');
    await save(stack, `auto-promote:production:${ok.id}`, 'no-env-file');
    // The lane is known and idle now: the next release of the app claims it without an activity task.
    const idle = await release(stack, 'recorded');
    const idleRow = await stack.waitForRelease(idle.id, ['reconciling']);
    await stack.postFlux(fluxEvent('ReconciliationSucceeded', idleRow.gitopsCommit));
    await save(stack, idle.id, 'succeeded-idle-lane');
    // A lone release takes the lanes' fast path and starts no lane workflow (docs/gates.md); two at once do.
    const pair = await Promise.all([release(stack, 'recorded-pair'), release(stack, 'recorded-pair')]);
    const rows = await Promise.all(pair.map((p) => stack.waitForRelease(p.id, ['timed-out', 'succeeded', 'failed'], 60_000)));
    const queued = rows.find((r) => r.timeline.some((t: { status: string }) => t.status === 'queued'));
    if (queued) await save(stack, queued.id, 'queued-timed-out');
    await save(stack, 'lane:recorded-pair:staging', 'two-releases', { running: true });
    const cleanup = await stack.api('POST', '/api/events/branch-deleted', { repository: 'acme/shop', branch: 'feature/gone' });
    if (cleanup.status !== 202) throw new Error(JSON.stringify(cleanup.body));
    await save(stack, cleanup.body.workflowId ?? cleanup.body.id, 'nothing-to-remove');

    const failedFlux = await release(stack, 'recorded-bad');
    const bad = await stack.waitForRelease(failedFlux.id, ['reconciling']);
    await stack.postFlux(fluxEvent('HealthCheckFailed', bad.gitopsCommit));
    await save(stack, failedFlux.id, 'flux-failed');

    const broken = await release(stack, 'recorded-broken', 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: {{ .MISSING }}}\n');
    await save(stack, broken.id, 'render-failed');

    const slow = await release(stack, 'recorded-slow');
    await save(stack, slow.id, 'timed-out');

    // The same artifact again after the first succeeded: nothing to commit.
    const again = await stack.api('POST', '/api/releases', { artifactId: ok.artifactId, env: 'staging' });
    if (again.body.id !== ok.id) await save(stack, again.body.id, 'unchanged');

    // Automatic rollback: a good release, then one Flux fails, which starts one rollback to the good artifact.
    const good = await release(stack, 'recorded-rollback', undefined, 'prod');
    await stack.postFlux(fluxEvent('ReconciliationSucceeded', (await stack.waitForRelease(good.id, ['reconciling'])).gitopsCommit));
    await stack.waitForRelease(good.id, ['succeeded']);
    const failing = await release(stack, 'recorded-rollback', undefined, 'prod');
    await stack.postFlux(fluxEvent('ReconciliationFailed', (await stack.waitForRelease(failing.id, ['reconciling'])).gitopsCommit));
    await save(stack, failing.id, 'auto-rolled-back');
    await save(stack, `auto-rollback:${failing.id}`, 'started');

    // Gimlet's `release delete`: one commit removing the app's directory.
    const removed = await stack.api('POST', '/api/delete?env=staging&app=recorded-bad');
    if (removed.status !== 200) throw new Error(JSON.stringify(removed.body));
    await save(stack, removed.body.workflowId, 'removed');
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
