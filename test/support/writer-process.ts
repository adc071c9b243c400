// A GitopsWriter in its own process, for tests that SIGKILL it. Reads a JSON job file (argv[2]), submits every
// change at once and prints one JSON line per event on stdout: {"event":"ready"}, {"event":"result",...},
// {"event":"error",...}, {"event":"done","stats":...}. Nothing here is used in production.
import { readFileSync } from 'node:fs';
import { GitopsWriter, type AppChange } from '../../src/gitops/writer';
import { createPool } from '../../src/store/db';
import { pgWriteFence } from '../../src/store/writer-lease';

export interface WriterJob {
  remote: string;
  branch: string;
  cacheDir: string;
  changes: AppChange[];
  /** submit the changes in this many waves, one per `gapMs` (default: all at once) */
  waves?: number;
  gapMs?: number;
  retry?: { maxElapsedMs: number; initialDelayMs: number; maxDelayMs: number };
  /** PostgreSQL URL: serialise with other replicas through the write lease (see src/store/writer-lease.ts) */
  databaseUrl?: string;
  directLocalWrite?: boolean;
}

function emit(o: object): void {
  process.stdout.write(`${JSON.stringify(o)}\n`);
}

async function main(): Promise<void> {
  const job = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as WriterJob;
  const db = job.databaseUrl ? createPool(job.databaseUrl, 2) : undefined;
  const writer = new GitopsWriter({
    fence: db ? pgWriteFence(db) : undefined,
    log: (msg, fields) => {
      if (msg === 'gitops.batch.pushed') emit({ event: 'pushed', ...fields });
    },
    remote: job.remote,
    branch: job.branch,
    cacheDir: job.cacheDir,
    committer: { name: 'Ferry', email: 'ferry@example.test' },
    retry: job.retry ?? { maxElapsedMs: 60_000, initialDelayMs: 20, maxDelayMs: 300 },
    directLocalWrite: job.directLocalWrite,
  });
  await writer.init();
  emit({ event: 'ready', pid: process.pid });
  const waves = Math.max(1, job.waves ?? 1);
  const per = Math.ceil(job.changes.length / waves);
  const all: Promise<void>[] = [];
  for (let w = 0; w < waves; w++) {
    for (const c of job.changes.slice(w * per, (w + 1) * per)) {
      all.push(
        writer.submit(c).then(
          (r) => emit({ event: 'result', releaseId: c.releaseId, commit: r.commit, status: r.status }),
          (e: Error) => emit({ event: 'error', releaseId: c.releaseId, name: e.name, message: e.message }),
        ),
      );
    }
    if (job.gapMs && w < waves - 1) await new Promise((r) => setTimeout(r, job.gapMs));
  }
  await Promise.all(all);
  await writer.close();
  await db?.end();
  emit({ event: 'done', stats: writer.stats });
}

main().then(
  () => process.exit(0),
  (e) => {
    emit({ event: 'fatal', message: String((e as Error).stack ?? e) });
    process.exit(1);
  },
);
