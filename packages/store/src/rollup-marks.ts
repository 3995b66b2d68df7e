import type { Session } from '@sessiontrack/core';

// Days to rebuild (the rollup_dirty table): migration 6 marks every day that has raw rows, and
// `markRollupDirty` marks the days of sessions written by other means than the store's writers.
// The writers themselves keep the aggregates and mark nothing (docs/metrics.md). UTC days, not the
// project's local days: the rollup job maps a UTC day to the one or two local days it overlaps.

const DAY_MS = 86_400_000;

export interface DirtyMark {
  projectId: string;
  utcDay: number;
}

/** The (project, UTC day of start) pairs of these sessions, once each, sorted. */
export function dirtyMarks(sessions: Iterable<Pick<Session, 'projectId' | 'startedAt'>>): DirtyMark[] {
  const out = new Map<string, DirtyMark>();
  for (const s of sessions) {
    const utcDay = Math.floor(s.startedAt / DAY_MS);
    out.set(`${s.projectId}\u0000${utcDay}`, { projectId: s.projectId, utcDay });
  }
  // Sorted: PostgreSQL writers lock the rows in one order and never deadlock on them.
  return [...out.values()].sort((a, b) =>
    a.projectId < b.projectId ? -1 : a.projectId > b.projectId ? 1 : a.utcDay - b.utcDay,
  );
}
