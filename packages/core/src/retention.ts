import { addDays } from './time.js';

// Retention cohorts (docs/metrics.md, "Retention"): identified users grouped by the period of
// their first session ever, and how many of each cohort had a session k periods later. Pure: the
// store hands over user-days (a user's active local dates, from the maintained per-day users), so
// the cost is user-days, never sessions or events.

export const RETENTION_PERIODS = ['day', 'week'] as const;
export type RetentionPeriod = (typeof RETENTION_PERIODS)[number];

export interface RetentionCohort {
  /** The period's first day (YYYY-MM-DD, the project's zone): the day itself, or the week's Monday. */
  cohort: string;
  /** Users whose first session ever fell in this period. */
  users: number;
  /** retained[k]: how many of them had a session k periods later (retained[0] = users). */
  retained: number[];
}

export interface Retention {
  period: RetentionPeriod;
  cohorts: RetentionCohort[];
}

/** One active day of a user (local date in the project's zone). */
export interface UserDay {
  user: string;
  day: string;
}

const DAY_MS = 86_400_000;
const dayNumber = (date: string): number => Math.round(Date.parse(`${date}T00:00:00Z`) / DAY_MS);

/** The first day of the period holding `date`: the date itself, or the Monday of its ISO week. */
export function periodStart(date: string, period: RetentionPeriod): string {
  if (period === 'day') return date;
  // 1970-01-01 was a Thursday: day number + 3 is 0 on Mondays (mod 7).
  const weekday = (((dayNumber(date) + 3) % 7) + 7) % 7;
  return addDays(date, -weekday);
}

/** Whole periods between two period starts. */
const periodsBetween = (a: string, b: string, period: RetentionPeriod): number =>
  Math.round((dayNumber(b) - dayNumber(a)) / (period === 'day' ? 1 : 7));

/**
 * The range a retention answer covers: widened to whole periods, from the start of `fromDate`'s
 * period to `toDate` (a week in progress counts up to its last day so far).
 */
export function retentionRange(fromDate: string, toDate: string, period: RetentionPeriod) {
  return { start: periodStart(fromDate, period), end: toDate };
}

/**
 * Cohorts of the periods from `fromDate`'s to `toDate`'s, every period listed (empty ones with 0
 * users), each with `retained` up to the last period. `days` are the active days in the range of
 * users with no session before the range's start (the store leaves out the others): a user's
 * first day among them is their first session ever.
 */
export function retentionOf(
  days: Iterable<UserDay>,
  fromDate: string,
  toDate: string,
  period: RetentionPeriod,
): Retention {
  const { start, end } = retentionRange(fromDate, toDate, period);
  const count = periodsBetween(start, periodStart(end, period), period) + 1;
  // Per user, the set of period indexes with a session; the lowest is the cohort.
  const perUser = new Map<string, Set<number>>();
  // Period index per distinct day: days are few (the range's), user-days many.
  const indexOf = new Map<string, number>();
  for (const { user, day } of days) {
    if (day < start || day > end) continue;
    let i = indexOf.get(day);
    if (i === undefined) {
      i = periodsBetween(start, periodStart(day, period), period);
      indexOf.set(day, i);
    }
    let s = perUser.get(user);
    if (!s) {
      s = new Set();
      perUser.set(user, s);
    }
    s.add(i);
  }
  const cohorts: RetentionCohort[] = [];
  for (let i = 0; i < count; i++) {
    cohorts.push({
      cohort: addDays(start, i * (period === 'day' ? 1 : 7)),
      users: 0,
      retained: new Array(count - i).fill(0),
    });
  }
  for (const periods of perUser.values()) {
    let first = Number.POSITIVE_INFINITY;
    for (const i of periods) if (i < first) first = i;
    const c = cohorts[first];
    if (!c) continue;
    c.users++;
    for (const i of periods) c.retained[i - first] = (c.retained[i - first] ?? 0) + 1;
  }
  return { period, cohorts };
}
