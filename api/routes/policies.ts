import { createHash } from 'node:crypto';
import { Router } from 'express';
import { z } from 'zod';
import { artifactDecisions } from '../../activities/policy-activities';
import { ArtifactIdSchema } from '../../src/artifact/schema';
import { zName } from '../../src/names';
import { type Policy, PolicyInputSchema, policyId } from '../../src/policy/policies';
import { getArtifact } from '../../src/store/artifacts';
import { listDecisions } from '../../src/store/decisions';
import { getEnvironmentVars, setEnvironmentVars } from '../../src/store/environment-vars';
import { deletePolicy, getPolicy, listPolicies, PolicyConflictError, policyChanges, putPolicy } from '../../src/store/policies';
import type { BranchCleanupInput } from '../../workflows/definitions';
import type { branchCleanupWorkflow } from '../../workflows/branch-cleanup';
import type { ApiContext } from '../context';
import { asyncRoute, HttpError, parseBody } from '../errors';
import { actorOf, forbidden, requireRole } from '../auth';
import { denial } from '../../src/auth/authorize';

export const BranchDeletedSchema = z.object({
  repository: z.string().min(1).max(200),
  // eslint-disable-next-line no-control-regex
  branch: z.string().min(1).max(255).regex(/^[^\u0000-\u001f\u007f]+$/, 'must not contain control characters'),
});

export const VarsSchema = z.object({
  vars: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'keys must be variable names'), z.string().max(100_000)),
});

