import { createHmac } from 'node:crypto';
import { Context } from '@temporalio/activity';
import { ApplicationFailure, ApplicationFailureCategory } from '@temporalio/common';
import { appKustomizationRef } from '../src/flux/kustomization';
import { type EnvironmentsFile, fluxKustomizationOf } from '../src/gates/environments';
import type { Logger } from '../src/log';
import type { ClusterConfig, ReconcileConfig } from '../src/reconcile/config';
import { envKustomizationName } from '../src/reconcile/manifests';
import { combineKustomizations, evaluateKustomization, type PollVerdict, sourceProblem } from '../src/reconcile/kustomization-status';
import type { ClusterVerdict } from '../src/reconcile/verdicts';
import type { Db } from '../src/store/db';
import { getRelease } from '../src/store/releases';
import { type FluxApi, fluxApi, kubeErrorCode } from './kube';
import type { GitAncestry } from './release-activities';

export interface ReconcileActivityDeps {
  reconcile: ReconcileConfig;
  git: GitAncestry;
  log: Logger;
  /** Tests and alternative clients may replace the Kubernetes access. */
  fluxApiFor?: (kubeconfig: string, context?: string) => FluxApi;
  /** With both, releases into environments with per-app Flux Kustomizations poll the app's own one. */
  db?: Db;
  environments?: EnvironmentsFile;
}

const DEFAULT_KUSTOMIZATIONS = [{ namespace: 'flux-system', name: 'flux-system' }];

/** Pending is an expected, frequent state: BENIGN keeps it out of error logs and failure metrics. */
function stillPending(message: string): ApplicationFailure {
  return ApplicationFailure.create({ message, type: 'FluxPending', category: ApplicationFailureCategory.BENIGN });
}

