import readline from 'node:readline/promises';
import type { CommandSpec, Ctx } from '../command';
import { APP_ENV_OPTIONS, WAIT_OPTIONS } from '../command';
import { CliError, usageError } from '../errors';
import { followRelease, parseDuration, type ReleaseView } from '../follow';
import { ago, short, table } from '../output';
import { ADD_OPTIONS, artifactFile, artifactFileExists, createArtifact, pushArtifact, VERSION_OPTIONS } from './artifact';
import { addToArtifact, readArtifactFile } from '../artifact-file';

const DEFAULT_TIMEOUT = '20m';

function need(ctx: Ctx, ...names: string[]): void {
  const missing = names.filter((n) => !ctx.opts[n]);
  if (missing.length) throw usageError(`missing ${missing.map((n) => `--${n}`).join(' and ')}`);
}

interface Started {
  id: string;
  workflowId?: string;
  status: string;
  [k: string]: unknown;
}

/** Prints the acceptance line and, with --wait, follows the release to its end. */
async function afterStart(ctx: Ctx, started: Started, what: string, extra: Record<string, unknown> = {}): Promise<void> {
  ctx.out.line(what === 'watch' ? `following ${started.id} (${started.status})` : `${what} accepted: ${started.id} (${started.status})`);
  if (!ctx.opts.wait) {
    ctx.out.data({ ...extra, release: started });
    if (!ctx.json) ctx.out.line(`follow it with: ferry watch ${started.id}`);
    return;
  }
  const timeoutMs = parseDuration(ctx.opts.timeout ?? DEFAULT_TIMEOUT);
  const interval = Number(ctx.env.FERRY_POLL_INTERVAL_MS) || 1000;
  try {
    const done = await followRelease(ctx.client(), started.id, ctx.out, { timeoutMs, intervalMs: interval });
    ctx.out.data({ ...extra, release: done });
  } catch (err) {
    if (err instanceof CliError && (err.details as { release?: ReleaseView })?.release) {
      ctx.out.data({ ...extra, release: (err.details as { release: ReleaseView }).release, error: err.message });
      (err as { reported?: boolean }).reported = true;
    }
    throw err;
  }
}

async function pickRollbackTarget(ctx: Ctx): Promise<string | undefined> {
  const list = await ctx.client().get<{ items: ReleaseView[] }>('/api/releases', { app: ctx.opts.app, env: ctx.opts.env, status: 'succeeded', limit: 30 });
  // Releasing the current artifact again is not a rollback (the server refuses it), nor is offering one twice.
  const seen = new Set([list.items[0]?.artifactId]);
  const candidates = list.items.filter((r) => !seen.has(r.artifactId) && seen.add(r.artifactId));
  if (candidates.length === 0) throw new CliError(`no earlier successful release of ${ctx.opts.app} in ${ctx.opts.env} to roll back to`);
  process.stdout.write(`Current: ${list.items[0].artifactId} (${ago(list.items[0].createdAt)})\nRoll back ${ctx.opts.app} in ${ctx.opts.env} to:\n`);
  candidates.forEach((r, i) => process.stdout.write(`  ${i + 1}) ${r.artifactId}  ${short(String(r.sha ?? ''))}  ${r.branch ?? ''}  ${ago(r.createdAt)}  by ${r.releasedBy ?? '?'}\n`));
  const rl = readline.createInterface({ input: process.stdin, output: process.stdout });
  try {
    const answer = (await rl.question(`Choose 1-${candidates.length} [1]: `)).trim() || '1';
    const n = Number(answer);
    if (!Number.isInteger(n) || n < 1 || n > candidates.length) throw usageError(`no choice "${answer}"`);
    return candidates[n - 1].artifactId;
  } finally {
    rl.close();
  }
}

