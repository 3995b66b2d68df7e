import type { Session } from '@sessiontrack/core';

// Which rollup days a write touched, kept cheap for the hot path. A session belongs to the day it
// started, so a batch dirties the (project, UTC day of start) of every session it inserts or
// changes. UTC days, not the project's local days: no time-zone arithmetic per session here; the
// rollup job maps a UTC day to the one or two local days it overlaps.
//
// One small upsert per batch of the pairs not already marked by this process within `windowMs`
// (usually none: today is marked once a minute). Marks carry the wall-clock time; the rollup job
// recomputes a day when a mark is newer than the day's rollup minus a margin that covers this
// window and transactions still in flight (packages/store/src/analytics.ts).

export const DAY_MS = 86_400_000;

export interface DirtyMark {
  projectId: string;
  utcDay: number;
}

export class RecentMarks {
  readonly #recent = new Map<string, number>();
  readonly #windowMs: number;

  constructor(windowMs = 60_000) {
    this.#windowMs = windowMs;
  }

  /** The pairs of these sessions that need writing now (not marked within the window). */
  pending(sessions: Iterable<Pick<Session, 'projectId' | 'startedAt'>>, wall: number): DirtyMark[] {
    const out = new Map<string, DirtyMark>();
    for (const s of sessions) {
      const utcDay = Math.floor(s.startedAt / DAY_MS);
      const k = `${s.projectId}\u0000${utcDay}`;
      if (out.has(k)) continue;
      const at = this.#recent.get(k);
      if (at !== undefined && wall - at < this.#windowMs) continue;
      out.set(k, { projectId: s.projectId, utcDay });
    }
    // Sorted: PostgreSQL writers lock the rows in one order and never deadlock on them.
    return [...out.values()].sort((a, b) =>
      a.projectId < b.projectId ? -1 : a.projectId > b.projectId ? 1 : a.utcDay - b.utcDay,
    );
  }

  /** After the transaction that wrote `marks` committed. */
  committed(marks: readonly DirtyMark[], wall: number): void {
    for (const m of marks) this.#recent.set(`${m.projectId}\u0000${m.utcDay}`, wall);
    if (this.#recent.size > 10_000) this.#recent.clear();
  }

  /** The rollup job read the marks: from now on every write marks again (exact in one process). */
  clear(): void {
    this.#recent.clear();
  }
}
