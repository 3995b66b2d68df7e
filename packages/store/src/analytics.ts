import {
  addDays,
  addTotals,
  type CountDim,
  type DayRollup,
  emptyTotals,
  localDate,
  localDatesOfUtcDay,
  type Project,
  type RangeTotals,
  type SessionKind,
} from '@sessiontrack/core';
import type { AggregateStore, ProjectStore } from './store.js';

// The read path and the rebuild of the stats routes, written once over the store's aggregate port.
//
// Read path: every day — closed or today — is read from the aggregates the store maintains in the
// transactions that change sessions (docs/metrics.md, "When a number is final"), so an answer
// costs days × distinct values, never sessions or events.
//
// Rebuild: recomputes days from raw rows and corrects the stored aggregates to match (after a bug
// fix, an import of raw rows from elsewhere, a definition change, or an upgrade from rollups that
// did not maintain themselves). The rollup job rebuilds the days marked for it (rollup_dirty);
// `sessiontrack rollup --rebuild` any range.

/** Moved to core (the store's writers need it too); still exported here for existing callers. */
export { analyticsOptions } from '@sessiontrack/core';

export interface RangeQuery {
  /** Inclusive calendar dates in the project's time zone. */
  fromDate: string;
  toDate: string;
  /** Count dimensions summed over the range. */
  dims?: readonly CountDim[];
  /** Count dimensions wanted per day (in `days`). */
  dayDims?: readonly CountDim[];
  /** Count distinct users, over the range and per day (one query over days × days). */
  users?: boolean;
  /** Sessions of this kind only (default: all kinds). */
  kind?: SessionKind | undefined;
}

export interface RangeResult {
  /** Every date of the range, oldest first (their `users` lists are not loaded: always empty). */
  days: DayRollup[];
  totals: RangeTotals;
  /** Distinct users over the range (0 unless `users`). */
  uniqueUsers: number;
}

/** A range's answer from the aggregates: a handful of queries, run concurrently. */
export async function loadRange(
  store: AggregateStore,
  project: Project,
  q: RangeQuery,
  _now?: number,
): Promise<RangeResult> {
  const dims = q.dims ?? [];
  const dayDims = q.dayDims ?? [];
  const [stored, sums, users] = await Promise.all([
    store.readRollups(project.id, q.fromDate, q.toDate, dayDims, q.kind),
    Promise.all(dims.map((dim) => store.sumRollupCounts(project.id, q.fromDate, q.toDate, dim, q.kind))),
    q.users || dayDims.length > 0 ? store.uniqueUsers(project.id, q.fromDate, q.toDate, q.kind) : null,
  ]);
  const byDate = new Map(stored.map((r) => [r.rollup.date, r.rollup]));
  const days: DayRollup[] = [];
  const totals = emptyTotals();
  for (let d = q.fromDate; d <= q.toDate; d = addDays(d, 1)) {
    const day = byDate.get(d) ?? { date: d, ...emptyTotals(), uniqueUsers: 0, users: [], counts: {} };
    day.uniqueUsers = users?.days[d] ?? 0;
    for (const dim of dayDims) day.counts[dim] ??= {};
    days.push(day);
    addTotals(totals, { ...day, counts: {} });
  }
  dims.forEach((dim, i) => {
    totals.counts[dim] = sums[i] ?? {};
  });
  return { days, totals, uniqueUsers: q.users ? (users?.range ?? 0) : 0 };
}

export interface RollupRun {
  project: string;
  /** Days rebuilt. */
  days: string[];
  ms: number;
}

export interface RebuildOptions {
  /** Called after each day (for progress output). */
  onDay?: (date: string, ms: number) => void;
}

/**
 * Rebuilds the days [fromDate, toDate] of a project from raw rows. Days whose raw rows may be past
 * retention are skipped (their aggregates are all that is left). Each day is one transaction.
 */
export async function rebuildRange(
  store: AggregateStore,
  project: Project,
  fromDate: string,
  toDate: string,
  now: number,
  options: RebuildOptions = {},
): Promise<RollupRun> {
  const started = performance.now();
  const frozenBefore = localDate(now - project.retentionDays * 86_400_000, project.timeZone);
  const done: string[] = [];
  for (let d = fromDate < frozenBefore ? frozenBefore : fromDate; d <= toDate; d = addDays(d, 1)) {
    const t = performance.now();
    await store.rebuildDay(project, d, Date.now());
    done.push(d);
    options.onDay?.(d, performance.now() - t);
  }
  return { project: project.id, days: done, ms: performance.now() - started };
}

/**
 * The rollup job: rebuilds the days marked for rebuilding (an upgrade from the rollups of before
 * migration 6, `markRollupDirty`), then clears the marks it saw. Idempotent; run it under
 * `store.runExclusive('rollup', …)` so one instance does it. `marginMs` is kept for callers of the
 * old job and no longer used: marks are no longer written by commits.
 */
export async function rollupProject(
  store: AggregateStore,
  project: Project,
  now: number,
  options: RebuildOptions & { marginMs?: number } = {},
): Promise<RollupRun> {
  const started = performance.now();
  const marks = await store.rollupDirty(project.id);
  const frozenBefore = localDate(now - project.retentionDays * 86_400_000, project.timeZone);
  const dates = new Set<string>();
  for (const m of marks) for (const d of localDatesOfUtcDay(m.utcDay, project.timeZone)) dates.add(d);
  const done: string[] = [];
  for (const d of [...dates].sort()) {
    if (d < frozenBefore) continue;
    const t = performance.now();
    await store.rebuildDay(project, d, Date.now());
    done.push(d);
    options.onDay?.(d, performance.now() - t);
  }
  await store.clearRollupDirty(project.id, marks);
  return { project: project.id, days: done, ms: performance.now() - started };
}

/** `rollupProject` for every project. */
export async function rollupAll(
  store: AggregateStore & ProjectStore,
  now: number,
  options: RebuildOptions & { marginMs?: number } = {},
): Promise<RollupRun[]> {
  const out: RollupRun[] = [];
  for (const p of await store.listProjects()) out.push(await rollupProject(store, p, now, options));
  return out;
}
