import { ApplicationFailure } from '@temporalio/activity';
import { type Artifact, EnvironmentFileSchema } from '../src/artifact/schema';
import type { Logger } from '../src/log';
import { NAME_RE } from '../src/names';
import { type Decision, decideArtifact } from '../src/policy/decide';
import { previewAppName } from '../src/policy/deploy';
import { globMatches } from '../src/policy/glob';
import { renderTemplate } from '../src/render/template';
import { getArtifact } from '../src/store/artifacts';
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
  /** Why this directory goes: a preview of the branch, or a file's cleanup policy. */
  because: string;
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
     * Starts one auto-release through the shared starter (so branch restrictions apply as they do for every
     * release), at most once per artifact, app and env; a refusal is recorded as the decision.
     */
    async startAutoRelease(input: { artifactId: string; app: string; env: string }): Promise<{ releaseId: string | null; refused: string | null }> {
      try {
        const started = await startReleaseWorkflow(deps.starter, { artifactId: input.artifactId, env: input.env, app: input.app, trigger: 'auto', releasedBy: AUTO_RELEASED_BY, once: true });
        await db.query('UPDATE artifact_decisions SET release_id = $4 WHERE artifact_id = $1 AND app = $2 AND env = $3', [input.artifactId, input.app, input.env, started.id]);
        deps.log.info('auto-release started', { artifactId: input.artifactId, app: input.app, env: input.env, releaseId: started.id, existing: started.existing });
        return { releaseId: started.id, refused: null };
      } catch (err) {
        if (!(err instanceof ReleaseRefusedError)) throw err;
        // A restriction set after the artifact was evaluated, or the artifact gone: record why, release nothing.
        await db.query(
          `UPDATE artifact_decisions SET matched = false, refused = $4, reasons = reasons || $5::jsonb, decided_at = now()
           WHERE artifact_id = $1 AND app = $2 AND env = $3`,
          [input.artifactId, input.app, input.env, err.kind === 'restricted', JSON.stringify([err.message])],
        );
        deps.log.info('auto-release refused', { artifactId: input.artifactId, app: input.app, env: input.env, reason: err.message });
        return { releaseId: null, refused: err.message };
      }
    },

    /**
     * Directories to remove when `branch` of `repository` is deleted: each preview environment file's
     * `<env>/<app>-<branch>`, and each `cleanup` policy whose branch glob matches, as its `app` template names.
     * The files come from the repository's recent artifacts, newest first.
     */
    async findBranchCleanups(input: { repository: string; branch: string }): Promise<CleanupTarget[]> {
      const r = await db.query<{ app: string; env: string; preview: boolean | null; cleanup: { branch?: string; app?: string; event?: string } | null }>(
        `SELECT e->>'app' AS app, e->>'env' AS env, (e->>'preview')::boolean AS preview, e->'cleanup' AS cleanup
         FROM (SELECT body, created_at FROM artifacts WHERE repository = $1 ORDER BY created_at DESC LIMIT 500) a,
              jsonb_array_elements(a.body->'environments') e
         WHERE e->>'preview' = 'true' OR e ? 'cleanup'
         ORDER BY a.created_at DESC`,
        [input.repository],
      );
      const seenFile = new Set<string>();
      const targets = new Map<string, CleanupTarget>();
      for (const row of r.rows) {
        const key = `${row.env}/${row.app}`;
        if (seenFile.has(key)) continue; // the newest artifact's version of the file decides
        seenFile.add(key);
        if (row.preview && input.branch !== deps.mainBranch) {
          let app: string;
          try {
            app = previewAppName(row.app, input.branch);
          } catch {
            continue;
          }
          targets.set(`${row.env}/${app}`, { env: row.env, app, because: `preview of ${row.app} for branch "${input.branch}"` });
        }
        const c = row.cleanup;
        if (c?.event === 'branchDeleted' && typeof c.branch === 'string' && typeof c.app === 'string' && globMatches(c.branch, input.branch, 'branch')) {
          try {
            const app = renderTemplate(c.app, { BRANCH: input.branch, APP: row.app, ENV: row.env }, { file: `environment file ${key} (cleanup.app)` });
            if (!NAME_RE.test(app)) throw new Error(`"${app}" is not a valid app name`);
            targets.set(`${row.env}/${app}`, { env: row.env, app, because: `cleanup policy of ${row.app} (branch "${c.branch}")` });
          } catch (err) {
            deps.log.warn('cleanup policy skipped', { file: key, branch: input.branch, error: (err as Error).message });
          }
        }
      }
      return [...targets.values()].sort((a, b) => (`${a.env}/${a.app}` < `${b.env}/${b.app}` ? -1 : 1));
    },
  };
}

export type PolicyActivities = ReturnType<typeof createPolicyActivities>;
