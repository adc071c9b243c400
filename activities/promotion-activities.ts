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

export function createPromotionActivities(deps: { promote?: Promoter }) {
  return {
    async promoteArtifact(req: PromotionRequest): Promise<PromotionOutcome> {
      if (!deps.promote) throw ApplicationFailure.nonRetryable('this worker cannot start promotions', 'PromotionUnavailable');
      return deps.promote(req);
    },
  };
}

export type PromotionActivities = ReturnType<typeof createPromotionActivities>;
