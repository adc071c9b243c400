import { Router } from 'express';
import { denial } from '../../src/auth/authorize';
import { stillAuthenticated } from '../auth';
import type { Principal } from '../../src/auth/roles';
import { environmentConfig, orderedEnvironments } from '../../src/gates/environments';
import { renderDiff } from '../../src/release/render-diff';
import { getArtifact } from '../../src/store/artifacts';
import { appEnvPairs } from '../../src/store/board';
import { listFreezes } from '../../src/store/freezes';
import { currentRelease, inFlightReleases, lastCommittedRelease, previousRelease } from '../../src/store/history';
import type { ReleaseChangeFeed } from '../../src/store/release-changes';
import { getRelease, gitopsCommitOf } from '../../src/store/releases';
import { loadRender } from '../../src/store/renders';
import type { ApiContext } from '../context';
import { asyncRoute, HttpError } from '../errors';
import { versionSummary } from './history';

/** How soon an open event stream notices that its credential no longer holds. */
const STREAM_RECHECK_MS = 5_000;

/**
 * What a person may press in an environment (and for one app, when given): the authorization decision the routes
 * behind the buttons make (src/auth/authorize.ts), plus the environment's approver and hotfix lists. The routes
 * decide again; this only keeps buttons that would be refused off the page.
 */
export function actionsFor(ctx: ApiContext, p: Principal, env: string, app?: string) {
  const cfg = environmentConfig(ctx.environments, env);
  const target = app === undefined ? { env } : { env, app };
  const may = (roles: Parameters<typeof denial>[1]) => denial(p, roles, target) === null;
  const admin = may(['admin']);
  return {
    release: may(['ci', 'deployer']),
    promote: may(['deployer']) && cfg.promotion?.from !== undefined,
    rollback: may(['deployer']),
    approve: may(['approver']) && (admin || (cfg.approvals?.approvers ?? []).includes(p.name)),
    hotfix: may(['deployer']) && (admin || (cfg.hotfix?.allowed ?? []).includes(p.name)),
    // Stopping the line, and lifting someone else's freeze (one's own may always be lifted: api/routes/freezes.ts).
    freeze: denial(p, ['deployer', 'approver'], { env }) === null,
    lift: denial(p, ['approver'], { env }) === null,
  };
}

/** The freezes holding now, for the board's environment headers. */
async function activeFreezesAll(db: ApiContext['db']) {
  return (await listFreezes(db, { includeEnded: false, limit: 100 })).filter((f) => f.active);
}

export function boardRoutes(ctx: ApiContext, feed?: ReleaseChangeFeed): Router {
  const r = Router();

  r.get('/me', (req, res) => {
    const p = req.principal!;
    const envs = orderedEnvironments(ctx.environments);
    res.json({
      name: p.name, actor: p.actor, via: p.via, grants: p.grants,
      environments: Object.fromEntries(envs.map((env) => [env, actionsFor(ctx, p, env)])),
      temporalUiUrl: ctx.temporalUiUrl ?? null,
      namespace: ctx.namespace ?? 'default',
    });
  });

  // Apps × environments: what runs in each cell and what is on its way there.
  r.get('/board', asyncRoute(async (req, res) => {
    const p = req.principal!;
    const configured = orderedEnvironments(ctx.environments);
    const pairs = await appEnvPairs(ctx.db);
    const envs = [...configured, ...[...new Set(pairs.map((x) => x.env))].filter((e) => !configured.includes(e)).sort()];
    const apps = [...new Set(pairs.map((x) => x.app))].sort();
    const cells = await Promise.all(pairs.map(async ({ app, env }) => {
      const [succeeded, inFlight] = await Promise.all([currentRelease(ctx.db, app, env), inFlightReleases(ctx.db, app, env, 20)]);
      const current = succeeded ?? (await lastCommittedRelease(ctx.db, app, env));
      const artifact = current ? await getArtifact(ctx.db, current.artifactId) : null;
      return {
        app, env,
        current: current && {
          id: current.id, status: current.status, artifactId: current.artifactId,
          since: current.finishedAt ?? current.updatedAt, gitopsCommit: current.gitopsCommit,
          fluxStatus: current.fluxStatus, fluxOutcome: current.fluxOutcome, clusters: current.clusters,
          version: artifact ? versionSummary(artifact.artifact) : null,
        },
        inFlight: inFlight.map((x) => ({ id: x.id, status: x.status, artifactId: x.artifactId, sha: x.sha, branch: x.branch, waiting: x.waiting, releasedBy: x.releasedBy, trigger: x.trigger, createdAt: x.createdAt })),
      };
    }));
    res.json({
      environments: envs.map((env) => ({ name: env, promotesFrom: environmentConfig(ctx.environments, env).promotion?.from ?? null, actions: actionsFor(ctx, p, env) })),
      apps: apps.map((app) => ({
        app,
        cells: Object.fromEntries(cells.filter((c) => c.app === app).map((c) => [c.env, { current: c.current, inFlight: c.inFlight, actions: actionsFor(ctx, p, c.env, app) }])),
        // Environments this app has not reached yet can still be promoted to.
        actions: Object.fromEntries(envs.map((env) => [env, actionsFor(ctx, p, env, app)])),
      })),
      freezes: await activeFreezesAll(ctx.db),
    });
  }));

  // What the release wrote to the GitOps repository: its commit, and each file against what ran before it.
  r.get('/releases/:id/changes', asyncRoute(async (req, res) => {
    const release = await getRelease(ctx.db, String(req.params.id));
    if (!release) throw new HttpError(404, `release "${req.params.id}" not found`);
    const [render, commit, base] = await Promise.all([
      loadRender(ctx.db, release.id),
      gitopsCommitOf(ctx.db, release.id),
      previousRelease(ctx.db, release.app, release.env, release.artifactId),
    ]);
    const baseRender = render && base ? await loadRender(ctx.db, base.id) : null;
    res.json({
      id: release.id,
      commit,
      base: base ? { id: base.id, artifactId: base.artifactId, sha: base.sha } : null,
      rendered: render !== null,
      files: render ? renderDiff(baseRender?.files ?? null, render.files) : [],
    });
  }));

  /**
   * Server-sent events: `release` with a release id whenever a release row changes, `resync` after the server lost
   * its PostgreSQL subscription for a while. The page reads again what it shows; no release data travels here, so
   * the stream shows nothing the caller could not read anyway. The caller's credential is checked again every
   * STREAM_RECHECK_MS: a revoked or expired token, or a JWT past its expiry, ends the stream, and the page's
   * reconnect is then refused like any other request.
   */
  r.get('/stream', (req, res) => {
    if (!feed) throw new HttpError(404, 'live updates are not enabled in this process');
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    res.write('retry: 3000\n\n');
    const unsubscribe = feed.subscribe((id) => {
      if (id === '!') res.end();
      else res.write(id === '*' ? 'event: resync\ndata: {}\n\n' : `event: release\ndata: ${JSON.stringify({ id })}\n\n`);
    });
    let checking = false;
    const recheck = setInterval(() => {
      if (checking) return;
      checking = true;
      stillAuthenticated(req, ctx.authenticate).then((ok) => {
        checking = false;
        if (!ok) res.end();
      });
    }, STREAM_RECHECK_MS);
    const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), 25_000);
    recheck.unref();
    keepAlive.unref();
    // The response's close covers both ends: the page going away and the stream ended here.
    res.on('close', () => {
      clearInterval(recheck);
      clearInterval(keepAlive);
      unsubscribe();
    });
  });

  return r;
}
