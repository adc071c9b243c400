import { z } from 'zod';

// A leaf module: the config-file schemas use it too, and src/config.ts imports them, so it cannot live there.

/** Durations as Temporal and humans write them: 90s, 15m, 2h, 1d. */
export const DurationSchema = z.string().regex(/^\d+(ms|s|m|h|d)$/, 'must be a duration such as 30s, 15m or 2h');

/** A DurationSchema string in milliseconds. */
export function durationMs(d: string): number {
  const m = /^(\d+)(ms|s|m|h|d)$/.exec(d);
  if (!m) throw new Error(`not a duration: ${d}`);
  const unit = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'ms' | 's' | 'm' | 'h' | 'd'];
  return Number(m[1]) * unit;
}
