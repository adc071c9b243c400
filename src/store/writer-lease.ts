import { hostname } from 'node:os';
import type pg from 'pg';
import { LeaseLostError, type WriteFence, type WriteLease } from '../gitops/fence';
import type { Db } from './db';

/**
 * The GitOps write lease in PostgreSQL: a session advisory lock on hash(repo key) serialises writers (waiters queue
 * inside PostgreSQL, so a hand-over costs one round trip, no polling) and a row per key hands out a token that grows
 * by one per grant. A writer whose process or connection dies loses the lock with its session at once.
 * `check()` runs on the locking session: if that session is gone the query fails and the lease counts as lost.
 */
export function pgWriteFence(db: Db, holder = `${hostname()}:${process.pid}`): WriteFence {
  return {
    async acquire(key: string): Promise<WriteLease> {
      const client: pg.PoolClient = await db.connect();
      // A checked-out client whose connection dies emits 'error'; unhandled, that would crash the process. The
      // next check() fails instead, which is what a lost lease must do.
      let sessionError: Error | null = null;
      const onError = (e: Error) => (sessionError = e);
      client.on('error', onError);
      let locked = false;
      try {
        await client.query('SELECT pg_advisory_lock(hashtextextended($1, 5))', [key]);
        locked = true;
        const r = await client.query<{ token: string }>(
          `INSERT INTO gitops_write_leases (repo_key, token, holder) VALUES ($1, 1, $2)
           ON CONFLICT (repo_key) DO UPDATE SET token = gitops_write_leases.token + 1, holder = EXCLUDED.holder, acquired_at = now()
           RETURNING token`,
          [key, holder],
        );
        const token = BigInt(r.rows[0]!.token);
        let released = false;
        return {
          token,
          async check() {
            if (released) throw new LeaseLostError(`lease on ${key} was released`);
            if (sessionError) throw new LeaseLostError(`lease on ${key} lost with its session: ${sessionError.message}`);
            const now = await client.query<{ token: string }>('SELECT token FROM gitops_write_leases WHERE repo_key = $1', [key]);
            const current = now.rows[0] ? BigInt(now.rows[0].token) : null;
            if (current !== token) throw new LeaseLostError(`lease on ${key} moved to token ${current} (ours ${token})`);
          },
          async release() {
            if (released) return;
            released = true;
            try {
              await client.query('SELECT pg_advisory_unlock(hashtextextended($1, 5))', [key]);
              client.off('error', onError);
              client.release();
            } catch (e) {
              // A broken session: drop it (its lock went with it). The listener stays, because the dead socket can
              // still emit its error after this, and an unheard 'error' event would crash the process.
              client.release(e as Error);
            }
          },
        };
      } catch (e) {
        if (locked) await client.query('SELECT pg_advisory_unlock(hashtextextended($1, 5))', [key]).catch(() => undefined);
        client.release(e as Error);
        throw e;
      }
    },
  };
}
