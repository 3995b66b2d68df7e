// Calendar days in a project's IANA time zone, with no library: the offsets come from
// Intl.DateTimeFormat, so daylight-saving changes are whatever the platform's tz database says.
// Pure: the caller passes `now`.

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;
const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;

const formatters = new Map<string, Intl.DateTimeFormat>();

/** One cached formatter per zone; an unknown zone throws the platform's RangeError. */
function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      era: 'short',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** Epoch ms of a UTC wall-clock time; unlike Date.UTC, years 0-99 are not moved to 19xx. */
function utc(year: number, month: number, day: number, hour = 0, minute = 0, second = 0): number {
  const d = new Date(0);
  d.setUTCFullYear(year, month - 1, day);
  d.setUTCHours(hour, minute, second, 0);
  return d.getTime();
}

interface Wall {
  year: number;
  month: number;
  day: number;
  /** The wall-clock time read as if it were UTC, in epoch ms (whole seconds). */
  asUtc: number;
}

function wallClock(epochMs: number, timeZone: string): Wall {
  const fields: Record<string, string> = {};
  for (const p of formatter(timeZone).formatToParts(epochMs)) fields[p.type] = p.value;
  const yearOfEra = Number(fields.year);
  // Years before 1 CE come as "BC"; astronomical numbering makes 1 BC year 0.
  const year = fields.era === 'BC' || fields.era === 'B' ? 1 - yearOfEra : yearOfEra;
  const month = Number(fields.month);
  const day = Number(fields.day);
  const asUtc = utc(year, month, day, Number(fields.hour), Number(fields.minute), Number(fields.second));
  return { year, month, day, asUtc };
}

/** The zone's offset from UTC at an instant, in ms (local = UTC + offset). */
function offsetAt(epochMs: number, timeZone: string): number {
  const whole = epochMs - (((epochMs % 1000) + 1000) % 1000);
  return wallClock(whole, timeZone).asUtc - whole;
}

function parseDate(date: string): { year: number; month: number; day: number } {
  const m = DATE_RE.exec(date);
  if (m) {
    const year = Number(m[1]);
    const month = Number(m[2]);
    const day = Number(m[3]);
    const check = new Date(utc(year, month, day));
    if (check.getUTCFullYear() === year && check.getUTCMonth() === month - 1 && check.getUTCDate() === day) {
      return { year, month, day };
    }
  }
  throw new RangeError(`not a calendar date (YYYY-MM-DD): ${JSON.stringify(date)}`);
}

function formatDate(year: number, month: number, day: number): string {
  const y = year < 0 ? `-${String(-year).padStart(6, '0')}` : String(year).padStart(4, '0');
  return `${y}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`;
}

/** A calendar date `days` later (or earlier, when negative). */
export function addDays(date: string, days: number): string {
  const { year, month, day } = parseDate(date);
  const d = new Date(utc(year, month, day) + days * DAY);
  return formatDate(d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate());
}

/** The calendar date (YYYY-MM-DD) of an instant in a time zone. */
export function localDate(epochMs: number, timeZone: string): string {
  const w = wallClock(epochMs, timeZone);
  return formatDate(w.year, w.month, w.day);
}

/**
 * Epoch ms of the first instant of a calendar date in a time zone: local midnight, or the earlier
 * one when midnight happens twice (clocks set back at midnight), or the end of the gap when
 * midnight is skipped (clocks set forward at midnight, as in Santiago or, once, Beirut).
 */
