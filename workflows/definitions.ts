// Names shared by the workflows, the workers and the API. Wire names are an API: never rename them.
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { Principal } from '../src/auth/roles';
import type { AutoPromotion, FreezeState, FreezeWindow, Ordering, ReleaseGates } from '../src/gates/types';
import type { ReleaseReconcileSettings } from '../src/reconcile/config';
import type { ClusterVerdict } from '../src/reconcile/verdicts';
import type { Decision, ReleaseState, ReleaseStatus } from '../src/release/types';

export const FERRY_APP = defineSearchAttributeKey('FerryApp', SearchAttributeType.KEYWORD);
export const FERRY_ENV = defineSearchAttributeKey('FerryEnv', SearchAttributeType.KEYWORD);
export const FERRY_ARTIFACT_ID = defineSearchAttributeKey('FerryArtifactId', SearchAttributeType.KEYWORD);
export const FERRY_SHA = defineSearchAttributeKey('FerrySha', SearchAttributeType.KEYWORD);
export const FERRY_BRANCH = defineSearchAttributeKey('FerryBranch', SearchAttributeType.KEYWORD);
export const FERRY_STATUS = defineSearchAttributeKey('FerryStatus', SearchAttributeType.KEYWORD);
export const FERRY_SEARCH_ATTRIBUTES = [FERRY_APP, FERRY_ENV, FERRY_ARTIFACT_ID, FERRY_SHA, FERRY_BRANCH, FERRY_STATUS];

/** What the release is, as its state will say, and how to run it. */
export interface ReleaseInput extends Pick<ReleaseState, 'app' | 'env' | 'artifactId' | 'sha' | 'branch' | 'trigger' | 'releasedBy'> {
  /** Becomes the state's `id`. */
  releaseId: string;
  /** Task queue of the single GitOps writer. */
  writerTaskQueue: string;
  awaitFlux: boolean;
  /** How long to wait for Flux before ending timed-out, e.g. '15m'. */
  fluxTimeout: string;
  /** Clusters to await, polling, notification target ids (issue 6); absent means any cluster, no targets. */
  reconcile?: ReleaseReconcileSettings;
  /** The environment's gates, resolved when the release started; absent means ungated, queue ordering. */
  gates?: ReleaseGates;
  /** Environments that promote from this one automatically once this release succeeds. */
  autoPromote?: AutoPromotion[];
  /** Rollbacks: the release being rolled back; becomes the Ferry-Rollback-Of trailer. */
  rollbackOf?: string;
  /** Promotions: the release in the previous environment. */
  promotedFrom?: string;
  /** The stable id of the principal behind the release (four-eyes compares it), e.g. `token-owner:alice`. */
  releasedById?: string;
  /** That principal's name as approver lists spell it (the pusher of an auto-release, not "auto-release"). */
  releasedByName?: string;
}

/** A Flux verdict about a commit that is this release's commit or one of its descendants (per cluster). */
export type FluxVerdict = ClusterVerdict;

export interface FluxEventInput {
  eventId: string;
}

export const releaseStateQuery = defineQuery<ReleaseState>('releaseState');
export const fluxVerdictSignal = defineSignal<[FluxVerdict]>('fluxVerdict');

export interface ArtifactWorkflowInput {
  artifactId: string;
}

export interface BranchCleanupInput {
  repository: string;
  branch: string;
  requestedBy: string;
  /** Whose rights the cleanup has (the caller's principal); without one, nothing is removed. */
  actor?: Principal;
  /** Task queue of the single GitOps writer. */
  writerTaskQueue: string;
}

export interface AppRemovalInput {
  env: string;
  app: string;
  requestedBy: string;
  /** Task queue of the single GitOps writer. */
  writerTaskQueue: string;
}

/** Removals of one app from one env run one at a time; a later delete runs again (and finds nothing to remove). */
export const appRemovalWorkflowId = (env: string, app: string) => `app-removal:${env}:${app}`;

/** One artifact workflow per artifact, ever. */
export const artifactWorkflowId = (artifactId: string) => `artifact:${artifactId}`;
// --- Gates: approvals and hotfix overrides, as Updates so a refusal reaches the caller at once ---

export interface DecisionRequest {
  /** The principal deciding, as approver lists name it (the API passes the caller's name). */
  by: string;
  /** The deciding principal's stable id (the API always passes it); four-eyes compares it with the release's. */
  byId?: string;
  comment?: string;
  /**
   * Set only by Ferry's API. A decision without it came through Temporal itself (its CLI or UI) and is recorded and
   * shown as such ("bob (via Temporal)"): whoever can reach Temporal can decide, so docs/operations.md says how to
   * keep that to the people who may.
   */
  channel?: 'api';
}