export function createReconcileActivities(deps: ReconcileActivityDeps) {
  const { reconcile, git, log } = deps;
  const apis = new Map<string, FluxApi>();
  function apiFor(cluster: string): FluxApi {
    const c = Object.hasOwn(reconcile.file.clusters, cluster) ? reconcile.file.clusters[cluster] : undefined;
    if (!c?.kubeconfig) throw ApplicationFailure.nonRetryable(`cluster "${cluster}" has no kubeconfig`, 'ClusterNotConfigured');
    let api = apis.get(cluster);
    if (!api) {
      api = (deps.fluxApiFor ?? fluxApi)(c.kubeconfig, c.context);
      apis.set(cluster, api);
    }
    return api;
  }

  /**
   * The app and env of the release polling. Releases on the lanes' fast path name them; older ones passed only
   * cluster and commit, and for them the release is the workflow this activity runs for (a release's id is its
   * workflow id).
   */
  async function releaseOf(where?: { app: string; env: string }): Promise<{ app: string; env: string } | undefined> {
    if (where) return where;
    if (!deps.db) return undefined;
    let releaseId: string | undefined;
    try {
      releaseId = Context.current().info.workflowExecution?.workflowId;
    } catch {
      return undefined; // called outside an activity
    }
    if (!releaseId) return undefined;
    const row = await getRelease(deps.db, releaseId);
    return row ? { app: row.app, env: row.env } : undefined;
  }

  /**
   * What to read for a release on a cluster: the app's own Kustomization in environments with per-app
   * Kustomizations; else the cluster's configured `kustomizations`; else the one Ferry's setup manifests create for
   * the environment (`flux-system/ferry-<env>`), since a Kustomization applying another environment says nothing
   * about this one.
   */
  async function kustomizationsFor(cluster: ClusterConfig, where?: { app: string; env: string }): Promise<Array<{ namespace: string; name: string }>> {
    const r = await releaseOf(where);
    const own = r && appKustomizationRef(fluxKustomizationOf(deps.environments, r.env), r.env, r.app);
    if (own) return [own];
    if (cluster.kustomizations) return cluster.kustomizations;
    return r ? [{ namespace: 'flux-system', name: envKustomizationName(r.env) }] : DEFAULT_KUSTOMIZATIONS;
  }

  return {
    /**
     * One read of the cluster's Kustomizations (the app's own one in environments with per-app Kustomizations).
     * Returns a terminal verdict for the commit, or throws a BENIGN retryable failure while Flux has not decided yet;
     * the workflow bounds the retries with its Flux timeout.
     */
    async pollCluster(input: { cluster: string; commit: string; app?: string; env?: string }): Promise<ClusterVerdict> {
      const api = apiFor(input.cluster);
      const cfg = reconcile.file.clusters[input.cluster];
      const covers = async (sha: string) => sha === input.commit || (await git.isAncestor(input.commit, sha));
      const verdicts: PollVerdict[] = [];
      const where = input.app !== undefined && input.env !== undefined ? { app: input.app, env: input.env } : undefined;
      for (const k of await kustomizationsFor(cfg, where)) {
        try {
          verdicts.push(await evaluateKustomization(await api.get('Kustomization', k.namespace, k.name), covers));
        } catch (err) {
          // An unreachable API server or a missing object is not a verdict; keep waiting (and say why).
          throw stillPending(`cluster ${input.cluster}: cannot read Kustomization ${k.namespace}/${k.name}: ${kubeErrorCode(err) ?? ''} ${(err as Error).message}`.slice(0, 500));
        }
      }
      const v = combineKustomizations(verdicts);
      if (v.outcome === 'pending') {
        let why = v.message;
        if (cfg.gitRepository) {
          const repo = await api.get('GitRepository', cfg.gitRepository.namespace, cfg.gitRepository.name).catch(() => null);
          const problem = repo && sourceProblem(repo);
          if (problem) why = `${why}; ${problem}`;
        }
        throw stillPending(`cluster ${input.cluster}: ${why}`.slice(0, 1000));
      }
      return { outcome: v.outcome, reason: v.reason, message: v.message.slice(0, 1000), revision: v.revision ?? input.commit, cluster: input.cluster, source: 'poll' };
    },

    /** Asks Flux to reconcile now. Best effort: Flux reconciles on its interval anyway. */
    async requestReconcile(input: { cluster: string; at: string }): Promise<string> {
      const cfg = Object.hasOwn(reconcile.file.clusters, input.cluster) ? reconcile.file.clusters[input.cluster] : undefined;
      if (!cfg?.requestReconcile) return 'not configured';
      if (cfg.requestReconcile === 'receiver') {
        const url = reconcile.secret(cfg.receiverUrl!);
        const body = JSON.stringify({ ferry: 'reconcile', at: input.at });
        const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': 'ferry' };
        if (cfg.receiverSecret) headers['x-signature'] = `sha256=${createHmac('sha256', reconcile.secret(cfg.receiverSecret)).update(body).digest('hex')}`;
        const res = await fetch(url, { method: 'POST', headers, body, signal: AbortSignal.timeout(10_000) });
        // The URL holds the Receiver's secret path: never put it in a message.
        if (!res.ok) throw ApplicationFailure.retryable(`Flux receiver of cluster ${input.cluster} answered ${res.status}`, 'ReconcileRequestFailed');
        return `receiver answered ${res.status}`;
      }
      const api = apiFor(input.cluster);
      // Source first, then the Kustomizations: the same order as `flux reconcile ks --with-source`.
      if (cfg.gitRepository) await api.requestReconcile('GitRepository', cfg.gitRepository.namespace, cfg.gitRepository.name, input.at);
      // The ones this release waits for (its environment's or its app's), not some other environment's.
      for (const k of await kustomizationsFor(cfg)) await api.requestReconcile('Kustomization', k.namespace, k.name, input.at);
      log.debug('requested Flux reconcile', { cluster: input.cluster });
      return 'annotated';
    },
  };
}

export type ReconcileActivities = ReturnType<typeof createReconcileActivities>;
