import type { MaintenanceStore } from '@sessiontrack/store';
import type { Logger } from 'pino';
import { type Clock, DAY_MS } from '../clock.js';

// Runs the background jobs of jobs/background.ts: each on its own schedule, under its lock, with
// one place that catches and logs a failure. The next run of a job is scheduled when the last
// one has finished, so a slow run never overlaps the next one.

export interface Job {
  /** For the logs: '<name> failed; will retry'. */
  name: string;
  /**
   * The job lock (`store.runExclusive`): with several instances on one PostgreSQL, at most one runs
   * the job at a time (advisory lock `sessiontrack:<lock>`). null: work in this process's memory.
   */
  lock: string | null;
  /** Milliseconds from `now` until the next run; null: the job never runs. */
  next: (now: number) => number | null;
  run: (now: number) => Promise<void> | void;
}

export interface JobContext {
  store: Pick<MaintenanceStore, 'runExclusive'>;
  logger: Logger;
  now: Clock;
}

/** Every `ms`; 0 (or less): never. */
export const every =
  (ms: number) =>
  (_now: number): number | null =>
    ms > 0 ? ms : null;

/** Daily at `hhmm` UTC. */
export const dailyAtUtc =
  (hhmm: string) =>
  (now: number): number =>
    msUntilUtc(hhmm, now);

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

/** One run of a job: under its lock, a failure logged (and the next run scheduled as usual). */
export async function runJob(job: Job, ctx: JobContext): Promise<void> {
  try {
    if (job.lock === null) await job.run(ctx.now());
    else await ctx.store.runExclusive(job.lock, async () => job.run(ctx.now()));
  } catch (err) {
    ctx.logger.warn({ err: (err as Error).message }, `${job.name} failed; will retry`);
  }
}

/** Starts every job; `stop` clears their timers (a run in progress finishes by itself). */
export function startJobs(jobs: readonly Job[], ctx: JobContext): { stop(): void } {
  const timers = new Set<NodeJS.Timeout>();
  let stopped = false;
  const schedule = (job: Job) => {
    const wait = job.next(ctx.now());
    if (stopped || wait === null) return;
    const timer = setTimeout(() => {
      timers.delete(timer);
      void runJob(job, ctx).finally(() => schedule(job));
    }, wait);
    // The jobs never keep the process alive: it exits when the server has closed.
    timer.unref();
    timers.add(timer);
  };
  for (const job of jobs) schedule(job);
  return {
    stop() {
      stopped = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
    },
  };
}
