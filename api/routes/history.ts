import { Router } from 'express';
import { z } from 'zod';
import type { Artifact } from '../../src/artifact/schema';
import { orderedEnvironments } from '../../src/gates/environments';
import { zName } from '../../src/names';
import { RELEASE_STATUSES } from '../../src/release/types';
import { getArtifact } from '../../src/store/artifacts';
import { activeFreezes } from '../../src/store/freezes';
import { BadCursorError, currentRelease, environmentsOfApp, inFlightReleases, lastCommittedRelease, listReleases } from '../../src/store/history';
import type { ApiContext } from '../context';
import { asyncRoute, HttpError, parseBody } from '../errors';

export const HistoryQuerySchema = z.strictObject({
  app: zName('app').optional(),
  env: zName('env').optional(),
  status: z.enum(RELEASE_STATUSES).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  before: z.string().max(2000).optional(),
  /** Releases created at or after / before these instants (ISO 8601 with an offset, e.g. 2026-12-01T00:00:00Z). */
  since: z.iso.datetime({ offset: true }).optional(),
  until: z.iso.datetime({ offset: true }).optional(),
});

export const StatusQuerySchema = z.strictObject({ app: zName('app') });

/** What people want to see of the source version a release carries. */
export function versionSummary(a: Artifact) {
  const v = a.version;
  const item = a.items.find((i) => typeof i.repository === 'string' && typeof i.tag === 'string');
  const image = item ? `${item.repository}:${item.tag}` : a.vars.IMAGE ? `${a.vars.IMAGE}:${v.sha}` : null;
  return {
    sha: v.sha, branch: v.branch || null, event: v.event, tag: v.tag ?? null,
    authorName: v.authorName ?? null, authorEmail: v.authorEmail ?? null,
    committerName: v.committerName ?? null, committerEmail: v.committerEmail ?? null,
    message: v.message ?? null, created: v.created ?? null, url: v.url ?? null, image,
    repository: v.repositoryName,
  };
}

export function historyRoutes(ctx: ApiContext): Router {
  const r = Router();

  // History from PostgreSQL indexes only: newest first, keyset-paginated with the opaque `before` cursor.
  r.get('/releases', asyncRoute(async (req, res) => {
    const q = parseBody(HistoryQuerySchema, { ...req.query });
    try {
      res.json(await listReleases(ctx.db, q));
    } catch (err) {
      if (err instanceof BadCursorError) throw new HttpError(400, 'invalid request', { issues: [{ path: 'before', message: err.message }] });
      throw err;
    }
  }));

  r.get('/status', asyncRoute(async (req, res) => {
    const { app } = parseBody(StatusQuerySchema, { ...req.query });
    const configured = orderedEnvironments(ctx.environments);
    const [released, holding] = await Promise.all([environmentsOfApp(ctx.db, app), activeFreezes(ctx.db)]);
    const envs = [...configured, ...released.filter((e) => !configured.includes(e))];
    const environments = await Promise.all(envs.map(async (env) => {
      const [running, inFlight] = await Promise.all([currentRelease(ctx.db, app, env), inFlightReleases(ctx.db, app, env)]);
      const current = running ?? (await lastCommittedRelease(ctx.db, app, env));
      const artifact = current ? await getArtifact(ctx.db, current.artifactId) : null;
      return {
        env,
        current,
        running: running !== null,
        version: artifact ? versionSummary(artifact.artifact) : null,
        gitopsCommit: current?.gitopsCommit ?? null,
        fluxStatus: current?.fluxStatus ?? null,
        inFlight,
        // Freezes people started that hold this environment now (configured windows: GET /api/environments).
        freezes: holding.filter((f) => f.env === null || f.env === env),
      };
    }));
    res.json({ app, environments });
  }));

  return r;
}
