/**
 * Freeze windows evaluated against an instant. Recurring windows are wall-clock times in an IANA time zone, so a
 * "Friday 16:00 to Monday 08:00" freeze keeps its local hours across daylight-saving changes. This runs in
 * activities and the API (it needs Intl's time-zone data), never inside workflow code: a tzdata update between a
 * run and its replay must not change a recorded decision.
 */
import type { FreezeState, FreezeWindow } from './types';

export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
const DAY = 86_400;
const WEEK = 7 * DAY;

const formatters = new Map<string, Intl.DateTimeFormat>();
function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone, hourCycle: 'h23', weekday: 'short', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

export function isValidTimeZone(tz: string): boolean {
  try {
    formatter(tz);
    return true;
  } catch {
    return false;
  }
}

interface Wall {
  /** The wall-clock time read as if it were UTC, in ms: lets us do calendar arithmetic without a zone. */
  naive: number;
  /** 0 = Monday. */
  weekday: number;
}

function wallClock(instant: number, timeZone: string): Wall {
  const parts: Record<string, string> = {};
  for (const p of formatter(timeZone).formatToParts(new Date(instant))) parts[p.type] = p.value;
  const naive = Date.UTC(Number(parts.year), Number(parts.month) - 1, Number(parts.day), Number(parts.hour), Number(parts.minute), Number(parts.second));
  return { naive, weekday: WEEKDAYS.indexOf(parts.weekday.toLowerCase().slice(0, 3) as (typeof WEEKDAYS)[number]) };
}

/** The instant a wall-clock time (given as `naive` ms) happens in `timeZone`; in a DST gap, the later reading. */
export function wallToInstant(naive: number, timeZone: string): number {
  const offset = (at: number) => wallClock(at, timeZone).naive - Math.floor(at / 1000) * 1000;
  let guess = naive - offset(naive);
  guess = naive - offset(guess);
  return guess;
}

/** "16:00" or "16:00:30" → seconds after midnight. */
export function clockSeconds(s: string): number {
  const m = /^(\d{2}):(\d{2})(?::(\d{2}))?$/.exec(s.trim());
  if (!m) throw new Error(`"${s}" is not a time of day (HH:MM)`);
  const [h, min, sec] = [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)];
  if (h > 23 || min > 59 || sec > 59) throw new Error(`"${s}" is not a time of day (HH:MM)`);
  return h * 3600 + min * 60 + sec;
}

/** "fri 16:00" → seconds after Monday 00:00. */
export function weekSeconds(s: string): number {
  const m = /^([a-z]{3})[a-z]*\s+(\S+)$/i.exec(s.trim());
  const day = m ? WEEKDAYS.indexOf(m[1].toLowerCase() as (typeof WEEKDAYS)[number]) : -1;
  if (!m || day < 0) throw new Error(`"${s}" is not a weekday and time such as "fri 16:00"`);
  return day * DAY + clockSeconds(m[2]);
}

const HAS_OFFSET = /(Z|[+-]\d{2}:?\d{2})$/i;
const LOCAL_DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2}))?)?$/;

/** An ISO date-time with an offset is absolute; without one it is a wall-clock time in `timeZone`. */
export function parseInstant(s: string, timeZone: string): number {
  if (HAS_OFFSET.test(s)) {
    const t = Date.parse(s);
    if (Number.isNaN(t)) throw new Error(`"${s}" is not an ISO date-time`);
    return t;
  }
  const m = LOCAL_DATE_TIME.exec(s.trim());
  if (!m) throw new Error(`"${s}" is not an ISO date-time such as 2026-12-20T00:00 or 2026-12-20T00:00:00Z`);
  const [y, mo, d, h, mi, sec] = [1, 2, 3, 4, 5, 6].map((i) => Number(m[i] ?? 0));
  const naive = Date.UTC(y, mo - 1, d, h, mi, sec);
  // Date.UTC rolls 2026-02-30 over into March; a freeze date that does not exist is a typo.
  const back = new Date(naive);
  if (back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d || h > 23 || mi > 59 || sec > 59) throw new Error(`"${s}" is not a valid date-time`);
  return wallToInstant(naive, timeZone);
}

/** Start and end (ms) of the occurrence of `w` that contains `at`, or null when `at` is outside the window. */
export function occurrenceAt(w: FreezeWindow, at: number): { start: number; end: number } | null {
  if (w.from !== undefined && w.to !== undefined && !w.weekly && !w.daily) {
    const start = parseInstant(w.from, w.timeZone);
    const end = parseInstant(w.to, w.timeZone);
    return at >= start && at < end ? { start, end } : null;
  }
  const periodic = w.weekly ? { period: WEEK, from: weekSeconds(w.weekly.from), to: weekSeconds(w.weekly.to) } : w.daily ? { period: DAY, from: clockSeconds(w.daily.from), to: clockSeconds(w.daily.to) } : null;
  if (!periodic) return null;
  const { period, from, to } = periodic;
  const wall = wallClock(at, w.timeZone);
  const secondOfDay = Math.floor((wall.naive % (DAY * 1000)) / 1000);
  const pos = (period === WEEK ? wall.weekday * DAY : 0) + secondOfDay;
  const inside = from < to ? pos >= from && pos < to : pos >= from || pos < to;
  if (!inside) return null;
  const sinceStart = (pos - from + period) % period;
  const untilEnd = (to - pos + period) % period;
  return { start: wallToInstant(wall.naive - sinceStart * 1000, w.timeZone), end: wallToInstant(wall.naive + untilEnd * 1000, w.timeZone) };
}

/**
 * Whether `at` is inside a freeze, and until when. Windows that overlap or touch are one freeze: the answer is the
 * end of the whole frozen stretch, named after the window that holds `at`.
 */
export function freezeStateAt(windows: FreezeWindow[], at: number): FreezeState {
  let cursor = at;
  let first: string | undefined;
  for (let i = 0; i < 100; i++) {
    let end = cursor;
    for (const w of windows) {
      const o = occurrenceAt(w, cursor);
      if (o && o.end > end) {
        end = o.end;
        first ??= w.name;
      }
    }
    if (end === cursor) break;
    cursor = end;
  }
  return first === undefined ? { frozen: false } : { frozen: true, window: first, until: new Date(cursor).toISOString() };
}
