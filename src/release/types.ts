import type { ClusterVerdict } from '../reconcile/verdicts';

/** Every status a release passes through. */
export const RELEASE_STATUSES = [
  'pending',
  /** Waiting for its turn: an earlier release of the same app to the same env holds the lane. */
  'queued',
  'rendering',
  'awaiting-approval',
  /** Inside a freeze window; waits for it to end unless overridden as a hotfix. */
  'frozen',
  'committing',
  'committed',
  'reconciling',
  'succeeded',
  'failed',
  'timed-out',
  'rejected',
  'expired',
  'superseded',
] as const;
export type ReleaseStatus = (typeof RELEASE_STATUSES)[number];

export const FINAL_STATUSES: ReadonlySet<ReleaseStatus> = new Set(['succeeded', 'failed', 'timed-out', 'rejected', 'expired', 'superseded']);
/** Where Flux is not awaited (FERRY_AWAIT_FLUX=false), `committed` is also a successful end. */
export const isFinal = (s: ReleaseStatus, awaitFlux = true): boolean => FINAL_STATUSES.has(s) || (!awaitFlux && s === 'committed');

export type ReleaseTrigger = 'manual' | 'auto' | 'promote' | 'rollback';

/** A person's (or Ferry's) decision about a release. */
export type DecisionKind = 'approve' | 'reject' | 'hotfix' | 'approvals-bypassed';
export type DecisionChannel = 'api' | 'temporal';

export interface Decision {
  kind: DecisionKind;
  by: string;
  at: string;
  comment?: string;
  /** How the decision arrived: Ferry's API, or Temporal directly (an Update or signal from its CLI or UI). */
  channel?: DecisionChannel;
}

export interface TimelineEntry {
  status: ReleaseStatus;
  at: string;
  message?: string;
  /** Set on entries that record a decision: who made it. */
  by?: string;
  decision?: DecisionKind;
  /** Set on entries that record a decision sent as a Temporal signal and refused (the message says why). */
  refused?: boolean;
}

/** What a release is waiting for right now, so people know whom to ask. */
export type Waiting =
  | { kind: 'lane'; lane: string; ahead: number }
  | { kind: 'approval'; required: number; approvers: string[]; fourEyes: boolean; deadline: string }
  | { kind: 'freeze'; window: string; until: string | null; hotfixAllowed: string[]; freezeId?: string; reason?: string; by?: string };

/** What the workflow knows about its release; mirrored into PostgreSQL after every change. */
export interface ReleaseState {
  id: string;
  app: string;
  env: string;
  artifactId: string;
  sha: string;
  branch: string;
  trigger: ReleaseTrigger;
  releasedBy: string;
  status: ReleaseStatus;
  gitopsCommit: string | null;
  fluxStatus: string | null;
  /** Flux's final word: `succeeded`, `failed` (not applied) or `unhealthy` (applied, health checks failed). */
  fluxOutcome?: 'succeeded' | 'failed' | 'unhealthy' | null;
  /** One verdict per cluster of the environment (issue 6). */
  clusters?: Record<string, ClusterVerdict> | null;
  error: string | null;
  timeline: TimelineEntry[];
  createdAt: string;
  updatedAt: string;
  /** The Temporal run that owns this state; a rerun of a failed release has a new one. */
  runId: string | null;
  /** Increases with every change, so a late retry of an older write never overwrites a newer state. */
  seq: number;
  /** Approvals, rejections, hotfix overrides: who, when, why. */
  decisions?: Decision[];
  waiting?: Waiting | null;
  /** Rollbacks: the release being rolled back (what ran before this one). */
  rollbackOf?: string | null;
  /** Promotions: the release in the previous environment whose artifact this one promotes. */
  promotedFrom?: string | null;
  /** When the release reached its final status. */
  finishedAt?: string | null;
}

/** One release per app, env and artifact; a suffix allows deliberate redeploys of the same artifact. */
export function releaseWorkflowId(app: string, env: string, artifactId: string, suffix?: string): string {
  return `release:${app}:${env}:${artifactId}${suffix ? `:${suffix}` : ''}`;
}

/** The ordering lane of one app in one env: releases pass it one at a time. */
export function laneWorkflowId(app: string, env: string): string {
  return `lane:${app}:${env}`;
}
