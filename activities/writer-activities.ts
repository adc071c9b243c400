import { ApplicationFailure, Context } from '@temporalio/activity';
import type { ReleaseState, ReleaseTrigger } from '../src/release/types';
import type { Db } from '../src/store/db';
import { recordGitopsCommit, recordReleaseState } from '../src/store/releases';
import { loadRender } from '../src/store/renders';
import { appDir } from '../src/gitops/repos';
import { buildCommitMessage } from '../src/gitops/trailers';
import { FLUX_DIR, fluxKustomizationPath, fluxLayoutRefusal, renderFluxKustomization } from '../src/flux/kustomization';
import { type EnvironmentsFile, fluxKustomizationOf } from '../src/gates/environments';
import { type AppChange, type CommitResult, ConflictError, type GitopsWriter } from '../src/gitops/writer';

export interface WriterActivityDeps {
  db: Db;
  /** the writer of the release's environment's repository (see src/gitops/repos.ts) */
  writers: { forEnv(env: string): Promise<GitopsWriter> };
  /** FERRY_CONFIG: which environments also get a Flux Kustomization per app (`fluxKustomization`). */
  environments?: EnvironmentsFile;
}

export interface CommitReleaseInput {
  releaseId: string;
  app: string;
  env: string;
  artifactId: string;
  sha: string;
  releasedBy: string;
  trigger: ReleaseTrigger;
  notBefore: string;
  /** Rollbacks: the release rolled back (trailer Ferry-Rollback-Of). */
  rollbackOf?: string;
  /** Promotions: the release in the previous environment (trailer Ferry-Promoted-From). */
  promotedFrom?: string;
  /** Who approved (trailer Ferry-Approved-By). */
  approvedBy?: string[];
  /** Who released through a freeze as a hotfix (trailer Ferry-Hotfix-By). */
  hotfixBy?: string;
  /** The release's `committing` state, mirrored before the write (the lanes' fast path saves a task this way). */
  record?: ReleaseState;
}

export interface RemoveAppDirectoryInput {
  /** Unique per cleanup run and directory; the writer's exactly-once key (Ferry-Release-Id). */
  changeId: string;
  env: string;
  app: string;
  reason: string;
  requestedBy: string;
  notBefore: string;
  /** `Ferry-Trigger` of the commit: a branch cleanup unless said otherwise. */
  trigger?: 'cleanup' | 'delete';
}

export function createWriterActivities(deps: WriterActivityDeps) {
  /**
   * Hands one change to the env's writer, heartbeating while it waits in the group commit. A conflicting foreign
   * edit needs a human, so it ends the workflow's step instead of being retried.
   */
  async function submit(env: string, change: AppChange): Promise<CommitResult> {
    const beat = setInterval(() => Context.current().heartbeat(), 10_000);
    try {
      return await (await deps.writers.forEnv(env)).submit(change);
    } catch (err) {
      if (err instanceof ConflictError) {
        throw ApplicationFailure.nonRetryable(`${err.message} (files: ${err.files.join(', ')})`, 'GitopsConflict');
      }
      throw err;
    } finally {
      clearInterval(beat);
    }
  }

  /**
   * `<env>/flux/<app>.yaml` when the environment uses per-app Flux Kustomizations. Computed here, from the config of
   * the process that writes, so a rollback or re-release writes it as the environment is configured now.
   */
  function fluxFiles(env: string, app: string): Record<string, string> {
    const cfg = fluxKustomizationOf(deps.environments, env);
    if (!cfg) return {};
    const refusal = fluxLayoutRefusal(env, app);
    if (refusal) throw ApplicationFailure.nonRetryable(refusal, 'InvalidRelease');
    return { [fluxKustomizationPath(env, app)]: renderFluxKustomization(env, app, cfg) };
  }

  return {
    /**
     * Removes `<env>/<app>/` and `<env>/flux/<app>.yaml` in one commit (Flux then prunes what it applied). The
     * Kustomization file goes whether or not the layout is switched on now: it is only ever Ferry's, and one left
     * behind would point at a directory that no longer exists. Nothing to remove is `unchanged` and commits nothing.
     */
    async removeAppDirectory(input: RemoveAppDirectoryInput): Promise<Pick<CommitResult, 'commit' | 'status'>> {
      const result = await submit(input.env, {
        releaseId: input.changeId,
        dir: appDir(input.env, input.app),
        files: {},
        // An app named like the layout's directory is that directory: removing it says it all.
        ...(input.app === FLUX_DIR ? {} : { extraFiles: { [fluxKustomizationPath(input.env, input.app)]: null } }),
        title: `[${input.env}/${input.app}] remove ${input.app}`,
        body: input.reason,
        trailers: { 'Ferry-App': input.app, 'Ferry-Env': input.env, 'Ferry-Released-By': input.requestedBy, 'Ferry-Trigger': input.trigger ?? 'cleanup' },
        notBefore: input.notBefore,
      });
      return { commit: result.commit, status: result.status };
    },

    /**
     * The only code that writes a release to the GitOps repository. The writer serialises and group-commits; this
     * activity adds the release's trailers and records the commit in PostgreSQL as soon as it is on the remote.
     */
    async commitRelease(input: CommitReleaseInput): Promise<Pick<CommitResult, 'commit' | 'status'>> {
      if (input.record) await recordReleaseState(deps.db, input.record);
      const render = await loadRender(deps.db, input.releaseId);
      if (!render) throw ApplicationFailure.nonRetryable(`no rendered manifests stored for release ${input.releaseId}`, 'RenderMissing');
      const extraFiles = fluxFiles(input.env, input.app);
      const change = {
        releaseId: input.releaseId,
        dir: appDir(input.env, input.app),
        files: render.files,
        ...(Object.keys(extraFiles).length ? { extraFiles } : {}),
        title: `[${input.env}/${input.app}] release ${input.artifactId}`,
        body: `${input.trigger} release of ${input.app} to ${input.env} (source ${input.sha.slice(0, 12)}, manifests ${render.digest.slice(0, 12)})`,
        trailers: {
          'Ferry-App': input.app,
          'Ferry-Env': input.env,
          'Ferry-Artifact-Id': input.artifactId,
          'Ferry-Source-Sha': input.sha,
          // The writer folds every trailer value onto one line, so user text cannot forge a trailer.
          'Ferry-Released-By': input.releasedBy,
          'Ferry-Trigger': input.trigger,
          // Empty values are left out by the writer.
          'Ferry-Rollback-Of': input.rollbackOf ?? '',
          'Ferry-Promoted-From': input.promotedFrom ?? '',
          'Ferry-Approved-By': (input.approvedBy ?? []).join(', '),
          'Ferry-Hotfix-By': input.hotfixBy ?? '',
        },
        notBefore: input.notBefore,
      };
      const result = await submit(input.env, change);
      // The message is kept with the release, so people can read its trailers without access to the repository.
      if (result.status !== 'unchanged') await recordGitopsCommit(deps.db, input.releaseId, result.commit, buildCommitMessage(change));
      return { commit: result.commit, status: result.status };
    },
  };
}

export type WriterActivities = ReturnType<typeof createWriterActivities>;
