import { ApplicationFailure } from '@temporalio/activity';
import type { CheckFreezeInput, FluxVerdict, FluxEventInput, FreezeState } from '../workflows/definitions';
import { freezeStateAt } from '../src/gates/freeze';
import { manualFreezeState } from '../src/gates/manual-freeze';
import type { FreezeWindow } from '../src/gates/types';
import { activeFreezes } from '../src/store/freezes';
import { EnvironmentFileSchema } from '../src/artifact/schema';
import { eventSpeaksFor, fluxEventEnv } from '../src/flux/attribution';
import { appKustomizationRef } from '../src/flux/kustomization';
import { type EnvironmentsFile, fluxKustomizationOf } from '../src/gates/environments';
import type { Logger } from '../src/log';
import { releaseAppName } from '../src/policy/deploy';
import type { ChartStore } from '../src/render/charts';
import { renderEnvironment } from '../src/render/release-render';
import { RenderUnavailableError } from '../src/render/tools';
import { getEnvironmentVars } from '../src/store/environment-vars';
import type { ReleaseState } from '../src/release/types';
import { getArtifact } from '../src/store/artifacts';
import type { Db } from '../src/store/db';
import { getFluxEvent, recentFluxOutcomes } from '../src/store/flux-events';
import { getRelease, recordReleaseState, waitingReleases } from '../src/store/releases';
import { saveRender } from '../src/store/renders';

/** Ancestry questions about the GitOps branch ("is C in the history of X?"), answered from a local clone. */
export interface GitAncestry {
  /** `env` picks the environment's repository when environments have their own (FERRY_GITOPS_REPO_<ENV>). */
  isAncestor(commit: string, of: string, env?: string): Promise<boolean>;
  /** False when an event's revision names another environment's branch (src/flux/event-branch.ts). */
  revisionConcernsEnv?(revision: string | null | undefined, env: string): boolean;
  /** True when the revision names a branch of `env`'s own that no other environment uses. */
  revisionNamesOwnBranch?(revision: string | null | undefined, env: string): boolean;
}

export interface ReleaseActivityDeps {
  db: Db;
  git: GitAncestry;
  log: Logger;
  notifyWebhookUrl?: string;
  /** Chart rendering and patching; without it only raw manifests render. */
  render?: { helm?: string; kustomize?: string; charts?: ChartStore };
  /** false refuses manifests with cluster-scoped kinds such as Namespace or ClusterRole (FERRY_ALLOW_CLUSTER_SCOPED). */
  allowClusterScoped?: boolean;
  /** FERRY_CONFIG: environments with per-app Flux Kustomizations take verdicts from the app's own one only. */
  environments?: EnvironmentsFile;
  /** FERRY_FREEZE_RECHECK in ms: how often a release held by a manual freeze looks again without a signal. */
  freezeRecheckMs?: number;
}

const TERMINAL_OUTCOMES = new Set(['succeeded', 'failed', 'unhealthy']);

/** Content problems a retry cannot fix: the release ends at once with this message. */
function contentError(message: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(message, 'InvalidRelease');
}

