import {
  type AnalyticsOptions,
  addDays,
  addTotals,
  COUNT_DIMS,
  type CountDim,
  computeDays,
  type DayRollup,
  DEFAULT_BOUNCE,
  dayStart,
  EVENT_DIMS,
  emptyTotals,
  localDate,
  localDatesOfUtcDay,
  type Project,
  type RangeTotals,
} from '@sessiontrack/core';
import { SQL_DIMS } from './live-sql.js';
import type { Store } from './store.js';

// The read path and the rollup job of the stats routes, written once over the Store interface.
//
// Read path: closed days (before today in the project's time zone) that have a stored rollup are
// read from it; every other day of the range (today, and days not rolled up yet) is computed live
// from the raw rows with the same core function the rollup job uses. So an answer is the same
// whether or not, and whenever, the rollup job ran — the property test in conformance/analytics.case.test.ts checks it.
//
// Rollup job: per project, the days whose dirty mark is newer than their rollup (minus a margin
// for marks skipped by a process's one-minute cache and transactions in flight on other
// instances) are recomputed from raw rows and replaced; today is not rolled up (it is live).

export function analyticsOptions(project: Project): AnalyticsOptions {
  return {
    timeZone: project.timeZone,
    bounceSeconds: project.bounceSeconds ?? DEFAULT_BOUNCE.bounceSeconds,
    bounceMaxActions: project.bounceMaxActions ?? DEFAULT_BOUNCE.bounceMaxActions,
  };
}

export interface RangeQuery {
  /** Inclusive calendar dates in the project's time zone. */
  fromDate: string;
  toDate: string;
  /** Count dimensions summed over the range. */
  dims?: readonly CountDim[];
  /** Count dimensions wanted per day (in `days`). */
  dayDims?: readonly CountDim[];
  /** Count distinct users over the range (costs one query over the rollups' user lists). */
  users?: boolean;
}

export interface RangeResult {
  /** Every date of the range, oldest first; `users` is empty for days read from rollups. */
  days: DayRollup[];
  totals: RangeTotals;
  uniqueUsers: number;
  /** How many days came from stored rollups (the rest were computed live). */
  rolledDays: number;
}

export async function loadRange(store: Store, project: Project, q: RangeQuery, now: number): Promise<RangeResult> {
  const dims = q.dims ?? [];
  const dayDims = q.dayDims ?? [];
  const today = localDate(now, project.timeZone);
  const closedTo = q.toDate < today ? q.toDate : addDays(today, -1);
  const stored = q.fromDate <= closedTo ? await store.readRollups(project.id, q.fromDate, closedTo, dayDims) : [];
  const rolled = new Map(stored.map((r) => [r.rollup.date, r.rollup]));

  // Live days: the session-level numbers in SQL (live-sql.ts), per day; the dimensions that need
  // per-session logic (heatmap cell, action pairs, workflows) from raw rows through core.
  const wanted = [...new Set([...dims, ...dayDims])];
  const live: DayRollup[] = [];
  for (let d = q.fromDate; d <= q.toDate; d = addDays(d, 1)) {
    if (!rolled.has(d)) live.push(await computeDay(store, project, d, now, wanted));
  }

  const totals = emptyTotals();
  const liveUsers = new Set<string>();
  for (const day of live) {
    addTotals(totals, day, dims);
    for (const u of day.users) liveUsers.add(u);
  }
  const rolledDates = [...rolled.keys()];
  for (const r of rolled.values()) addTotals(totals, { ...r, counts: {} });
  for (const dim of dims) {
    const counts = await store.sumRollupCounts(project.id, rolledDates, dim);
    addTotals(totals, { ...emptyTotals(), counts: { [dim]: counts } }, [dim]);
  }
  let uniqueUsers = 0;
  if (q.users) {
    // The rolled days' distinct users change only with their rollups: the newest computedAt
    // versions the store's cache of that count.
    const version = Math.max(0, ...stored.map((r) => r.computedAt));
    uniqueUsers =
      rolledDates.length === 0
        ? liveUsers.size
        : await store.countRollupUsers(project.id, rolledDates, [...liveUsers], version);
  }
  const days = [...rolled.values(), ...live].sort((a, b) => (a.date < b.date ? -1 : 1));
  return { days, totals, uniqueUsers, rolledDays: rolled.size };
}

