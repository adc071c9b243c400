import type { FerryClient } from './client';
import { CliError, EXIT } from './errors';
import { duration, type Output, short } from './output';

export interface ReleaseView {
  id: string;
  app: string;
  env: string;
  artifactId: string;
  status: string;
  gitopsCommit: string | null;
  fluxStatus: string | null;
  error: string | null;
  timeline: Array<{ status: string; at: string; message?: string }>;
  releasedBy?: string;
  createdAt?: string;
  final?: boolean;
  [k: string]: unknown;
}

// As src/release/types.ts FINAL_STATUSES; only a fallback for servers whose releases carry no `final`.
const FINAL = new Set(['succeeded', 'failed', 'timed-out', 'rejected', 'expired', 'superseded']);
export const isFinalRelease = (r: ReleaseView) => r.final ?? FINAL.has(r.status);
export const releaseSucceeded = (r: ReleaseView) => r.status === 'succeeded' || (r.final === true && r.status === 'committed');

export function parseDuration(text: string, flag = 'timeout'): number {
  const m = /^(\d+)(ms|s|m|h)$/.exec(text);
  if (!m) throw new CliError(`--${flag} must be a duration such as 90s, 10m or 1h`, EXIT.usage);
  return Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
}

function describeStep(e: { status: string; message?: string }): string {
  if (e.status === 'committed') {
    const sha = /[0-9a-f]{40}/.exec(e.message ?? '')?.[0];
    return sha ? `committed as ${short(sha)}` : `committed${e.message ? `: ${e.message}` : ''}`;
  }
  return e.message ? `${e.status}: ${e.message}` : e.status;
}

/**
 * Follows a release: one line per state change (and per Flux status), a spinner line on terminals, then a summary.
 * Returns the final release; throws when the release did not succeed or `timeoutMs` passed.
 */
export async function followRelease(client: FerryClient, id: string, out: Output, opts: { timeoutMs: number; intervalMs?: number }): Promise<ReleaseView> {
  const started = Date.now();
  const deadline = started + opts.timeoutMs;
  const interval = opts.intervalMs ?? 1000;
  let shown = 0;
  let flux: string | null = null;
  let misses = 0;
  let last: ReleaseView | undefined;
  try {
    for (;;) {
      let r: ReleaseView;
      try {
        r = await client.get<ReleaseView>(`/api/releases/${encodeURIComponent(id)}`);
        misses = 0;
      } catch (err) {
        // A restarting server or a blip in the network should not abort a 15-minute wait.
        const unreachable = err instanceof CliError && ((err.details as { unreachable?: boolean })?.unreachable || ((err.details as { status?: number })?.status ?? 0) >= 502);
        if (!unreachable || ++misses > 10 || Date.now() > deadline) throw err;
        await sleep(Math.min(interval * 2 ** misses, 10_000));
        continue;
      }
      last = r;
      const final = isFinalRelease(r);
      for (const e of r.timeline.slice(shown)) {
        if (FINAL.has(e.status)) continue;
        out.line(`  ${describeStep(e)}`);
      }
      shown = r.timeline.length;
      if (r.fluxStatus && r.fluxStatus !== flux && r.fluxStatus !== 'no event') {
        flux = r.fluxStatus;
        out.line(`  Flux: ${r.fluxStatus}`);
      }
      if (final) break;
      out.progress(`${r.status} ${r.app} → ${r.env} (${duration(Date.now() - started)})`);
      if (Date.now() + interval > deadline) {
        throw new CliError(`release ${id} is still ${r.status} after ${duration(opts.timeoutMs)}; keep following it with: ferry watch ${id}`, EXIT.waitTimeout, { release: r });
      }
      await sleep(interval);
    }
  } finally {
    out.stop();
  }
  const r = last as ReleaseView;
  const took = duration(Date.now() - Date.parse(r.createdAt ?? new Date(started).toISOString()));
  if (releaseSucceeded(r)) {
    const at = r.gitopsCommit ? ` at ${short(r.gitopsCommit)}` : '';
    out.line(`✓ ${r.app} → ${r.env}: ${r.status}${at}${r.fluxStatus && r.fluxStatus !== 'no event' ? ` (Flux: ${r.fluxStatus})` : ''} in ${took}`);
    return r;
  }
  out.line(`✗ ${r.app} → ${r.env}: ${r.status} after ${took}`);
  throw new CliError(`release ${r.id} ${r.status}: ${r.error ?? 'no reason given'}`, EXIT.releaseFailed, { release: r });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
