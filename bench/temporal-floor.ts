/**
 * What the Temporal dev server and the TypeScript SDK cost on this machine for the smallest possible workflow: one
 * activity, then complete. No Ferry code runs. Whatever a release adds (rendering, the commit, the ordering lane,
 * the state mirror) comes on top, so the rate measured here bounds bench:e2e's from above.
 *
 *   node --import tsx bench/temporal-floor.ts [--seconds 20] [--concurrency 50] [--upserts 0] [--temporal-in-memory]
 *
 * `--upserts N`: the workflow also upserts a search attribute N times (half before the activity, half after), to
 * price an upsert (each is a visibility write in the server).
 *
 * A closed loop keeps `concurrency` workflows in flight (start, await the result, start the next) for `seconds`,
 * against a dev server on a database file (as `npm start` runs it), and reports workflows/s and the CPU per
 * workflow of the server and of this process (client + worker).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { startTemporal } from '../server/temporal-server';
import { cpuByComponent } from './support/repo';
import { machineDescription } from './support/report';
import { arg } from './support/args';


async function main(): Promise<void> {
  const seconds = Number(arg('seconds', '20'));
  const concurrency = Number(arg('concurrency', '50'));
  const upserts = Number(arg('upserts', '0'));
  const inMemory = process.argv.includes('--temporal-in-memory');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-floor-'));
  Runtime.install({ logger: new DefaultLogger('WARN'), shutdownSignals: [] });
  const temporal = await startTemporal(inMemory ? {} : { dataDir: dir });
  try {
    const connection = await NativeConnection.connect({ address: temporal.address });
    const taskQueue = 'floor';
    const worker = await Worker.create({
      connection,
      namespace: temporal.namespace,
      taskQueue,
      workflowBundle: await bundleWorkflowCode({ workflowsPath: require.resolve('./floor/workflows'), logger: new DefaultLogger('WARN') }),
      activities: { async noop() {} },
    });
    const running = worker.run();
    const client = new Client({ connection: await Connection.connect({ address: temporal.address }), namespace: temporal.namespace });
    const one = (i: number) => client.workflow.execute('floorWorkflow', { taskQueue, workflowId: `floor-${i}`, args: [upserts] });
    // Warm up: bundle loaded, sticky queues polled, SQLite pages cached.
    await Promise.all(Array.from({ length: concurrency }, (_, i) => one(-1 - i)));

    const server = new RegExp(`start-dev .*--port ${temporal.address.split(':').pop()}\\b`);
    const cpu0 = cpuByComponent({ temporal: server });
    const self0 = process.cpuUsage();
    const t0 = Date.now();
    const end = t0 + seconds * 1000;
    let started = 0;
    let done = 0;
    const latencies: number[] = [];
    await Promise.all(Array.from({ length: concurrency }, async () => {
      while (Date.now() < end) {
        const s = Date.now();
        await one(started++);
        latencies.push(Date.now() - s);
        done++;
      }
    }));
    const elapsed = (Date.now() - t0) / 1000;
    const cpu1 = cpuByComponent({ temporal: server });
    const self = process.cpuUsage(self0);
    latencies.sort((a, b) => a - b);
    const result = {
      workflowsPerSecond: Number((done / elapsed).toFixed(1)),
      p50ms: latencies[Math.floor(latencies.length * 0.5)],
      p99ms: latencies[Math.floor(latencies.length * 0.99)],
      cpuMsPerWorkflow: {
        temporal: Math.round(((cpu1.temporal! - cpu0.temporal!) * 1000) / done),
        'client+worker': Math.round((self.user + self.system) / 1000 / done),
      },
    };
    process.stdout.write(`${machineDescription()}\n${JSON.stringify({ concurrency, seconds, upserts, inMemory, workflows: done, ...result })}\n`);
    worker.shutdown();
    await running;
    await connection.close();
  } finally {
    await temporal.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

main().then(() => process.exit(0), (err) => {
  process.stderr.write(`${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
