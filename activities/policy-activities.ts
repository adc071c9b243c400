import { ApplicationFailure } from '@temporalio/activity';
import { type Artifact, EnvironmentFileSchema } from '../src/artifact/schema';
import type { Logger } from '../src/log';
import { NAME_RE } from '../src/names';
import { type Decision, decideArtifact } from '../src/policy/decide';
import { globMatches } from '../src/policy/glob';
import { renderTemplate } from '../src/render/template';
import { artifactPusher, getArtifact } from '../src/store/artifacts';
import { currentRights } from '../src/store/principals';
import { previewsOf } from '../src/store/previews';
import { denial } from '../src/auth/authorize';
import type { Principal } from '../src/auth/roles';
import { saveDecision } from '../src/store/decisions';
import { listPolicies } from '../src/store/policies';
import { ReleaseRefusedError, type ReleaseStarterDeps, startReleaseWorkflow } from './release-starter';

export interface PolicyActivityDeps {
  starter: ReleaseStarterDeps;
  mainBranch: string;
  log: Logger;
}

export interface AutoReleaseTarget {
  app: string;
  env: string;
  releaseApp: string;
}

export interface CleanupTarget {
  env: string;
  app: string;
  /** Why this directory would go: a preview of the branch, or a file's cleanup policy. */
  because: string;
  /** Why it stays: the caller may not act there, or it is not a preview this branch created. */
  refused?: string;
}

export const AUTO_RELEASED_BY = 'auto-release';

export function parseEnvironmentFile(raw: unknown) {
  const r = EnvironmentFileSchema.safeParse(raw);
  return r.success
    ? { success: true as const, data: r.data }
    : { success: false as const, problems: r.error.issues.map((i) => `${i.path.join('.') || '(file)'}: ${i.message}`) };
}

export async function artifactDecisions(deps: Pick<PolicyActivityDeps, 'starter' | 'mainBranch'>, artifact: Artifact): Promise<Decision[]> {
  const apps = [...new Set(artifact.environments.map((e) => e.app))];
  const policies = await listPolicies(deps.starter.db, { apps });
  return decideArtifact(artifact, { serverRestrictions: deps.starter.branchRestrictions, policies, mainBranch: deps.mainBranch }, parseEnvironmentFile);
}

