import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createTestDatabase, startPostgres } from '../../server/postgres';
import { createPool, type Db, migrate } from '../../src/store/db';

export interface TestDatabase {
  /** A temp folder for the test file's own files; removed by close(). */
  root: string;
  databaseUrl: string;
  /** Migrated. */
  db: Db;
  close(): Promise<void>;
}

/**
 * A migrated database of its own for one test file: on the run's server (scripts/run-tests.ts sets
 * FERRY_TEST_DATABASE_URL), or an embedded PostgreSQL when the file runs alone.
 */
export async function openTestDatabase(prefix: string): Promise<TestDatabase> {
  const root = await mkdtemp(path.join(tmpdir(), prefix));
  const cleanups: Array<() => Promise<unknown>> = [];
  const admin = process.env.FERRY_TEST_DATABASE_URL;
  let databaseUrl: string;
  if (admin) {
    const t = await createTestDatabase(admin);
    cleanups.push(t.drop);
    databaseUrl = t.url;
  } else {
    const server = await startPostgres({ dataDir: path.join(root, 'pg') });
    cleanups.push(server.stop);
    databaseUrl = server.url;
  }
  const db = createPool(databaseUrl);
  await migrate(db);
  return {
    root, databaseUrl, db,
    async close() {
      await db.end();
      for (const c of cleanups.reverse()) await c().catch(() => undefined);
      await rm(root, { recursive: true, force: true });
    },
  };
}
