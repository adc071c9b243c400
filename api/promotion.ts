// Promotion and rollback: which artifact to release where, decided from PostgreSQL; the release itself goes through
// startRelease like every other, so branch restrictions, gates and ordering apply.
import { createHash } from 'node:crypto';
import { msToNumber } from '@temporalio/common/lib/time';
import type { Principal } from '../src/auth/roles';
import { getArtifact } from '../src/store/artifacts';
import { currentRights, releasePrincipal } from '../src/store/principals';
import { AmbiguousCommitError, currentRelease, lastCommittedRelease, previousRelease, releaseByCommit } from '../src/store/history';
import type { ApiContext } from './context';
import { HttpError } from './errors';
import { type StartedRelease, startRelease } from './routes/releases';

/**
 * `actor` promotes, with its own rights; an automatic promotion (`automatic`, no actor) acts for the principal
 * behind the release it promotes, with that principal's rights as they stand now: what they could not release to
 * the target themselves, the automatic promotion does not release either.
 */
export async function promote(
  ctx: ApiContext,
  req: { app: string; env: string; by: string; expectArtifactId?: string } & ({ actor: Principal; automatic?: false } | { automatic: true }),
): Promise<StartedRelease> {
  const cfg = ctx.environments.environments[req.env];
  if (!cfg?.promotion) {
    throw new HttpError(422, `environment "${req.env}" has no promotion source (environments.${req.env}.promotion.from in FERRY_CONFIG)`, {
      issues: [{ path: 'env', message: 'not a promotion target' }],
    });
  }
  const from = cfg.promotion.from;
  const source = await currentRelease(ctx.db, req.app, from);
  if (!source) throw new HttpError(409, `nothing of app "${req.app}" runs successfully in "${from}" to promote`);
  if (req.expectArtifactId && source.artifactId !== req.expectArtifactId) {
    throw new HttpError(409, `"${from}" now runs ${source.artifactId}, not ${req.expectArtifactId}`);
  }
  if (cfg.promotion.soak) {
    const soakedAt = Date.parse(source.finishedAt ?? source.updatedAt) + msToNumber(cfg.promotion.soak as Parameters<typeof msToNumber>[0]);
    if (Date.now() < soakedAt) {
      const until = new Date(soakedAt).toISOString();
      throw new HttpError(409, `${source.artifactId} must run in "${from}" for ${cfg.promotion.soak} before promotion to "${req.env}" (soaking until ${until})`, { soakUntil: until, source: source.id });
    }
  }
  let actor: Principal;
  if (req.automatic) {
    const behind = await releasePrincipal(ctx.db, source.id);
    if (!behind) throw new HttpError(403, `forbidden: nobody is recorded behind ${source.id}, so nobody's rights can promote it automatically`);
    const rights = await currentRights(ctx.db, behind);
    if ('refused' in rights) throw new HttpError(403, `forbidden: ${rights.refused}; not promoted automatically`);
    actor = rights.principal;
  } else {
    actor = req.actor;
  }
  return startRelease(ctx, {
    artifactId: source.artifactId, env: req.env, app: req.app, trigger: 'promote', releasedBy: req.by, promotedFrom: source.id, actor, automatic: req.automatic === true,
  });
}

/**
 * Releases an earlier artifact again as a new forward commit. What is rolled back is what the GitOps repository holds
 * now (the newest committed release, even one Flux failed to apply); by default it goes back to the newest release
 * of another artifact that succeeded.
 */
export async function rollback(
  ctx: ApiContext,
  req: { app: string; env: string; to?: string; by: string; expectHead?: string; actor: Principal },
): Promise<StartedRelease> {
  const head = await lastCommittedRelease(ctx.db, req.app, req.env);
  // Automatic rollback: only while the failed release is still what the GitOps repository holds; a newer commit
  // since then means someone already moved on, and rolling that back would be a guess.
  if (req.expectHead && head?.id !== req.expectHead) {
    throw new HttpError(409, `${req.env} no longer has release ${req.expectHead}${head ? ` (now ${head.id})` : ''}; not rolled back`);
  }
  let artifactId: string;
  if (req.to) {
    if (await getArtifact(ctx.db, req.to)) {
      artifactId = req.to;
    } else {
      let byCommit = null;
      if (/^[0-9a-f]{7,64}$/i.test(req.to)) {
        try {
          byCommit = await releaseByCommit(ctx.db, req.app, req.env, req.to);
        } catch (err) {
          if (err instanceof AmbiguousCommitError) throw new HttpError(422, err.message, { issues: [{ path: 'to', message: 'ambiguous commit prefix' }] });
          throw err;
        }
      }
      if (!byCommit) throw new HttpError(404, `"to" (${req.to}) is neither an artifact id nor a GitOps commit of ${req.app} in ${req.env}`);
      artifactId = byCommit.artifactId;
    }
  } else {
    if (!head) throw new HttpError(409, `${req.app} was never released to ${req.env}: nothing to roll back`);
    const previous = await previousRelease(ctx.db, req.app, req.env, head.artifactId);
    if (!previous) throw new HttpError(409, `no earlier successful release of ${req.app} in ${req.env} with another artifact than ${head.artifactId}`);
    artifactId = previous.artifactId;
  }
  if (head && head.artifactId === artifactId) {
    throw new HttpError(409, `${artifactId} is already what ${req.env} has (release ${head.id}); nothing to roll back to`);
  }
  // One rollback per (what is rolled back, target): a repeated request finds the same release.
  const suffix = `rollback-${createHash('sha256').update(head?.id ?? '').digest('hex').slice(0, 10)}`;
  const started = await startRelease(ctx, {
    artifactId, env: req.env, app: req.app, trigger: 'rollback', releasedBy: req.by, actor: req.actor, suffix, ...(head ? { rollbackOf: head.id } : {}),
  });
  return { ...started, rollbackOf: head?.id ?? null };
}