export interface DecisionResult {
  id: string;
  status: ReleaseStatus;
  /** Where the gate stands after this decision. */
  decision: 'pending' | 'approved' | 'rejected' | 'overridden';
  approvals: Array<{ by: string; at: string; comment?: string }>;
  decisions: Decision[];
}

/** ApplicationFailure types a refused decision carries; the API maps them to 403, 409 and 422. */
export const DECISION_REFUSALS = { notAllowed: 'NotAllowed', notWaiting: 'NotWaiting', invalid: 'InvalidDecision' } as const;

export const approveUpdate = defineUpdate<DecisionResult, [DecisionRequest]>('approve');
export const rejectUpdate = defineUpdate<DecisionResult, [DecisionRequest]>('reject');
export const overrideFreezeUpdate = defineUpdate<DecisionResult, [DecisionRequest]>('overrideFreeze');
/**
 * The same decisions as signals, for clients that signal (`temporal workflow signal --name approve`). Validated like
 * the Updates; a refused one cannot answer its sender, so it is recorded in the release's timeline as refused.
 */
export const approveSignal = defineSignal<[DecisionRequest]>('approve');
export const rejectSignal = defineSignal<[DecisionRequest]>('reject');

export interface CheckFreezeInput {
  windows: FreezeWindow[];
  at: string;
  /** Also look for freezes people started for this environment (or all); absent in histories from before those. */
  env?: string;
}

/** API → frozen release: a manual freeze was lifted; look again at once instead of at the next recheck. */
export const freezeLiftedSignal = defineSignal<[{ freezeId: string }]>('freezeLifted');

/** One workflow per manual freeze: tells the notification targets when it starts and when it ends. */
export interface FreezeNoticeInput {
  freezeId: string;
  env: string | null;
  reason: string;
  by: string;
  createdAt: string;
  until: string | null;
  /** Notification target ids (no secrets) of the environments it freezes. */
  targets: string[];
}
export const freezeNoticeWorkflowId = (freezeId: string) => `freeze:${freezeId}`;
/** API → freeze workflow: lifted by `by`. */
export const freezeEndSignal = defineSignal<[{ by: string; at: string }]>('freezeEnd');
export type { FreezeState };

// --- Ordering lanes: one entity workflow per app and env passes releases one at a time ---

export interface LaneTicket {
  releaseId: string;
  runId: string;
  ordering: Ordering;
}

export interface LaneEntry extends LaneTicket {
  since: string;
}

export interface LaneJoinResult {
  /** True when the lane was free: the release may go on without waiting for a grant. */
  granted: boolean;
  /** Releases ahead of this one, the holder included. */
  ahead: number;
}

export type LaneMessage = { kind: 'grant' | 'supersede'; to: LaneEntry; by?: string };

/** Plain JSON: carried across continue-as-new. */
export interface LaneState {
  holder: LaneEntry | null;
  queue: LaneEntry[];
  /** Signals decided but not yet sent. */
  outbox: LaneMessage[];
  /** `releaseId@runId` of recent leavers, so a late duplicate join is not mistaken for a new one. */
  left: string[];
  /** Releases the lane has passed, over all runs. */
  granted: number;
}

export interface LaneInput {
  app: string;
  env: string;
  /** Events handled before continuing as new (keeps history short). */
  eventsPerRun?: number;
  /** How long the lane waits quietly before checking that its holder still runs. */
  holderCheck?: string;
  state?: LaneState;
}

export const laneEnqueueUpdate = defineUpdate<LaneJoinResult, [LaneTicket]>('enqueue');
export const laneLeaveSignal = defineSignal<[{ releaseId: string; runId: string }]>('leave');
export const laneStateQuery = defineQuery<LaneState>('laneState');
/** Lane → release: your turn. */
export const laneGrantSignal = defineSignal<[{ lane: string }]>('laneGrant');
/** Lane → release: a newer release arrived under `supersede`; end unless already committing. */
export const laneSupersedeSignal = defineSignal<[{ by: string }]>('laneSupersede');

// --- Auto-promotion ---

export interface AutoPromoteInput {
  app: string;
  fromEnv: string;
  env: string;
  artifactId: string;
  sourceReleaseId: string;
  soak?: string;
}

export interface AutoPromoteResult {
  promoted: boolean;
  releaseId?: string;
  reason?: string;
}

/** Started once by a release that failed in reconciliation in an environment with `autoRollback`. */
export interface AutoRollbackInput {
  app: string;
  env: string;
  failedReleaseId: string;
}

export interface AutoRollbackResult {
  rolledBack: boolean;
  releaseId?: string;
  artifactId?: string;
  reason?: string;
}

/** One automatic rollback per failed release, ever: the id is what makes it happen exactly once. */
export const autoRollbackWorkflowId = (releaseId: string) => `auto-rollback:${releaseId}`;
export const AUTO_ROLLBACK_BY = 'ferry:auto-rollback';
