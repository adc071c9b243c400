// Plain-JSON shapes of the gates a release passes. They travel in workflow inputs, so: no Date, Map or classes.

export type Ordering = 'queue' | 'supersede';

/**
 * A freeze window. Exactly one form is set: `weekly` ("fri 16:00" → "mon 08:00"), `daily` ("22:00" → "06:00"), or a
 * one-off `from`/`to` (ISO date-times; without an offset they are wall-clock times in `timeZone`).
 */
export interface FreezeWindow {
  name: string;
  timeZone: string;
  weekly?: { from: string; to: string };
  daily?: { from: string; to: string };
  from?: string;
  to?: string;
}

export interface ApprovalRule {
  /** Distinct approvers needed. */
  required: number;
  /** Principal names allowed to approve or reject. */
  approvers: string[];
  /** The person who requested the release may not approve it. */
  fourEyes: boolean;
  /** How long a release waits for approvals before it ends `expired`. */
  timeout: string;
}

/** What the release workflow enforces for one release, resolved by the API from the environment config. */
export interface ReleaseGates {
  approvals?: ApprovalRule;
  /** Set (with the reason) when this release may skip its environment's approvals, e.g. an allowed rollback. */
  approvalsBypassed?: string;
  freezes: FreezeWindow[];
  /** Principals who may override a freeze as a hotfix. */
  hotfixAllowed: string[];
  ordering: Ordering;
}

/** An environment that promotes automatically from the one a release succeeded in. */
export interface AutoPromotion {
  env: string;
  /** Time the artifact must run successfully in the source environment first. */
  soak?: string;
}

/**
 * Whether a release may pass the freeze gate now. A freeze a person started (`freezeId`) carries the reason and who
 * started it, may have no end (`until` null: until lifted), and is looked at again every `recheckMs` in case the
 * signal that it was lifted is lost.
 */
export type FreezeState =
  | { frozen: false }
  | { frozen: true; window: string; until: string | null; freezeId?: string; reason?: string; by?: string; recheckMs?: number };
