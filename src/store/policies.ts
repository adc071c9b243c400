import { type Db, holdSession } from './db';
import { conflictBetween, describePolicy, effectiveRestriction, type Policy, type PolicyInput, policyId } from '../policy/policies';

interface RawPolicy {
  id: string; kind: Policy['kind']; app: string; env: string; spec: { branch?: string; branchRegex?: string };
  created_by: string; created_at: Date; updated_by: string; updated_at: Date;
}

function toPolicy(r: RawPolicy): Policy {
  return {
    id: r.id, kind: r.kind, app: r.app, env: r.env, ...r.spec, source: 'api',
    createdBy: r.created_by, createdAt: r.created_at.toISOString(), updatedBy: r.updated_by, updatedAt: r.updated_at.toISOString(),
  };
}

/** A policy that contradicts another one; the message names both. */
export class PolicyConflictError extends Error {
  constructor(message: string, readonly conflictsWith: string) {
    super(message);
  }
}

export async function listPolicies(db: Db, filter: { app?: string; apps?: string[] } = {}): Promise<Policy[]> {
  const apps = filter.apps ?? (filter.app ? [filter.app] : null);
  const r = await db.query<RawPolicy>(
    `SELECT * FROM policies WHERE $1::text[] IS NULL OR app = ANY($1) ORDER BY app, env, kind`,
    [apps],
  );
  return r.rows.map(toPolicy);
}

export async function getPolicy(db: Db, id: string): Promise<Policy | null> {
  const r = await db.query<RawPolicy>('SELECT * FROM policies WHERE id = $1', [id]);
  return r.rows[0] ? toPolicy(r.rows[0]) : null;
}

// Any constant: with the app and env it forms the advisory lock that serialises policy changes of one app and env.
const POLICY_LOCK_SPACE = 4_242_002;

/**
 * Creates or replaces the policy of its kind for its app and env, refusing it when it contradicts a restriction
 * (server-wide or stored) or an auto-release policy. Checks and write happen under one lock per app and env, so
 * two concurrent changes cannot each pass the check against the other's old state.
 */
export async function putPolicy(db: Db, input: PolicyInput, by: string, serverRestrictions: Policy[]): Promise<{ policy: Policy; created: boolean }> {
  const id = policyId(input.kind, input.app, input.env);
  const spec = input.kind === 'auto-release' ? { branch: input.branch } : { branchRegex: input.branchRegex };
  const session = await holdSession(db);
  const { client } = session;
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [POLICY_LOCK_SPACE, `${input.app}/${input.env}`]);
    const existing = (await client.query<RawPolicy>('SELECT * FROM policies WHERE app = $1 AND env = $2', [input.app, input.env])).rows.map(toPolicy);
    const now = new Date().toISOString();
    const candidate: Policy = { id, kind: input.kind, app: input.app, env: input.env, ...spec, source: 'api', createdBy: by, createdAt: now, updatedBy: by, updatedAt: now };
    const others = existing.filter((p) => p.id !== id);

    if (candidate.kind === 'branch-restriction') {
      const server = serverRestrictions.find((p) => p.env === input.env);
      if (server) {
        throw new PolicyConflictError(`${describePolicy(candidate)} for ${input.app} cannot be set: ${describePolicy(server)} applies to every app and wins over app-level restrictions`, server.id);
      }
      const auto = others.find((p) => p.kind === 'auto-release');
      const conflict = auto && conflictBetween(auto, candidate);
      if (conflict) throw new PolicyConflictError(conflict, auto.id);
    } else {
      const restriction = effectiveRestriction(input.app, input.env, serverRestrictions, others);
      const conflict = restriction && conflictBetween(candidate, restriction);
      if (conflict) throw new PolicyConflictError(conflict, restriction.id);
    }

    const r = await client.query<RawPolicy & { inserted: boolean }>(
      `INSERT INTO policies (id, kind, app, env, spec, created_by, updated_by) VALUES ($1, $2, $3, $4, $5, $6, $6)
       ON CONFLICT (id) DO UPDATE SET spec = EXCLUDED.spec, updated_by = EXCLUDED.updated_by, updated_at = now()
       RETURNING *, (xmax = 0) AS inserted`,
      [id, input.kind, input.app, input.env, JSON.stringify(spec), by],
    );
    const row = r.rows[0]!;
    const policy = toPolicy(row);
    await client.query('INSERT INTO policy_changes (policy_id, action, policy, changed_by) VALUES ($1, $2, $3, $4)', [id, row.inserted ? 'created' : 'updated', JSON.stringify(policy), by]);
    await client.query('COMMIT');
    session.release();
    return { policy, created: row.inserted };
  } catch (err) {
    const broken = await client.query('ROLLBACK').then(() => undefined, (e: Error) => e);
    session.release(broken);
    throw err;
  }
}

export async function deletePolicy(db: Db, id: string, by: string): Promise<Policy | null> {
  const session = await holdSession(db);
  const { client } = session;
  try {
    await client.query('BEGIN');
    const r = await client.query<RawPolicy>('DELETE FROM policies WHERE id = $1 RETURNING *', [id]);
    const row = r.rows[0];
    if (row) await client.query('INSERT INTO policy_changes (policy_id, action, policy, changed_by) VALUES ($1, $2, $3, $4)', [id, 'deleted', JSON.stringify(toPolicy(row)), by]);
    await client.query('COMMIT');
    session.release();
    return row ? toPolicy(row) : null;
  } catch (err) {
    const broken = await client.query('ROLLBACK').then(() => undefined, (e: Error) => e);
    session.release(broken);
    throw err;
  }
}

export async function policyChanges(db: Db, id: string): Promise<Array<{ action: string; by: string; at: string; policy: Policy }>> {
  const r = await db.query<{ action: string; changed_by: string; changed_at: Date; policy: Policy }>(
    'SELECT action, changed_by, changed_at, policy FROM policy_changes WHERE policy_id = $1 ORDER BY id',
    [id],
  );
  return r.rows.map((x) => ({ action: x.action, by: x.changed_by, at: x.changed_at.toISOString(), policy: x.policy }));
}
