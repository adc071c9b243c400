import type { PoolClient } from 'pg';
import type { Db } from './db';

const CHANNEL = 'ferry_releases';
const RETRY_MS = 2_000;

export interface ReleaseChangeFeed {
  /** Called with each changed release id; returns the unsubscribe function. */
  subscribe(listener: (releaseId: string) => void): () => void;
  stop(): Promise<void>;
}

/**
 * One LISTEN session per process, shared by every open console: migration 012's trigger announces each write to a
 * release row. The session is opened only while someone listens, and reopened after PostgreSQL went away; a
 * listener hears `*` after such a gap, meaning "anything may have changed, read again", and `!` when the process
 * stops.
 */
export function releaseChangeFeed(db: Db): ReleaseChangeFeed {
  const listeners = new Set<(id: string) => void>();
  let client: PoolClient | null = null;
  let opening: Promise<void> | null = null;
  let retry: NodeJS.Timeout | null = null;
  let stopped = false;

  const emit = (id: string) => {
    for (const l of listeners) l(id);
  };

  const close = (broken?: Error) => {
    const c = client;
    client = null;
    if (c) {
      c.removeAllListeners('notification');
      c.removeAllListeners('error');
      c.on('error', () => undefined);
      c.release(broken ?? true);
    }
  };

  const open = (): Promise<void> => {
    if (stopped || client || opening || listeners.size === 0) return opening ?? Promise.resolve();
    opening = (async () => {
      try {
        const c = await db.connect();
        c.on('error', (err) => {
          close(err);
          emit('*');
          schedule();
        });
        c.on('notification', (n) => {
          if (n.channel === CHANNEL && n.payload) emit(n.payload);
        });
        await c.query(`LISTEN ${CHANNEL}`);
        client = c;
        if (stopped || listeners.size === 0) close();
      } catch {
        schedule();
      } finally {
        opening = null;
      }
    })();
    return opening;
  };

  const schedule = () => {
    if (stopped || retry || listeners.size === 0) return;
    retry = setTimeout(() => {
      retry = null;
      void open().then(() => client && emit('*'));
    }, RETRY_MS);
    retry.unref();
  };

  return {
    subscribe(listener) {
      listeners.add(listener);
      void open();
      return () => {
        listeners.delete(listener);
        if (listeners.size === 0) close();
      };
    },
    async stop() {
      stopped = true;
      if (retry) clearTimeout(retry);
      await opening;
      close();
      emit('!');
      listeners.clear();
    },
  };
}
