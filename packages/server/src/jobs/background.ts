import type { Store } from '@sessiontrack/store';
import type { Logger } from 'pino';
import { HOUR_MS, MINUTE_MS } from '../clock.js';
import type { Projects } from '../projects.js';
import type { RateLimiter } from '../rate-limit.js';
import { retainProject, rollupProjects } from './analytics.js';
import { dailyAtUtc, every, type Job } from './runner.js';

// The background jobs of a running server (docs/operations.md "Background jobs"). Every instance
// runs them; a job with a lock runs on one instance at a time when several share a PostgreSQL.

export interface BackgroundJobOptions {
  sweepIntervalMs: number;
  /** 0: never. */
  rollupIntervalMs: number;
  /** Daily retention at this UTC time, HH:MM. */
  retentionAt: string;
  /** Instead of daily: run retention every this many ms (tests). */
  retentionIntervalMs?: number | undefined;
  ipRateLimitPerMinute: number;
}

export function backgroundJobs(
  d: { store: Store; projects: Projects; limiter: RateLimiter; logger: Logger },
  o: BackgroundJobOptions,
): Job[] {
  const { store, projects, limiter, logger } = d;
  return [
    // Expiry is a rule every answer applies; the sweeper only writes it down.
    {
      name: 'sweeper',
      lock: 'sweeper',
      next: every(o.sweepIntervalMs),
      async run(now) {
        const n = await store.sweepExpired(now);
        if (n > 0) logger.info({ ended: n }, 'sweeper ended idle sessions');
      },
    },
    // Rebuilds of the days marked for it (after an upgrade; the writers keep the aggregates themselves).
    {
      name: 'rollup',
      lock: 'rollup',
      next: every(o.rollupIntervalMs),
      async run(now) {
        await rollupProjects(store, projects.list(), now, (run) => {
          if (run.days.length > 0) {
            logger.info({ project: run.project, days: run.days.length, ms: Math.round(run.ms) }, 'rebuilt marked days');
          }
        });
      },
    },
    // Per project: rebuild marked days, then delete raw sessions and events older than its
    // retentionDays, in chunks; the aggregates stay (jobs/analytics.ts).
    {
      name: 'retention',
      lock: 'retention',
      next: o.retentionIntervalMs === undefined ? dailyAtUtc(o.retentionAt) : every(o.retentionIntervalMs),
      async run(now) {
        for (const p of projects.list()) {
          const r = await retainProject(store, p, now, p.retentionDays);
          if (r.deletedSessions + r.deletedEvents + r.deletedOldEvents > 0) {
            logger.info(r, 'retention deleted raw data');
          }
        }
      },
    },
    // MCP agent state: expired entries are invisible already; this frees their rows (and orphans').
    {
      name: 'agent state purge',
      lock: 'agent-state',
      next: every(HOUR_MS),
      async run(now) {
        const n = await store.purgeAgentState(now);
        if (n > 0) logger.info({ deleted: n }, 'purged expired agent state');
      },
    },
    // Rate-limit buckets that have refilled hold no information; this process's memory only.
    {
      name: 'limiter pruning',
      lock: null,
      next: every(MINUTE_MS),
      run(now) {
        limiter.prune(now, (key) =>
          key.startsWith('ip:')
            ? o.ipRateLimitPerMinute
            : (projects.byId(key.slice('project:'.length))?.rateLimitPerMinute ?? 0),
        );
      },
    },
  ];
}
