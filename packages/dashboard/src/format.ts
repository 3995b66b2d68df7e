// Pure formatting and date logic of the dashboard (unit-tested in format.test.ts): numbers,
// durations, changes against the previous period, and the calendar ranges the API takes.

const intFormat = new Intl.NumberFormat('en-US');

export const fmtInt = (n: number): string => intFormat.format(Math.round(n));

/** A rate in [0, 1] as a percentage with one decimal. */
export const fmtPct = (rate: number): string => `${(rate * 100).toFixed(1)}%`;

/** Seconds as a short human duration: 45s, 3m 20s, 1h 05m, 2d 3h. */
export function fmtDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '—';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h ${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

/** A latency in milliseconds: 0.42 ms, 8.3 ms, 120 ms, 2.4 s; `—` for none. */
export function fmtMs(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms) || ms < 0) return '—';
  if (ms < 1) return `${ms.toFixed(2)} ms`;
  if (ms < 10) return `${ms.toFixed(1)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
}

/** The gap before an event in a timeline: +0.4s, +12s, +3m 20s; null for the first event. */
export function fmtGap(ms: number | null): string {
  if (ms === null) return 'start';
  if (ms < 10_000) return `+${(ms / 1000).toFixed(1)}s`;
  return `+${fmtDuration(ms / 1000)}`;
}

export type Trend = 'up' | 'down' | 'flat';

export interface Change {
  text: string;
  trend: Trend;
  /** Whether the change is good news (fewer bounces and errors are; more sessions are). */
  good: boolean | null;
}

/**
 * Change of a metric against the previous period. Counts and durations change relatively (+12%);
 * rates change in percentage points (+1.5 pp), because a relative change of a rate misleads.
 */
export function change(current: number, previous: number, kind: 'count' | 'rate', higherIsBetter = true): Change {
  let delta: number;
  let text: string;
  if (kind === 'rate') {
    delta = (current - previous) * 100;
    text = `${delta >= 0 ? '+' : '−'}${Math.abs(delta).toFixed(1)} pp`;
    if (Math.abs(delta) < 0.05) return { text: '±0 pp', trend: 'flat', good: null };
  } else {
    if (previous === 0)
      return current === 0
        ? { text: '±0%', trend: 'flat', good: null }
        : { text: 'new', trend: 'up', good: higherIsBetter };
    delta = ((current - previous) / previous) * 100;
    if (Math.abs(delta) < 0.5) return { text: '±0%', trend: 'flat', good: null };
    text = `${delta >= 0 ? '+' : '−'}${Math.abs(delta).toFixed(Math.abs(delta) < 10 ? 1 : 0)}%`;
  }
  const trend: Trend = delta > 0 ? 'up' : 'down';
  return { text, trend, good: (trend === 'up') === higherIsBetter };
}

// ---- dates: YYYY-MM-DD calendar dates in the project's time zone

const DATE = /^\d{4}-\d{2}-\d{2}$/;
export const isDate = (s: string | null | undefined): s is string =>
  !!s && DATE.test(s) && !Number.isNaN(Date.parse(s));

/** Today's date in a time zone. */
export function todayIn(timeZone: string, now = Date.now()): string {
  try {
    return new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(
      now,
    );
  } catch {
    return new Date(now).toISOString().slice(0, 10);
  }
}

export function addDays(date: string, days: number): string {
  const t = Date.parse(`${date}T00:00:00Z`) + days * 86_400_000;
  return new Date(t).toISOString().slice(0, 10);
}

/** Days from `from` to `to`, both included. */
export const daysIn = (r: DateRange): number =>
  Math.round((Date.parse(`${r.to}T00:00:00Z`) - Date.parse(`${r.from}T00:00:00Z`)) / 86_400_000) + 1;

export type RangeKey = 'today' | '7d' | '30d' | 'custom';
export const RANGE_KEYS: readonly RangeKey[] = ['today', '7d', '30d', 'custom'];

export interface DateRange {
  from: string;
  to: string;
}

/** The inclusive dates of a range; a custom range falls back to 30 days when its dates are bad. */
export function rangeDates(key: RangeKey, today: string, custom?: Partial<DateRange>): DateRange {
  switch (key) {
    case 'today':
      return { from: today, to: today };
    case '7d':
      return { from: addDays(today, -6), to: today };
    case 'custom':
      if (isDate(custom?.from) && isDate(custom?.to) && custom.from <= custom.to) {
        return { from: custom.from, to: custom.to };
      }
      return { from: addDays(today, -29), to: today };
    default:
      return { from: addDays(today, -29), to: today };
  }
}

/** The period of the same length just before a range (what the cards compare against). */
export function previousRange(r: DateRange): DateRange {
  const n = daysIn(r);
  return { from: addDays(r.from, -n), to: addDays(r.from, -1) };
}

/** Every date of a range, oldest first. */
export function datesOf(r: DateRange): string[] {
  const out: string[] = [];
  for (let d = r.from; d <= r.to && out.length < 3660; d = addDays(d, 1)) out.push(d);
  return out;
}

// ---- places

let regionNames: Intl.DisplayNames | null = null;
/** 'DE' → 'Germany', falling back to the code. */
export function countryName(code: string | null | undefined): string {
  if (!code) return 'Unknown';
  try {
    regionNames ??= new Intl.DisplayNames(['en'], { type: 'region' });
    return regionNames.of(code) ?? code;
  } catch {
    return code;
  }
}

/** Weeks the retention table shows: at least 8 (a short range says little), at most 12 (its width). */
export const RETENTION_WEEKS = { min: 8, max: 12 } as const;

/** The dates of the Users view's retention table: the range, widened or cut to whole weeks that end with it. */
export function retentionWindow(r: DateRange): DateRange {
  const days = daysIn(r);
  const want = Math.min(Math.max(days, RETENTION_WEEKS.min * 7), RETENTION_WEEKS.max * 7);
  return { from: addDays(r.to, -(want - 1)), to: r.to };
}
