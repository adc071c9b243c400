import { createHash } from 'node:crypto';
import { type Client, WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { environmentFilesFor } from '../src/artifact/schema';
import { artifactBranch, releaseAppName } from '../src/policy/deploy';
import { fluxLayoutRefusal } from '../src/flux/kustomization';
import { autoPromotionsFrom, type EnvironmentsFile, fluxKustomizationOf, resolveGates } from '../src/gates/environments';
import { reconcileSettingsFor, type ReconcileConfig } from '../src/reconcile/config';
import { effectiveRestriction, type Policy, restrictionRefusal } from '../src/policy/policies';
import { releaseWorkflowId, type ReleaseState, type ReleaseTrigger } from '../src/release/types';
import { releaseDenial } from '../src/auth/authorize';
import type { Principal } from '../src/auth/roles';
import { getArtifact } from '../src/store/artifacts';
import { previewClash, recordPreview } from '../src/store/previews';
import { recordReleasePrincipal } from '../src/store/principals';
import type { Db } from '../src/store/db';
import { listPolicies } from '../src/store/policies';
import { lastCommittedRelease } from '../src/store/history';
import { getRelease, recordReleaseState } from '../src/store/releases';
import {
  FERRY_APP, FERRY_ARTIFACT_ID, FERRY_BRANCH, FERRY_ENV, FERRY_SHA, FERRY_STATUS, type ReleaseInput,
} from '../workflows/definitions';
import type { releaseWorkflow } from '../workflows/release';

/**
 * The one place a release workflow is started, for every way a release begins: the API (manual, promote,
 * rollback) and the artifact workflow's activities (auto). Who may release (roles, environments, repository and
 * app scopes of the acting principal) and branch restrictions are decided here, so no path can go around them.
 */
export interface ReleaseStarterDeps {
  db: Db;
  temporal: Client;
  taskQueue: string;
  writerTaskQueue: string;
  awaitFlux: boolean;
  fluxTimeout: string;
  /** Server-wide branch restrictions (FERRY_BRANCH_RESTRICTIONS). */
  branchRestrictions: Policy[];
  /** Clusters and per-env reconcile settings; each release gets its env's share as input. */
  reconcile?: ReconcileConfig;
  /** Server-side environment config (FERRY_CONFIG): gates, ordering, promotion, rollback. */
  environments: EnvironmentsFile;
  /**
   * The release worker runs in this process on the client's own native connection: ask Temporal to hand the first
   * workflow task back with the start call's answer (eager start), which saves the server a dispatch and the worker
   * a poll. Never set otherwise (the SDK refuses eager start without a worker sharing the connection).
   */
  eagerStart?: boolean;
  /** Told of every workflow this starter started, and whether Temporal started it eagerly (for metrics). */
  onStarted?: (eagerly: boolean) => void;
}

export interface StartReleaseRequest {
  artifactId: string;
  env: string;
  /** The environment file's app, or a preview's `<app>-<branch>`; optional when the env has one app. */
  app?: string;
  trigger: ReleaseTrigger;
  /** What the release records as its author (display). */
  releasedBy: string;
  /**
   * Whose rights the release is started with: the caller, the pusher of an auto-released artifact, the principal
   * behind the release an automatic promotion promotes, or Ferry itself for an automatic rollback.
   */
  actor: Principal;
  /** An automatic promotion: needs the right to release to the target (ci or deployer), not a deployer's call. */
  automatic?: boolean;
  /**
   * Never run this release id again once it ran, whatever its outcome (auto-release: one artifact never starts the
   * same release twice). Otherwise a failed release may be started again.
   */
  once?: boolean;
  /** Makes a deliberate re-release of an artifact (a rollback) a release of its own, next to the original. */
  suffix?: string;
  /** Rollbacks: the release being rolled back. */
  rollbackOf?: string;
  /** Promotions: the source release in the previous environment. */
  promotedFrom?: string;
}

export interface StartedRelease {
  id: string;
  workflowId: string;
  status: string;
  existing: boolean;
  rollbackOf?: string | null;
  promotedFrom?: string | null;
}

/** Why a release was not started; callers map `kind` to their own answer (HTTP status, a recorded decision). */
export class ReleaseRefusedError extends Error {
  constructor(
    readonly kind: 'not-found' | 'ambiguous' | 'restricted' | 'forbidden',
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'ReleaseRefusedError';
  }
}

/** Final statuses whose workflow run failed: the same release id may run again. */
const NOT_RELEASED = new Set(['failed', 'timed-out', 'rejected', 'expired']);
/** Final statuses of a run that completed: the id is spent, and a new request is about what the environment runs. */
const SPENT = new Set(['succeeded', 'committed', 'superseded']);

/**
 * Which release a request means (docs/architecture.md, "One identifier"). `base` is the release of this artifact's
 * app in env. If it never ran, is running, or ended without releasing anything, it is `base` itself (joined, or run
 * again). If it completed, the request is about what the environment runs now:
 * - the environment's newest commit is of this artifact: that release (answered as existing, or run again if it
 *   failed);
 * - otherwise the environment moved on, and releasing the artifact again is a new release whose id names what it
 *   replaces (`<base>:again-<hash of that release's id>`): a CI retry meanwhile finds the same id, and going back
 *   to this artifact once more after yet another release is a new release again.
 * Auto-releases (`once`) never run an id twice and keep `base`.
 */
async function releaseIdentity(db: Db, base: string, req: { app: string; env: string; artifactId: string; once?: boolean }): Promise<string> {
  if (req.once) return base;
  const before = await getRelease(db, base);
  if (!before || !SPENT.has(before.status)) return base;
  const head = await lastCommittedRelease(db, req.app, req.env);
  if (!head || head.id === base) return base;
  if (head.artifactId === req.artifactId) return head.id;
  return `${base}:again-${createHash('sha256').update(head.id).digest('hex').slice(0, 10)}`;
}

export async function startReleaseWorkflow(deps: ReleaseStarterDeps, req: StartReleaseRequest): Promise<StartedRelease> {
  const stored = await getArtifact(deps.db, req.artifactId);
  if (!stored) throw new ReleaseRefusedError('not-found', `artifact "${req.artifactId}" not found`);
  const { artifact } = stored;
  const candidates = environmentFilesFor(artifact, req.env);
  if (candidates.length === 0) throw new ReleaseRefusedError('not-found', `artifact "${artifact.id}" has no environment file for env "${req.env}"`);
  let envFile = candidates[0]!;
  if (req.app) {
    const match = candidates.find((e) => e.app === req.app) ?? candidates.find((e) => releaseAppName(e, artifact.version) === req.app);
    if (!match) throw new ReleaseRefusedError('not-found', `artifact "${artifact.id}" has no environment file for app "${req.app}" in env "${req.env}"`);
    envFile = match;
  } else if (candidates.length > 1) {
    throw new ReleaseRefusedError('ambiguous', `artifact "${artifact.id}" has several apps for env "${req.env}"; name one with "app"`, {
      issues: [{ path: 'app', message: `required: one of ${candidates.map((c) => c.app).join(', ')}` }],
    });
  }

  const refused = releaseDenial(req.actor, req.trigger, { env: req.env, app: envFile.app, repository: artifact.version.repositoryName }, req.automatic);
  if (refused) {
    throw new ReleaseRefusedError('forbidden', `forbidden: ${refused.message}`, {
      reason: 'not-authorized',
      missing: refused.missing === 'role' ? { role: refused.needed } : refused.missing === 'env' ? { env: refused.env } : refused.missing === 'scope' ? { [refused.scope]: refused.value } : {},
    });
  }

  const branch = artifactBranch(artifact.version);
  const restriction = effectiveRestriction(envFile.app, req.env, deps.branchRestrictions, await listPolicies(deps.db, { app: envFile.app }));
  const refusal = restrictionRefusal(restriction, branch);
  if (refusal) {
    throw new ReleaseRefusedError('restricted', `${envFile.app} cannot be released to ${req.env}: ${refusal}`, {
      reason: 'branch-restricted', restriction: restriction?.id, branch,
    });
  }

  const app = releaseAppName(envFile, artifact.version);
  // Refused here rather than at the commit, so the caller hears it before anything is rendered or queued.
  const layoutRefusal = fluxKustomizationOf(deps.environments, req.env) ? fluxLayoutRefusal(req.env, app) : null;
  if (layoutRefusal) {
    throw new ReleaseRefusedError('restricted', layoutRefusal, { reason: 'flux-kustomization', issues: [{ path: 'app', message: layoutRefusal }] });
  }
  if (envFile.preview) {
    const clash = await previewClash(deps.db, { env: req.env, app, repository: artifact.version.repositoryName, branch: artifact.version.branch ?? '' });
    if (clash) throw new ReleaseRefusedError('restricted', clash, { reason: 'preview-name-taken', issues: [{ path: 'app', message: clash }] });
  }
  const workflowId = await releaseIdentity(deps.db, releaseWorkflowId(app, req.env, artifact.id, req.suffix), { app, env: req.env, artifactId: artifact.id, once: req.once });
  const links = { ...(req.rollbackOf ? { rollbackOf: req.rollbackOf } : {}), ...(req.promotedFrom ? { promotedFrom: req.promotedFrom } : {}) };
  const input: ReleaseInput = {
    releaseId: workflowId,
    app,
    env: req.env,
    artifactId: artifact.id,
    sha: artifact.version.sha,
    branch: artifact.version.branch ?? '',
    trigger: req.trigger,
    releasedBy: req.releasedBy,
    releasedById: req.actor.id,
    releasedByName: req.actor.name,
    writerTaskQueue: deps.writerTaskQueue,
    awaitFlux: deps.awaitFlux,
    fluxTimeout: deps.fluxTimeout,
    reconcile: reconcileSettingsFor(deps.reconcile, req.env),
    // Gates are fixed when the release starts: a config change later does not alter a release already waiting.
    gates: resolveGates(deps.environments, req.env, { rollback: req.trigger === 'rollback' }),
    autoPromote: autoPromotionsFrom(deps.environments, req.env),
    ...links,
  };
  // Read before starting: a release already known (running, or ended well) is answered as existing.
  const before = await getRelease(deps.db, workflowId);
  const existing = before !== null && (req.once || !NOT_RELEASED.has(before.status));
  // Recorded before the start: an automatic promotion of this release may run as soon as it succeeds, and it acts
  // with these rights. A request that only joins a release already running leaves its principal alone.
  if (!existing) await recordReleasePrincipal(deps.db, workflowId, req.actor);
  // Recorded before the start, so no preview directory can exist that a branch deletion would not know of.
  if (envFile.preview) {
    await recordPreview(deps.db, {
      env: req.env, app, repository: artifact.version.repositoryName, branch: artifact.version.branch ?? '', sourceApp: envFile.app,
      artifactId: artifact.id, releaseId: workflowId, createdBy: req.actor.id,
    });
  }
  let runId: string;
  try {
    const handle = await deps.temporal.workflow.start<typeof releaseWorkflow>('releaseWorkflow', {
      workflowId,
      taskQueue: deps.taskQueue,
      args: [input],
      // A CI retry while the release runs joins it; a release whose run failed (failed, timed out, rejected,
      // expired) may run again; one that succeeded is answered as existing.
      workflowIdConflictPolicy: 'USE_EXISTING',
      workflowIdReusePolicy: req.once ? 'REJECT_DUPLICATE' : 'ALLOW_DUPLICATE_FAILED_ONLY',
      typedSearchAttributes: [
        { key: FERRY_APP, value: input.app },
        { key: FERRY_ENV, value: input.env },
        { key: FERRY_ARTIFACT_ID, value: input.artifactId },
        { key: FERRY_SHA, value: input.sha },
        { key: FERRY_BRANCH, value: input.branch },
        { key: FERRY_STATUS, value: 'pending' },
      ],
      staticSummary: `${input.app} → ${input.env}: ${input.artifactId}`,
      ...(deps.eagerStart ? { requestEagerStart: true } : {}),
    });
    runId = handle.firstExecutionRunId;
    deps.onStarted?.(handle.eagerlyStarted);
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    const row = await getRelease(deps.db, workflowId);
    return { id: workflowId, workflowId, status: row?.status ?? 'pending', existing: true, ...links };
  }

  // The workflow records its own state too; this row only lets GET answer before the first activity ran.
  const now = new Date().toISOString();
  const pending: ReleaseState = {
    id: workflowId, app: input.app, env: input.env, artifactId: input.artifactId, sha: input.sha, branch: input.branch,
    trigger: input.trigger, releasedBy: input.releasedBy, status: 'pending', gitopsCommit: null, fluxStatus: null,
    error: null, timeline: [], createdAt: now, updatedAt: now, runId, seq: 0,
    rollbackOf: req.rollbackOf ?? null, promotedFrom: req.promotedFrom ?? null,
  };
  await recordReleaseState(deps.db, pending);
  const row = await getRelease(deps.db, workflowId);
  return { id: workflowId, workflowId, status: row?.status ?? 'pending', existing, ...links };
}
