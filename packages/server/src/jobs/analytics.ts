import type { Project } from '@sessiontrack/core';
import {
  type AggregateStore,
  type CleanupResult,
  type MaintenanceStore,
  type RollupRun,
  rollupProject,
} from '@sessiontrack/store';
import { DAY_MS } from '../clock.js';

// The analytics work behind the rollup and retention jobs (jobs/background.ts), the CLI's
// `rollup` and `cleanup`, and the admin cleanup and import routes.

/** Rebuilds the marked days of `projects` (the rollup job), without the job lock (the caller holds it). */
export async function rollupProjects(
  store: AggregateStore,
  projects: readonly Project[],
  now: number,
  onRun?: (run: RollupRun) => void,
): Promise<RollupRun[]> {
  const runs: RollupRun[] = [];
  for (const p of projects) {
    const run = await rollupProject(store, p, now);
    runs.push(run);
    onRun?.(run);
  }
  return runs;
}

/** `rollupProjects` under the rollup lock; null when another instance holds it. */
export async function runRollup(
  store: AggregateStore & Pick<MaintenanceStore, 'runExclusive'>,
  projects: readonly Project[],
  now: number,
  onRun?: (run: RollupRun) => void,
): Promise<RollupRun[] | null> {
  let runs: RollupRun[] = [];
  const ran = await store.runExclusive('rollup', async () => {
    runs = await rollupProjects(store, projects, now, onRun);
  });
  return ran ? runs : null;
}

export interface RetentionResult extends CleanupResult {
  project: string;
  /** Events of sessions still kept (long-lived ones) that were past retention. */
  deletedOldEvents: number;
}

/**
 * Retention of one project: first the rollup job (days still marked for a rebuild are rebuilt
 * while their raw rows are all there), then sessions inactive for longer than `days` with their
 * events (the store sweeps expired ones first, so their end figures count; the aggregates keep
 * every count), then any remaining events received before that (sessions that are still live,
 * e.g. month-long MCP sessions; their facets are kept with them). Everything is deleted in
 * chunks, so ingest never waits long for the single writer.
 */
export async function retainProject(
  store: AggregateStore & MaintenanceStore,
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