export function createPolicyActivities(deps: PolicyActivityDeps) {
  const { db } = deps.starter;
  return {
    /** Decides every environment file of the artifact, records each decision, and returns those to release. */
    async evaluateArtifact(input: { artifactId: string }): Promise<{ toRelease: AutoReleaseTarget[] }> {
      const stored = await getArtifact(db, input.artifactId);
      if (!stored) throw ApplicationFailure.nonRetryable(`artifact "${input.artifactId}" does not exist`, 'ArtifactMissing');
      const decisions = await artifactDecisions(deps, stored.artifact);
      for (const d of decisions) await saveDecision(db, input.artifactId, d);
      return { toRelease: decisions.filter((d) => d.matched).map((d) => ({ app: d.app, env: d.env, releaseApp: d.releaseApp })) };
    },

    /**
     * Starts one auto-release through the shared starter, with the rights of whoever pushed the artifact (as they
     * stand now: a token revoked since the push releases nothing), so the pusher's environment, repository and app
     * limits and branch restrictions apply as they do for every release; at most once per artifact, app and env. A
     * refusal is recorded as the decision, with the reason.
     */
    async startAutoRelease(input: { artifactId: string; app: string; env: string }): Promise<{ releaseId: string | null; refused: string | null }> {
      const refuse = async (message: string, refused: boolean) => {
        await db.query(
          `UPDATE artifact_decisions SET matched = false, refused = $4, reasons = reasons || $5::jsonb, decided_at = now()
           WHERE artifact_id = $1 AND app = $2 AND env = $3`,
          [input.artifactId, input.app, input.env, refused, JSON.stringify([message])],
        );
        deps.log.info('auto-release refused', { artifactId: input.artifactId, app: input.app, env: input.env, reason: message });
        return { releaseId: null, refused: message };
      };
      const pusher = await artifactPusher(db, input.artifactId);
      if (!pusher) return refuse('not released: nobody is recorded as having pushed this artifact, so nobody\'s rights can release it', true);
      const rights = await currentRights(db, pusher);
      if ('refused' in rights) return refuse(`not released: the pusher ${rights.refused}`, true);
      try {
        const started = await startReleaseWorkflow(deps.starter, {
          artifactId: input.artifactId, env: input.env, app: input.app, trigger: 'auto', releasedBy: AUTO_RELEASED_BY, actor: rights.principal, once: true,
        });
        await db.query('UPDATE artifact_decisions SET release_id = $4 WHERE artifact_id = $1 AND app = $2 AND env = $3', [input.artifactId, input.app, input.env, started.id]);
        deps.log.info('auto-release started', { artifactId: input.artifactId, app: input.app, env: input.env, releaseId: started.id, existing: started.existing });
        return { releaseId: started.id, refused: null };
      } catch (err) {
        if (!(err instanceof ReleaseRefusedError)) throw err;
        // The pusher may not release here, a restriction set after the artifact was evaluated, or the artifact
        // gone: record why, release nothing.
        return refuse(err.message, err.kind === 'restricted' || err.kind === 'forbidden');
      }
    },

    /**
     * Directories to remove when `branch` of `repository` is deleted: the previews that artifacts of that repository
     * and branch created (recorded when each preview release started), and nothing else. Each needs the caller's
     * right to release there (ci or deployer for the env, within its repository and app scopes); one it lacks is
     * returned with `refused` and left in place. A `cleanup` policy in an environment file cannot name anything
     * else: a name it renders that is not such a preview is returned as refused too, so the file's author sees why.
     */
    async findBranchCleanups(input: { repository: string; branch: string; actor?: Principal }): Promise<CleanupTarget[]> {
      const targets = new Map<string, CleanupTarget>();
      const previews = await previewsOf(db, input.repository, input.branch);
      for (const p of previews) {
        const because = `preview of ${p.sourceApp} for branch "${input.branch}"`;
        const refused = !input.actor
          ? 'nobody is recorded as having asked for this cleanup'
          : denial(input.actor, ['ci', 'deployer'], { env: p.env, app: p.sourceApp, repository: input.repository })?.message;
        targets.set(`${p.env}/${p.app}`, { env: p.env, app: p.app, because, ...(refused ? { refused } : {}) });
      }
      const r = await db.query<{ app: string; env: string; cleanup: { branch?: string; app?: string; event?: string } | null }>(
        `SELECT DISTINCT ON (e->>'env', e->>'app') e->>'app' AS app, e->>'env' AS env, e->'cleanup' AS cleanup
         FROM (SELECT body, created_at FROM artifacts WHERE repository = $1 ORDER BY created_at DESC LIMIT 500) a,
              jsonb_array_elements(a.body->'environments') e
         WHERE e ? 'cleanup'
         ORDER BY e->>'env', e->>'app', a.created_at DESC`,
        [input.repository],
      );
      for (const row of r.rows) {
        const c = row.cleanup;
        if (c?.event !== 'branchDeleted' || typeof c.branch !== 'string' || typeof c.app !== 'string' || !globMatches(c.branch, input.branch, 'branch')) continue;
        let app: string;
        try {
          app = renderTemplate(c.app, { BRANCH: input.branch, APP: row.app, ENV: row.env }, { file: `environment file ${row.env}/${row.app} (cleanup.app)` });
        } catch (err) {
          deps.log.warn('cleanup policy skipped', { file: `${row.env}/${row.app}`, branch: input.branch, error: (err as Error).message });
          continue;
        }
        if (targets.has(`${row.env}/${app}`)) continue;
        targets.set(`${row.env}/${app}`, {
          env: row.env, app: NAME_RE.test(app) ? app : JSON.stringify(app), because: `cleanup policy of ${row.app} (branch "${c.branch}")`,
          refused: `not removed: no artifact of ${input.repository} branch "${input.branch}" created a preview named "${app}" in ${row.env}; a cleanup policy removes only such previews`,
        });
      }
      for (const t of targets.values()) if (t.refused) deps.log.info('cleanup refused', { repository: input.repository, branch: input.branch, dir: `${t.env}/${t.app}`, reason: t.refused });
      return [...targets.values()].sort((a, b) => (`${a.env}/${a.app}` < `${b.env}/${b.app}` ? -1 : 1));
    },
  };
}

export type PolicyActivities = ReturnType<typeof createPolicyActivities>;
