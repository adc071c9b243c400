import { ApplicationFailure } from '@temporalio/activity';

export interface PromotionRequest {
  app: string;
  env: string;
  /** Refuse unless this artifact is still the one running in the source environment. */
  expectArtifactId: string;
  by: string;
}

export type PromotionOutcome = { ok: true; releaseId: string } | { ok: false; reason: string };

/** Starts a promotion with every check POST /api/promote makes; injected by the server (activities do not import api/). */
export type Promoter = (req: PromotionRequest) => Promise<PromotionOutcome>;

export interface RollbackRequest {
  app: string;
  env: string;
  /** The release that failed; refused unless it is still the newest committed release of app/env. */
  failedReleaseId: string;
  by: string;
}

export type RollbackOutcome = { ok: true; releaseId: string; artifactId: string; existing: boolean } | { ok: false; reason: string };

/** Starts a rollback the way POST /api/rollback does (default target: the last other artifact that succeeded). */
export type Rollbacker = (req: RollbackRequest) => Promise<RollbackOutcome>;

export function createPromotionActivities(deps: { promote?: Promoter; rollback?: Rollbacker }) {
  return {
    async promoteArtifact(req: PromotionRequest): Promise<PromotionOutcome> {
      if (!deps.promote) throw ApplicationFailure.nonRetryable('this worker cannot start promotions', 'PromotionUnavailable');
      return deps.promote(req);
    },
    async rollbackRelease(req: RollbackRequest): Promise<RollbackOutcome> {
      if (!deps.rollback) throw ApplicationFailure.nonRetryable('this worker cannot start rollbacks', 'RollbackUnavailable');
      return deps.rollback(req);
    },
  };
}

export type PromotionActivities = ReturnType<typeof createPromotionActivities>;
