import { ApplicationFailure } from '@temporalio/activity';
import type { CheckFreezeInput, FluxVerdict, FluxEventInput, FreezeState } from '../workflows/definitions';
import { freezeStateAt } from '../src/gates/freeze';
import { EnvironmentFileSchema } from '../src/artifact/schema';
import type { Logger } from '../src/log';
import { renderEnvironment } from '../src/render/release-render';
import type { ReleaseState } from '../src/release/types';
import { getArtifact } from '../src/store/artifacts';
import type { Db } from '../src/store/db';
import { getFluxEvent, recentFluxOutcomes } from '../src/store/flux-events';
import { recordReleaseState, waitingReleases } from '../src/store/releases';
import { saveRender } from '../src/store/renders';

/** Ancestry questions about the GitOps branch ("is C in the history of X?"), answered from a local clone. */
export interface GitAncestry {
  isAncestor(commit: string, of: string): Promise<boolean>;
}

export interface ReleaseActivityDeps {
  db: Db;
  git: GitAncestry;
  log: Logger;
  notifyWebhookUrl?: string;
}

const TERMINAL_OUTCOMES = new Set(['succeeded', 'failed', 'unhealthy']);

/** Content problems a retry cannot fix: the release ends at once with this message. */
function contentError(message: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(message, 'InvalidRelease');
}

export function createReleaseActivities(deps: ReleaseActivityDeps) {
  const { db, git, log } = deps;

  /** Which stored outcome settles a release at `commit`: success needs a descendant-or-equal, failure the commit itself. */
  async function verdictFor(commit: string, outcomes: Array<{ commitSha: string; outcome: string; reason: string; message: string }>): Promise<FluxVerdict | null> {
    for (const o of outcomes) {
      if (!TERMINAL_OUTCOMES.has(o.outcome)) continue;
      const settles = o.outcome === 'succeeded' ? o.commitSha === commit || (await git.isAncestor(commit, o.commitSha)) : o.commitSha === commit;
      if (settles) return { outcome: o.outcome as FluxVerdict['outcome'], reason: o.reason, message: o.message, revision: o.commitSha };
    }
    return null;
  }

  return {
    async recordState(state: ReleaseState): Promise<void> {
      await recordReleaseState(db, state);
    },

    async renderRelease(input: { releaseId: string; artifactId: string; app: string; env: string }): Promise<{ files: string[]; digest: string }> {
      const stored = await getArtifact(db, input.artifactId);
      if (!stored) throw contentError(`artifact "${input.artifactId}" does not exist`);
      const raw = stored.artifact.environments.find((e) => e.app === input.app && e.env === input.env);
      if (!raw) throw contentError(`artifact "${input.artifactId}" has no environment file for app "${input.app}" in env "${input.env}"`);
      const envFile = EnvironmentFileSchema.safeParse(raw);
      if (!envFile.success) throw contentError(`environment file ${input.env}/${input.app}: ${envFile.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
      let rendered;
      try {
        rendered = renderEnvironment(stored.artifact, envFile.data);
      } catch (err) {
        throw contentError((err as Error).message);
      }
      await saveRender(db, input.releaseId, rendered);
      return { files: Object.keys(rendered.files), digest: rendered.digest };
    },

    /** Freeze windows need time-zone data, which workflow code must not depend on; the answer is recorded. */
    async checkFreeze(input: CheckFreezeInput): Promise<FreezeState> {
      return freezeStateAt(input.windows, Date.parse(input.at));
    },

    async checkFluxHistory(input: { releaseId: string; commit: string; since: string }): Promise<FluxVerdict | null> {
      return verdictFor(input.commit, await recentFluxOutcomes(db, input.since));
    },

    /** Releases an event settles: for success, those whose commit is the event's or an ancestor of it. */
    async settleFluxEvent(input: FluxEventInput): Promise<Array<{ releaseId: string; verdict: FluxVerdict }>> {
      const event = await getFluxEvent(db, input.eventId);
      if (!event?.commitSha) return [];
      const verdict: FluxVerdict = { outcome: event.outcome as FluxVerdict['outcome'], reason: event.reason, message: event.message, revision: event.commitSha };
      const waiting = await waitingReleases(db);
      const targets: Array<{ releaseId: string; verdict: FluxVerdict }> = [];
      for (const r of waiting) {
        const exact = r.gitopsCommit === event.commitSha;
        // Only success travels down the history: Flux applies the tip, so an error is about that revision alone.
        const settles = exact || (event.outcome === 'succeeded' && (await git.isAncestor(r.gitopsCommit, event.commitSha)));
        if (settles) targets.push({ releaseId: r.id, verdict });
      }
      return targets;
    },

    async notifyRelease(state: ReleaseState): Promise<void> {
      const fields = { releaseId: state.id, app: state.app, env: state.env, artifactId: state.artifactId, status: state.status, gitopsCommit: state.gitopsCommit, error: state.error };
      log.info('release finished', fields);
      if (!deps.notifyWebhookUrl) return;
      const res = await fetch(deps.notifyWebhookUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'ferry' },
        body: JSON.stringify({ type: 'release', release: state }),
        signal: AbortSignal.timeout(10_000),
      });
      if (!res.ok) throw ApplicationFailure.retryable(`notification webhook answered ${res.status}`, 'NotifyFailed');
    },
  };
}

export type ReleaseActivities = ReturnType<typeof createReleaseActivities>;
