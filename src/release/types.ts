import type { ClusterVerdict } from '../reconcile/verdicts';

/** Every status a release passes through; the last four end it. */
export const RELEASE_STATUSES = [
  'pending',
  'rendering',
  'committing',
  'committed',
  'reconciling',
  'succeeded',
  'failed',
  'timed-out',
] as const;
export type ReleaseStatus = (typeof RELEASE_STATUSES)[number];

export const FINAL_STATUSES: ReadonlySet<ReleaseStatus> = new Set(['succeeded', 'failed', 'timed-out']);
/** Where Flux is not awaited (FERRY_AWAIT_FLUX=false), `committed` is also a successful end. */
export const isFinal = (s: ReleaseStatus, awaitFlux = true): boolean => FINAL_STATUSES.has(s) || (!awaitFlux && s === 'committed');

export type ReleaseTrigger = 'manual' | 'auto' | 'promote' | 'rollback';

export interface TimelineEntry {
  status: ReleaseStatus;
  at: string;
  message?: string;
}

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
}

/** One release per app, env and artifact; a suffix allows deliberate redeploys of the same artifact. */
export function releaseWorkflowId(app: string, env: string, artifactId: string, suffix?: string): string {
  return `release:${app}:${env}:${artifactId}${suffix ? `:${suffix}` : ''}`;
}
