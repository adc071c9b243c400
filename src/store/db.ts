import fs from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';

export type Db = pg.Pool;
/** A pool or one of its checked-out clients (inside a transaction). */
export type Queryable = pg.Pool | pg.PoolClient;

/** pg's own default; pools created without `max` have this many sessions at most */
export const DEFAULT_POOL_SIZE = 10;

export function createPool(url: string, max = DEFAULT_POOL_SIZE): Db {
  const pool = new pg.Pool({ connectionString: url, max, connectionTimeoutMillis: 5_000 });
  // An idle client losing its server (PostgreSQL restarted) must not crash the process; the next query reconnects.
  pool.on('error', () => undefined);
  return pool;
}

export interface HeldSession {
  client: pg.PoolClient;
  /** Back to the pool; a session that failed (`broken`) or died while held is closed instead. */
  release(broken?: Error): void;
}

/**
 * A pool session held for a transaction. A session that dies between two queries (PostgreSQL restarted, say while
 * the holder waits on Temporal) emits 'error', and an 'error' nobody listens to ends the process. Here it is heard:
 * the next query fails instead, and the dead session leaves the pool when it is released.
 */
export async function holdSession(db: Db): Promise<HeldSession> {
  const client = await db.connect();
  let died: Error | undefined;
  const onError = (err: Error) => {
    died = err;
  };
  client.on('error', onError);
  return {
    client,
    release(broken) {
      client.off('error', onError);
      client.release(broken ?? died);
    },
  };
}

const MIGRATIONS_DIR = path.join(__dirname, 'migrations');
// Any constant works; it only keeps two starting processes from migrating at once.
const MIGRATION_LOCK = 4_242_001;

/** Applies migrations/NNN_*.sql in order, each in its own transaction, once. */
export async function migrate(db: Db): Promise<string[]> {
  const files = (await fs.readdir(MIGRATIONS_DIR)).filter((f) => /^\d{3}_[a-z0-9_]+\.sql$/.test(f)).sort();
  const client = await db.connect();
  const applied: string[] = [];
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
    const done = new Set((await client.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map((r) => r.version));
    for (const file of files) {
      const version = Number(file.slice(0, 3));
      if (done.has(version)) continue;
      const sql = await fs.readFile(path.join(MIGRATIONS_DIR, file), 'utf8');
      await client.query('BEGIN');
      try {
        await client.query(sql);
        await client.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [version, file]);
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK');
        throw new Error(`migration ${file} failed: ${(err as Error).message}`);
      }
      applied.push(file);
    }
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
    client.release();
  }
  return applied;
}
