import type { Project } from '@sessiontrack/core';
import { type CleanupResult, type RollupRun, rollupProject, type Store } from '@sessiontrack/store';

// The analytics background jobs, shared by the server's timers, the CLI and the admin route.
// Both run under a job lock (one instance at a time on a shared PostgreSQL).

const DAY_MS = 24 * 60 * 60 * 1000;

/** Rolls up the changed closed days of `projects`; false when another instance holds the lock. */
export async function runRollup(
  store: Store,
  projects: readonly Project[],
  now: number,
  onRun?: (run: RollupRun) => void,
): Promise<RollupRun[] | null> {
  const runs: RollupRun[] = [];
  const ran = await store.runExclusive('rollup', async () => {
    for (const p of projects) {
      const run = await rollupProject(store, p, now);
      runs.push(run);
      onRun?.(run);
    }
  });
  return ran ? runs : null;
}

export interface RetentionResult extends CleanupResult {
  project: string;
  /** Events of sessions still kept (long-lived ones) that were past retention. */
  deletedOldEvents: number;
}

/**
 * Retention of one project: first the rollup (so the days about to lose raw rows are in the
 * rollups), then sessions inactive for longer than `days` with their events, then any remaining
 * events received before that (sessions that are still live, e.g. month-long MCP sessions).
 * Everything is deleted in chunks, so ingest never waits long for the single writer.
 */
export async function retainProject(
  store: Store,
  project: Project,
  now: number,
  days: number,
): Promise<RetentionResult> {
  await store.runExclusive('rollup', async () => {
    await rollupProject(store, project, now);
  });
  const before = now - days * DAY_MS;
  const r = await store.cleanup(project.id, before);
  const deletedOldEvents = await store.deleteEventsBefore(before, project.id);
  return { project: project.id, ...r, deletedOldEvents };
}

/** Milliseconds from `now` until the next `HH:MM` UTC (at least 1 s). */
export function msUntilUtc(hhmm: string, now: number): number {
  const m = /^(\d{2}):(\d{2})$/.exec(hhmm);
  const h = Number(m?.[1]);
  const min = Number(m?.[2]);
  if (!m || h > 23 || min > 59) throw new RangeError(`expected HH:MM (UTC), got '${hhmm}'`);
  const d = new Date(now);
  d.setUTCHours(h, min, 0, 0);
  let at = d.getTime();
  if (at <= now) at += DAY_MS;
  return Math.max(1000, at - now);
}