export const releaseCommands: CommandSpec[] = [
  {
    name: 'deploy',
    summary: 'Push the artifact (made from this checkout if there is no file) and release it; --wait follows it live',
    options: {
      ...APP_ENV_OPTIONS, ...WAIT_OPTIONS,
      artifact: { type: 'string', description: 'release this stored artifact instead of pushing one', placeholder: 'id' },
      file: { type: 'string', short: 'f', description: 'artifact file to push (default ferry-artifact.json; made from the checkout when absent)', placeholder: 'path' },
      ...VERSION_OPTIONS, ...ADD_OPTIONS,
    },
    examples: ['ferry deploy --app shop --env staging --wait', 'ferry deploy --app shop --env prod --artifact acme-shop-4f2a9c1e0b7d-push-1a2b3c4d --wait --timeout 30m'],
    async run(ctx) {
      need(ctx, 'app', 'env');
      let artifactId: string = ctx.opts.artifact;
      if (!artifactId) {
        let doc;
        if (artifactFileExists(ctx)) {
          doc = readArtifactFile(artifactFile(ctx), ctx.cwd);
          addToArtifact(doc, ctx.opts, ctx.cwd);
        } else doc = createArtifact(ctx, { defaultEnvFiles: true });
        if (!doc.environments.some((e) => e.app === ctx.opts.app && e.env === ctx.opts.env)) {
          throw new CliError(`the artifact has no environment file for app "${ctx.opts.app}" in env "${ctx.opts.env}" (add one with --env-file)`);
        }
        const pushed = await pushArtifact(ctx, doc);
        artifactId = pushed.id;
        ctx.out.line(`artifact ${artifactId} pushed`);
      }
      const started = await ctx.client().post<Started>('/api/releases', { artifactId, env: ctx.opts.env, app: ctx.opts.app });
      await afterStart(ctx, started, 'release', { artifactId });
    },
  },
  {
    name: 'release',
    summary: 'Release a stored artifact, or the newest artifact of a branch, to an environment',
    options: {
      ...APP_ENV_OPTIONS, ...WAIT_OPTIONS,
      artifact: { type: 'string', description: 'artifact id', placeholder: 'id' },
      branch: { type: 'string', short: 'b', description: "the branch's newest artifact for this app", placeholder: 'branch' },
    },
    examples: ['ferry release --app shop --env prod --branch hotfix/payments --wait'],
    async run(ctx) {
      need(ctx, 'app', 'env');
      if (Boolean(ctx.opts.artifact) === Boolean(ctx.opts.branch)) throw usageError('give exactly one of --artifact and --branch');
      let artifactId: string = ctx.opts.artifact;
      if (!artifactId) {
        const found = await ctx.client().get<Array<{ id: string }>>('/api/artifacts', { branch: ctx.opts.branch, app: ctx.opts.app, env: ctx.opts.env, limit: 1 });
        if (!found.length) throw new CliError(`no artifact of app "${ctx.opts.app}" for env "${ctx.opts.env}" on branch "${ctx.opts.branch}"`);
        artifactId = found[0].id;
        ctx.out.line(`newest artifact on ${ctx.opts.branch}: ${artifactId}`);
      }
      const started = await ctx.client().post<Started>('/api/releases', { artifactId, env: ctx.opts.env, app: ctx.opts.app });
      await afterStart(ctx, started, 'release', { artifactId });
    },
  },
  {
    name: 'promote',
    summary: 'Release to an environment what its upstream environment runs',
    options: { ...APP_ENV_OPTIONS, ...WAIT_OPTIONS },
    examples: ['ferry promote --app shop --env prod --wait'],
    async run(ctx) {
      need(ctx, 'app', 'env');
      const started = await ctx.client().post<Started>('/api/promote', { app: ctx.opts.app, env: ctx.opts.env });
      await afterStart(ctx, started, 'promotion');
    },
  },
  {
    name: 'rollback',
    summary: 'Roll back to an earlier release (on a terminal, pick one from the recent releases)',
    options: { ...APP_ENV_OPTIONS, ...WAIT_OPTIONS, to: { type: 'string', description: 'artifact id or GitOps commit (default: the previous release)', placeholder: 'id|sha' } },
    examples: ['ferry rollback --app shop --env prod', 'ferry rollback --app shop --env prod --to acme-shop-4f2a9c1e0b7d-push-1a2b3c4d --wait'],
    async run(ctx) {
      need(ctx, 'app', 'env');
      let to: string | undefined = ctx.opts.to;
      if (!to && ctx.interactive && !ctx.json) to = await pickRollbackTarget(ctx);
      const started = await ctx.client().post<Started>('/api/rollback', { app: ctx.opts.app, env: ctx.opts.env, ...(to ? { to } : {}) });
      if (started.rollbackOf) ctx.out.line(`rolls back ${String(started.rollbackOf)}`);
      await afterStart(ctx, started, 'rollback');
    },
  },
  {
    name: 'watch',
    summary: 'Follow a release until it ends',
    args: '<release-id>',
    argsCount: [1, 1],
    options: { timeout: WAIT_OPTIONS.timeout },
    async run(ctx) {
      ctx.opts.wait = true;
      const r = await ctx.client().get<ReleaseView>(`/api/releases/${encodeURIComponent(ctx.args[0])}`);
      await afterStart(ctx, r, 'watch');
    },
  },
  {
    name: 'status',
    summary: 'What runs where: one row per environment',
    options: { app: APP_ENV_OPTIONS.app },
    async run(ctx) {
      need(ctx, 'app');
      const s = await ctx.client().get<{ app: string; environments: Array<Record<string, any>> }>('/api/status', { app: ctx.opts.app });
      if (ctx.json) return ctx.out.data(s);
      const rows = s.environments.map((e) => {
        const cur = e.current as ReleaseView | null;
        const v = (e.version ?? {}) as Record<string, any>;
        const inFlight = (e.inFlight ?? []) as ReleaseView[];
        return [
          e.env,
          cur?.artifactId ?? null,
          short(v.sha ?? (cur?.sha as string | undefined)),
          v.branch ?? (cur?.branch as string | undefined) ?? null,
          cur ? `${cur.status}${cur.releasedBy ? ` by ${cur.releasedBy}` : ''} ${ago(cur.createdAt) ?? ''}`.trim() : null,
          e.fluxStatus ?? cur?.fluxStatus ?? null,
          short(e.gitopsCommit ?? cur?.gitopsCommit),
          inFlight.length ? inFlight.map((r) => `${r.status} ${short(r.artifactId, 24)}`).join(', ') : '',
          ((e.freezes ?? []) as Array<{ id: string; createdBy: string; reason: string }>).map((f) => `#${f.id} by ${f.createdBy}: ${f.reason}`).join('; '),
        ];
      });
      ctx.out.line(`${s.app}`);
      ctx.out.line(table(['ENV', 'ARTIFACT', 'SHA', 'BRANCH', 'RELEASED', 'FLUX', 'COMMIT', 'IN FLIGHT', 'FROZEN'], rows));
    },
  },
  {
    name: 'history',
    summary: 'Releases of an app, newest first',
    options: {
      ...APP_ENV_OPTIONS,
      status: { type: 'string', description: 'only releases with this status', placeholder: 'status' },
      limit: { type: 'string', short: 'n', description: 'how many (default 20)', placeholder: 'n' },
      before: { type: 'string', description: 'page: the nextBefore of the previous page', placeholder: 'cursor' },
    },
    async run(ctx) {
      need(ctx, 'app');
      const page = await ctx.client().get<{ items: ReleaseView[]; nextBefore: string | null }>('/api/releases', {
        app: ctx.opts.app, env: ctx.opts.env, status: ctx.opts.status, limit: ctx.opts.limit ?? 20, before: ctx.opts.before,
      });
      if (ctx.json) return ctx.out.data(page);
      ctx.out.line(table(['WHEN', 'ENV', 'STATUS', 'ARTIFACT', 'TRIGGER', 'BY', 'COMMIT'], page.items.map((r) => [
        ago(r.createdAt), r.env, r.status, r.artifactId, String(r.trigger ?? ''), r.releasedBy ?? null, short(r.gitopsCommit),
      ])));
      if (page.nextBefore) ctx.out.line(`more: ferry history --app ${ctx.opts.app}${ctx.opts.env ? ` --env ${ctx.opts.env}` : ''} --before ${page.nextBefore}`);
    },
  },
  ...(['approve', 'reject'] as const).map((verb): CommandSpec => ({
    name: verb,
    summary: verb === 'approve' ? 'Approve a release waiting for approval' : 'Reject a release waiting for approval',
    args: '<release-id>',
    argsCount: [1, 1],
    options: { comment: { type: 'string', short: 'm', description: 'why', placeholder: 'text' } },
    async run(ctx) {
      // The server answers with where the gate stands (`decision`: pending while more approvals are needed) and the
      // release's status at that moment, which the workflow moves on from shortly after.
      const res = await ctx.client().post<{ id: string; status: string; decision?: string; approvals?: Array<{ by: string }> }>(
        `/api/releases/${encodeURIComponent(ctx.args[0])}/${verb}`, ctx.opts.comment ? { comment: ctx.opts.comment } : {},
      );
      if (ctx.json) return ctx.out.data(res);
      const approvals = res.approvals?.length ? ` (approvals: ${res.approvals.map((a) => a.by).join(', ')})` : '';
      ctx.out.line(`${verb === 'approve' ? 'approved' : 'rejected'} ${res.id}: ${res.decision ?? 'decided'}${approvals}; release ${res.status}`);
    },
  })),
];
