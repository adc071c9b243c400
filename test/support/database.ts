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
 * A database of its own for one test file or stack: on the run's server (scripts/run-tests.ts sets
 * FERRY_TEST_DATABASE_URL; DATABASE_URL works too), or an embedded PostgreSQL in `dataDir` when the file runs alone.
 */
export async function provisionTestDatabase(dataDir: string): Promise<{ url: string; drop(): Promise<unknown> }> {
  const admin = process.env.FERRY_TEST_DATABASE_URL ?? process.env.DATABASE_URL;
  if (admin) return createTestDatabase(admin);
  const server = await startPostgres({ dataDir });
  return { url: server.url, drop: server.stop };
}

/** provisionTestDatabase, migrated, with a temp folder for the file's own files. */
export async function openTestDatabase(prefix: string): Promise<TestDatabase> {
  const root = await mkdtemp(path.join(tmpdir(), prefix));
  const provisioned = await provisionTestDatabase(path.join(root, 'pg'));
  const db = createPool(provisioned.url);
  await migrate(db);
  return {
    root, databaseUrl: provisioned.url, db,
    async close() {
      await db.end();
      await provisioned.drop().catch(() => undefined);
      await rm(root, { recursive: true, force: true });
    },
  };
}
