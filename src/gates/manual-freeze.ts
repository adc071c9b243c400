/**
 * The freeze gate's answer when people have stopped the line: their freezes come before configured windows, because
 * they carry a reason and a name to ask. Pure, so the API and the activity answer alike.
 */
import type { FreezeState } from './types';

export interface HoldingFreeze {
  id: string;
  env: string | null;
  reason: string;
  createdBy: string;
  until: string | null;
}

/** How often a release held by a manual freeze looks again when no "lifted" signal reached it. */
export const DEFAULT_FREEZE_RECHECK_MS = 5 * 60_000;

export function manualFreezeState(holding: HoldingFreeze[], windows: FreezeState, recheckMs = DEFAULT_FREEZE_RECHECK_MS): FreezeState {
  const first = holding[0];
  if (!first) return windows;
  // The line stays stopped until the last of the freezes holding it ends; one without an end holds until lifted.
  const until = holding.some((f) => f.until === null) ? null : new Date(Math.max(...holding.map((f) => Date.parse(f.until!)))).toISOString();
  return {
    frozen: true,
    window: `freeze ${first.id}${first.env === null ? ' (all environments)' : ''}`,
    until,
    freezeId: first.id,
    reason: first.reason,
    by: first.createdBy,
    recheckMs,
  };
}