/** Release policies, "why didn't my artifact deploy?", branch-deleted events and per-environment variables. */
export function policyRoutes(ctx: ApiContext): Router {
  const r = Router();
  const who = actorOf;

  r.get('/policies', asyncRoute(async (req, res) => {
    const app = typeof req.query.app === 'string' && req.query.app !== '' ? parseBody(z.object({ app: zName('app') }), { app: req.query.app }).app : undefined;
    const stored = await listPolicies(ctx.db, { app });
    const items: Policy[] = [...ctx.branchRestrictions, ...stored];
    res.json({ items });
  }));

  r.get('/policies/:id', asyncRoute(async (req, res) => {
    const id = String(req.params.id);
    const server = ctx.branchRestrictions.find((p) => p.id === id);
    if (server) return void res.json({ ...server, changes: [] });
    const policy = await getPolicy(ctx.db, id);
    if (!policy) throw new HttpError(404, `policy "${id}" not found`);
    res.json({ ...policy, changes: await policyChanges(ctx.db, id) });
  }));

  r.put('/policies', requireRole(['admin']), asyncRoute(async (req, res) => {
    const input = parseBody(PolicyInputSchema, req.body);
    // A policy decides what later releases do in its environment: only an admin of that environment and app sets it.
    const refused = denial(req.principal!, ['admin'], { env: input.env, app: input.app });
    if (refused) throw forbidden(refused, 'set this policy');
    const id = policyId(input.kind, input.app, input.env);
    if (input.id !== undefined && input.id !== id) {
      throw new HttpError(400, 'invalid request', { issues: [{ path: 'id', message: `must be "${id}" (a policy's id is <kind>:<app>:<env>) or left out` }] });
    }
    try {
      const { policy, created } = await putPolicy(ctx.db, input, who(req), ctx.branchRestrictions);
      ctx.log.info('policy set', { policyId: policy.id, by: who(req), created });
      res.status(created ? 201 : 200).json(policy);
    } catch (err) {
      if (err instanceof PolicyConflictError) throw new HttpError(409, err.message, { conflictsWith: err.conflictsWith });
      throw err;
    }
  }));

  r.delete('/policies/:id', requireRole(['admin']), asyncRoute(async (req, res) => {
    const id = String(req.params.id);
    const server = ctx.branchRestrictions.find((p) => p.id === id);
    if (server) throw new HttpError(403, `${id} is a server-wide branch restriction from FERRY_BRANCH_RESTRICTIONS; it cannot be removed through the API`);
    const existing = await getPolicy(ctx.db, id);
    if (!existing) throw new HttpError(404, `policy "${id}" not found`);
    const refused = denial(req.principal!, ['admin'], { env: existing.env, app: existing.app });
    if (refused) throw forbidden(refused, 'delete this policy');
    const removed = await deletePolicy(ctx.db, id, who(req));
    if (!removed) throw new HttpError(404, `policy "${id}" not found`);
    ctx.log.info('policy deleted', { policyId: id, by: who(req) });
    res.status(204).end();
  }));

  r.get('/artifacts/:id/decisions', asyncRoute(async (req, res) => {
    const id = parseBody(z.object({ id: ArtifactIdSchema }), { id: String(req.params.id) }).id;
    const stored = await getArtifact(ctx.db, id);
    if (!stored) throw new HttpError(404, `artifact "${id}" not found`);
    const recorded = await listDecisions(ctx.db, id);
    if (recorded.length > 0) return void res.json({ artifactId: id, evaluated: true, decisions: recorded });
    // Not evaluated yet (the artifact workflow is on its way): answer with what it would decide now.
    const decisions = await artifactDecisions({ starter: { ...ctx, branchRestrictions: ctx.branchRestrictions }, mainBranch: ctx.mainBranch }, stored.artifact);
    res.json({ artifactId: id, evaluated: false, decisions: decisions.map((d) => ({ ...d, releaseId: null })) });
  }));

  r.post('/events/branch-deleted', requireRole(['ci', 'deployer']), asyncRoute(async (req, res) => {
    const body = parseBody(BranchDeletedSchema, req.body);
    const outside = denial(req.principal!, ['ci', 'deployer'], { repository: body.repository });
    if (outside) throw forbidden(outside);
    const input: BranchCleanupInput = { ...body, requestedBy: who(req), actor: req.principal!, writerTaskQueue: ctx.writerTaskQueue };
    const slug = `${body.repository}-${body.branch}`.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 80);
    const digest = createHash('sha256').update(`${body.repository}\0${body.branch}`).digest('hex').slice(0, 8);
    const workflowId = `branch-cleanup:${slug}-${digest}`;
    // A repeated delivery while the cleanup runs joins it; a branch deleted again later cleans up again.
    const handle = await ctx.temporal.workflow.start<typeof branchCleanupWorkflow>('branchCleanupWorkflow', {
      workflowId,
      taskQueue: ctx.taskQueue,
      args: [input],
      workflowIdConflictPolicy: 'USE_EXISTING',
      workflowIdReusePolicy: 'ALLOW_DUPLICATE',
      staticSummary: `cleanup of ${body.repository} branch ${body.branch}`,
    });
    ctx.log.info('branch deleted', { repository: body.repository, branch: body.branch, workflowId, by: who(req) });
    res.status(202).json({ workflowId, runId: handle.firstExecutionRunId, repository: body.repository, branch: body.branch });
  }));

  r.get('/env-vars/:env', asyncRoute(async (req, res) => {
    const env = parseBody(z.object({ env: zName('env') }), { env: String(req.params.env) }).env;
    res.json({ env, vars: await getEnvironmentVars(ctx.db, env) });
  }));

  r.put('/env-vars/:env', requireRole(['admin']), asyncRoute(async (req, res) => {
    const env = parseBody(z.object({ env: zName('env') }), { env: String(req.params.env) }).env;
    const { vars } = parseBody(VarsSchema, req.body);
    // Variables reach the manifests of every app in the environment: an admin limited to some repositories or apps
    // may not set them.
    const refused = denial(req.principal!, ['admin'], { env });
    if (refused) throw forbidden(refused, `set the variables of ${env}`);
    const p = req.principal!;
    if (p.apps !== null || p.repos !== null) {
      throw new HttpError(403, `forbidden: cannot set the variables of ${env}: ${p.actor} is limited to some repositories or apps, and these variables reach every app in ${env}`, { missing: { scope: 'every app' } });
    }
    await setEnvironmentVars(ctx.db, env, vars, who(req));
    ctx.log.info('environment variables set', { env, names: Object.keys(vars), by: who(req) });
    res.json({ env, vars: await getEnvironmentVars(ctx.db, env) });
  }));

  return r;
}