export function dayStart(date: string, timeZone: string): number {
  const { year, month, day } = parseDate(date);
  const wall = utc(year, month, day);
  // The offsets a day either side; a zone changes its offset at most once in that window.
  const before = offsetAt(wall - DAY, timeZone);
  const after = offsetAt(wall + DAY, timeZone);
  const candidates = [wall - before, wall - after].filter((t) => t + offsetAt(t, timeZone) === wall);
  if (candidates.length > 0) return Math.min(...candidates);
  // Midnight was skipped: the day starts at the transition, which lies between the two readings
  // of midnight. Find it by bisection on whole seconds (tz data has no finer transitions).
  let lo = Math.min(wall - before, wall - after); // still on the old offset
  let hi = Math.max(wall - before, wall - after); // already on the new one
  while (hi - lo > 1000) {
    const mid = lo + Math.floor((hi - lo) / 2000) * 1000;
    if (offsetAt(mid, timeZone) === before) lo = mid;
    else hi = mid;
  }
  return hi;
}

/**
 * A half-open range of instants [start of `from`, start of the day after `to`) for inclusive
 * calendar dates in a time zone. Without `to`: today. Without `from`: the `defaultDays` days that
 * end with `to` (so without either, the last `defaultDays` days, today included). Throws a
 * RangeError for a malformed date, an unknown zone, or `from` after `to`.
 */
export function dateRange(
  q: { from?: string | null; to?: string | null },
  timeZone: string,
  now: number,
  defaultDays = 30,
): { from: number; to: number } {
  if (!Number.isInteger(defaultDays) || defaultDays < 1) {
    throw new RangeError(`defaultDays must be a positive integer, got ${defaultDays}`);
  }
  const to = q.to ?? localDate(now, timeZone);
  const from = q.from ?? addDays(to, -(defaultDays - 1));
  const start = dayStart(from, timeZone);
  const end = dayStart(addDays(to, 1), timeZone);
  // Compare the dates, not the instants: a date a zone skipped (Apia, 2011-12-30) is an empty range.
  if (from > to) throw new RangeError(`from (${from}) is after to (${to})`);
  return { from: start, to: end };
}

/** Weekday (0 = Monday … 6 = Sunday) and hour (0-23) of an instant in a time zone. */
export function localWeekdayHour(epochMs: number, timeZone: string): { weekday: number; hour: number } {
  const w = wallClock(epochMs, timeZone);
  const d = new Date(w.asUtc);
  return { weekday: (d.getUTCDay() + 6) % 7, hour: d.getUTCHours() };
}

/**
 * A fast local clock for one zone, for loops over many instants (analytics, and every batch's
 * aggregates): the zone's offset is looked up once per quarter hour and reused when it is the same
 * at both ends of that quarter (tz offsets change at most once in 15 minutes); otherwise the
 * instant is looked up exactly. When that offset is a whole number of quarter hours (every zone's
 * today), the quarter lies within one local hour, so its answer is made once and shared (frozen).
 */
export function zoneClock(timeZone: string): (epochMs: number) => Readonly<LocalTime> {
  const QUARTER = 15 * MINUTE;
  const quarters = new Map<number, { offset: number | null; local: Readonly<LocalTime> | null }>();
  const at = (epochMs: number, offset: number): LocalTime => {
    const d = new Date(epochMs + offset);
    return {
      date: formatDate(d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate()),
      weekday: (d.getUTCDay() + 6) % 7,
      hour: d.getUTCHours(),
    };
  };
  return (epochMs) => {
    const q = Math.floor(epochMs / QUARTER);
    let known = quarters.get(q);
    if (known === undefined) {
      const a = offsetAt(q * QUARTER, timeZone);
      const offset = a === offsetAt(q * QUARTER + QUARTER - 1000, timeZone) ? a : null;
      const whole = offset !== null && offset % QUARTER === 0;
      known = { offset, local: whole ? Object.freeze(at(q * QUARTER, offset)) : null };
      if (quarters.size > 100_000) quarters.clear();
      quarters.set(q, known);
    }
    return known.local ?? at(epochMs, known.offset ?? offsetAt(epochMs, timeZone));
  };
}

/** A local calendar day, weekday (0 = Monday) and hour. */
export interface LocalTime {
  date: string;
  weekday: number;
  hour: number;
}