export function createReleaseActivities(deps: ReleaseActivityDeps) {
  const { db, git, log } = deps;

  /**
   * Flux applies the tip and skips what lies between, so a verdict about X settles X and every ancestor of X:
   * success means X's tree (with its ancestors' changes) is live; a failure to apply X leaves them unapplied too.
   */
  async function covers(releaseCommit: string, eventCommit: string, env?: string): Promise<boolean> {
    return releaseCommit === eventCommit || (await git.isAncestor(releaseCommit, eventCommit, env));
  }

  /**
   * In an environment with per-app Kustomizations, the app's own Kustomization is the one whose events say whether
   * the release runs: the root one only applied the Kustomization objects, and another app's one applied another
   * directory at a commit that merely contains this release.
   */
  function ownKustomization(env: string, app: string): { kind: string; namespace: string; name: string } | undefined {
    const ref = appKustomizationRef(fluxKustomizationOf(deps.environments, env), env, app);
    return ref && { kind: 'Kustomization', ...ref };
  }

  /** With a branch per environment, an event naming another environment's branch says nothing about `env`. */
  const branchAllows = (revision: string | null | undefined, env: string | undefined) =>
    env === undefined || !git.revisionConcernsEnv || git.revisionConcernsEnv(revision, env);

  /** Per cluster, the first stored terminal verdict that covers `commit`, oldest first. */
  async function verdictsFor(commit: string, env: string | undefined, outcomes: Awaited<ReturnType<typeof recentFluxOutcomes>>): Promise<FluxVerdict[]> {
    const seen = new Set<string>();
    const out: FluxVerdict[] = [];
    for (const o of outcomes) {
      const key = o.cluster ?? '';
      if (!TERMINAL_OUTCOMES.has(o.outcome) || seen.has(key) || !branchAllows(o.revision, env)) continue;
      // An event naming no environment counts only where its revision names the environment's own branch.
      if (o.env === null && !(env !== undefined && git.revisionNamesOwnBranch?.(o.revision, env))) continue;
      if (await covers(commit, o.commitSha, env)) {
        seen.add(key);
        out.push({ outcome: o.outcome as FluxVerdict['outcome'], reason: o.reason, message: o.message, revision: o.commitSha, cluster: o.cluster, source: 'event' });
      }
    }
    return out;
  }

  /** Configured windows, then the freezes people started for `env` (or for all environments). */
  async function freezeNow(windows: FreezeWindow[], at: string, env?: string): Promise<FreezeState> {
    const fromWindows = freezeStateAt(windows, Date.parse(at));
    if (env === undefined) return fromWindows;
    return manualFreezeState(await activeFreezes(db, env), fromWindows, deps.freezeRecheckMs);
  }

  return {
    async recordState(state: ReleaseState): Promise<void> {
      await recordReleaseState(db, state);
    },

    /** `record` is the release's state to mirror first (the lanes' fast path folds that task into this one). */
    /**
     * With `freezes`, the answer of the freeze gate comes back with the render: when nothing is waited for between the
     * render and the commit, the release needs no separate check.
     */
    async renderRelease(input: { releaseId: string; artifactId: string; app: string; env: string; record?: ReleaseState; freezes?: FreezeWindow[] }): Promise<{ files: string[]; digest: string; freeze?: FreezeState }> {
      if (input.record) await recordReleaseState(db, input.record);
      const stored = await getArtifact(db, input.artifactId);
      if (!stored) throw contentError(`artifact "${input.artifactId}" does not exist`);
      // A preview's release app is `<app>-<branch>`, so its file is found by the name it releases under.
      const raw = stored.artifact.environments.find((e) => e.app === input.app && e.env === input.env)
        ?? stored.artifact.environments.find((e) => e.env === input.env && e.preview === true && releaseAppName(e, stored.artifact.version) === input.app);
      if (!raw) throw contentError(`artifact "${input.artifactId}" has no environment file for app "${input.app}" in env "${input.env}"`);
      const envFile = EnvironmentFileSchema.safeParse(raw);
      if (!envFile.success) throw contentError(`environment file ${input.env}/${input.app}: ${envFile.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
      const envVars = await getEnvironmentVars(db, input.env);
      let rendered;
      try {
        rendered = await renderEnvironment(stored.artifact, envFile.data, { ...deps.render, app: input.app, envVars, allowClusterScoped: deps.allowClusterScoped });
      } catch (err) {
        if (err instanceof RenderUnavailableError) throw err;
        throw contentError((err as Error).message);
      }
      await saveRender(db, input.releaseId, rendered);
      const files = Object.keys(rendered.files);
      return input.freezes ? { files, digest: rendered.digest, freeze: await freezeNow(input.freezes, new Date().toISOString(), input.env) } : { files, digest: rendered.digest };
    },

    /**
     * Freeze windows need time-zone data, which workflow code must not depend on, and manual freezes live in
     * PostgreSQL; the answer is recorded.
     */
    async checkFreeze(input: CheckFreezeInput): Promise<FreezeState> {
      return freezeNow(input.windows, input.at, input.env);
    },

    /** Events stored before the release started waiting: one terminal verdict per cluster at most. */
    async checkFluxHistory(input: { releaseId: string; commit: string; since: string; env?: string }): Promise<FluxVerdict[]> {
      const row = await getRelease(db, input.releaseId);
      const env = input.env ?? row?.env;
      if (env === undefined) return [];
      const from = row ? ownKustomization(env, row.app) : undefined;
      const ownBranch = git.revisionNamesOwnBranch !== undefined;
      return verdictsFor(input.commit, env, await recentFluxOutcomes(db, input.since, { env, from, ownBranch }));
    },

    /**
     * Releases an event concerns: those of the environment it speaks for (src/flux/attribution.ts) whose commit is
     * the event's, or (for a final verdict) an ancestor of it.
     */
    async settleFluxEvent(input: FluxEventInput): Promise<Array<{ releaseId: string; verdict: FluxVerdict }>> {
      const event = await getFluxEvent(db, input.eventId);
      if (!event?.commitSha) return [];
      const verdict: FluxVerdict = { outcome: event.outcome as FluxVerdict['outcome'], reason: event.reason, message: event.message.slice(0, 2000), revision: event.commitSha, cluster: event.cluster, source: 'event' };
      const terminal = TERMINAL_OUTCOMES.has(event.outcome);
      const from = { kind: event.kind, namespace: event.namespace, name: event.name, env: fluxEventEnv((event.body as { metadata?: Record<string, unknown> } | null)?.metadata) };
      const waiting = await waitingReleases(db);
      const targets: Array<{ releaseId: string; verdict: FluxVerdict }> = [];
      for (const r of waiting) {
        // An event naming no environment speaks for the one whose own branch its revision names.
        const speaking = from.env === undefined && git.revisionNamesOwnBranch?.(event.revision, r.env) ? { ...from, env: r.env } : from;
        if (!eventSpeaksFor(speaking, r, ownKustomization(r.env, r.app))) continue;
        if (!branchAllows(event.revision, r.env)) continue;
        // Progress notes are about the exact revision; final verdicts travel down the history.
        const settles = r.gitopsCommit === event.commitSha || (terminal && (await git.isAncestor(r.gitopsCommit, event.commitSha, r.env)));
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
