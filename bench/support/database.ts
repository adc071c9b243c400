// Shared by the PostgreSQL benchmarks: a migrated database holding the benchmark's seed, and its teardown.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { createTestDatabase, startPostgres } from '../../server/postgres';
import { createPool, type Db, migrate } from '../../src/store/db';

export interface SeededDatabase {
  db: Db;
  /** Rows in `releases` after seeding. */
  releases: number;
  pgVersion: string;
  /** An embedded PostgreSQL (no DATABASE_URL) rather than a scratch database on DATABASE_URL's server. */
  embedded: boolean;
  close(): Promise<void>;
}

/**
 * A scratch database on DATABASE_URL's server, or without DATABASE_URL an embedded PostgreSQL in a temporary
 * directory, migrated and filled by `seed` (its time goes to stderr). `close` ends the pool and removes what was
 * made; a failed seed removes it before the error surfaces.
 */
export async function seededDatabase(opts: { name: string; poolSize: number; seed: (db: Db) => Promise<void> }): Promise<SeededDatabase> {
  const adminUrl = process.env.DATABASE_URL;
  const dataDir = adminUrl ? null : await fs.mkdtemp(path.join(os.tmpdir(), `ferry-bench-${opts.name}-`));
  const removeDataDir = async () => {
    if (dataDir) await fs.rm(dataDir, { recursive: true, force: true });
  };
  let scratch: Awaited<ReturnType<typeof createTestDatabase>> | null = null;
  let pg: Awaited<ReturnType<typeof startPostgres>> | null = null;
  try {
    if (adminUrl) scratch = await createTestDatabase(adminUrl);
    else pg = await startPostgres({ dataDir: dataDir! });
  } catch (err) {
    await removeDataDir();
    throw err;
  }
  const db = createPool(scratch?.url ?? pg!.url, opts.poolSize);
  const close = async () => {
    await db.end();
    await scratch?.drop();
    await pg?.stop();
    await removeDataDir();
  };
  try {
    await migrate(db);
    const t0 = performance.now();
    await opts.seed(db);
    const releases = (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM releases')).rows[0].n;
    const pgVersion = (await db.query<{ server_version: string }>('SHOW server_version')).rows[0].server_version;
    process.stderr.write(`seeded ${releases} releases in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
    return { db, releases, pgVersion, embedded: !scratch, close };
  } catch (err) {
    await close();
    throw err;
  }
}
