import { type Db, holdSession } from './db';

/** Per-environment template variables kept by Ferry (they override an artifact's CI variables). */
export async function getEnvironmentVars(db: Db, env: string): Promise<Record<string, string>> {
  const r = await db.query<{ name: string; value: string }>('SELECT name, value FROM environment_vars WHERE env = $1 ORDER BY name', [env]);
  return Object.fromEntries(r.rows.map((x) => [x.name, x.value]));
}

/** Replaces the whole set of an environment's variables. */
export async function setEnvironmentVars(db: Db, env: string, vars: Record<string, string>, by: string): Promise<void> {
  const session = await holdSession(db);
  const { client } = session;
  try {
    await client.query('BEGIN');
    await client.query('DELETE FROM environment_vars WHERE env = $1', [env]);
    for (const [name, value] of Object.entries(vars)) {
      await client.query('INSERT INTO environment_vars (env, name, value, updated_by) VALUES ($1, $2, $3, $4)', [env, name, value, by]);
    }
    await client.query('COMMIT');
  } catch (err) {
    const broken = await client.query('ROLLBACK').then(() => undefined, (e: Error) => e);
    session.release(broken);
    throw err;
  }
  session.release();
}