/**
 * One day from raw rows, the way both the read path (days without a rollup) and the rollup job
 * compute it: the session-level numbers in SQL (live-sql.ts), the dimensions that need per-session
 * logic (heatmap cell, action pairs, workflows) through core's computeDays.
 */
export async function computeDay(
  store: Store,
  project: Project,
  date: string,
  now: number,
  dims: readonly CountDim[],
): Promise<DayRollup> {
  const opts = analyticsOptions(project);
  const from = dayStart(date, project.timeZone);
  const to = dayStart(addDays(date, 1), project.timeZone);
  const day = await store.liveDay({
    projectId: project.id,
    from,
    to,
    now,
    bounceMs: opts.bounceSeconds * 1000,
    bounceMaxActions: opts.bounceMaxActions,
    dims: dims.filter((d) => SQL_DIMS.has(d)),
  });
  const jsDims = dims.filter((d) => !SQL_DIMS.has(d));
  if (jsDims.length > 0 && day.sessions > 0) {
    const rows = await store.analyticsRows(
      project.id,
      from,
      to,
      jsDims.some((d) => EVENT_DIMS.has(d)),
    );
    const [js] = computeDays(rows.sessions, rows.events, date, date, opts, now);
    for (const dim of jsDims) if (js?.counts[dim]) day.counts[dim] = js.counts[dim];
  }
  return { ...day, date, uniqueUsers: day.users.length };
}

export interface RollupRun {
  project: string;
  /** Days recomputed and stored. */
  days: string[];
  ms: number;
}

/** Marks older than a rollup by less than this are treated as possibly unseen by it. */
export const DEFAULT_ROLLUP_MARGIN_MS = 5 * 60_000;

/**
 * Recomputes and stores the rollups of a project's closed days that changed since their last
 * rollup. Idempotent; run it under `store.runExclusive('rollup', …)` so one instance does it.
 */
export async function rollupProject(
  store: Store,
  project: Project,
  now: number,
  options: { marginMs?: number; onDay?: (date: string, ms: number) => void } = {},
): Promise<RollupRun> {
  const started = performance.now();
  const margin = options.marginMs ?? DEFAULT_ROLLUP_MARGIN_MS;
  const today = localDate(now, project.timeZone);
  const marks = await store.rollupDirty(project.id);
  // The latest mark per local date.
  const markedAt = new Map<string, number>();
  for (const m of marks) {
    for (const d of localDatesOfUtcDay(m.utcDay, project.timeZone)) {
      if (d < today) markedAt.set(d, Math.max(markedAt.get(d) ?? 0, m.markedAt));
    }
  }
  const dates = [...markedAt.keys()].sort();
  const done: string[] = [];
  if (dates.length === 0) return { project: project.id, days: done, ms: performance.now() - started };
  const existing = new Map(
    (await store.readRollups(project.id, dates[0] as string, dates[dates.length - 1] as string, [])).map((r) => [
      r.rollup.date,
      r.computedAt,
    ]),
  );
  // Raw rows of days past retention may be partly deleted: their stored rollup is final.
  const frozenBefore = localDate(now - project.retentionDays * 86_400_000, project.timeZone);
  for (const date of dates) {
    const computedAt = existing.get(date);
    const mark = markedAt.get(date) ?? 0;
    if (computedAt !== undefined && (mark < computedAt - margin || date < frozenBefore)) continue;
    const t = performance.now();
    // Taken before the rows are read: a write committed after the read has a later mark.
    const wall = Date.now();
    await store.writeRollup(project.id, await computeDay(store, project, date, now, COUNT_DIMS), wall);
    done.push(date);
    options.onDay?.(date, performance.now() - t);
  }
  return { project: project.id, days: done, ms: performance.now() - started };
}

/** `rollupProject` for every project. */
export async function rollupAll(
  store: Store,
  now: number,
  options: { marginMs?: number; onDay?: (date: string, ms: number) => void } = {},
): Promise<RollupRun[]> {
  const out: RollupRun[] = [];
  for (const p of await store.listProjects()) out.push(await rollupProject(store, p, now, options));
  return out;
}
