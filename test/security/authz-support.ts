// Helpers for the authorization attacks: tokens, and a fingerprint of everything an attack could have changed.
import assert from 'node:assert/strict';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { Stack } from '../support/stack';

export async function createToken(stack: Stack, body: Record<string, unknown>, as?: string): Promise<string> {
  const res = await stack.api('POST', '/api/tokens', body, as ? { token: as } : {});
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body.token as string;
}

// A token's last use is bookkeeping that any authenticated request may move; everything else must stay put.
const TABLES: Record<string, string> = {
  artifacts: 'artifacts', releases: 'releases', artifact_decisions: 'artifact_decisions',
  api_tokens: '(SELECT id, name, owner, role, envs, repos, apps, created_by, expires_at, revoked_at, revoked_by FROM api_tokens)',
  policies: 'policies', policy_changes: 'policy_changes', environment_vars: 'environment_vars', preview_apps: 'preview_apps',
  release_principals: 'release_principals',
};

/** The GitOps branch head and every table an attack could write to, row for row (as digests). */
export async function fingerprint(stack: Stack): Promise<Record<string, string>> {
  let head = 'no commit yet';
  try {
    head = stack.git('rev-parse', '--verify', '--quiet', 'main');
  } catch {
    // An empty GitOps repository has no branch yet.
  }
  const out: Record<string, string> = { gitops: head };
  for (const [t, from] of Object.entries(TABLES)) {
    const r = await stack.ferry.db.query(`SELECT md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')) AS h, count(*)::int AS n FROM ${from} x`);
    out[t] = `${r.rows[0].n}:${r.rows[0].h}`;
  }
  return out;
}

/** Temporal never heard of this workflow id. */
export async function assertNoWorkflow(stack: Stack, workflowId: string): Promise<void> {
  await assert.rejects(stack.ferry.temporal.workflow.getHandle(workflowId).describe(), (err) => err instanceof WorkflowNotFoundError, `${workflowId} exists in Temporal`);
}

export function pathExists(stack: Stack, path: string): boolean {
  return stack.git('ls-tree', '--name-only', 'main', path) !== '';
}
