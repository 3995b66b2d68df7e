import {
  activityOf,
  addDays,
  breakdownOf,
  breakdownQuery,
  countriesOf,
  countriesQuery,
  dailyOf,
  dateRange,
  durationsOf,
  eventsToWire,
  exitsOf,
  localDate,
  PATH_DIMS,
  PATTERN_SESSIONS,
  type Project,
  pathsOf,
  pathsQuery,
  type Session,
  type SessionKind,
  sessionToWire,
  statsQuery,
  summaryOf,
  togetherOf,
  toolsOf,
  userPattern,
  workflowsOf,
} from '@sessiontrack/core';
import { loadRange, type RangeQuery, type RangeResult, type SessionReadStore } from '@sessiontrack/store';
import { type Context, Hono } from 'hono';
import type { z } from 'zod';
import type { AppEnv, RouteDeps } from '../app-deps.js';
import { ApiError } from '../errors.js';
import { parse } from '../validate.js';
import { projectOf as scopeProject } from './scope.js';

// The analytics routes of docs/api.md (admin token, mounted at /api/v1): stats over a date range,
// user patterns, export and erase. The rows come from the store's `loadRange` (the maintained
// aggregates, every day alike) and every number is computed by core's analytics.ts; docs/metrics.md
// says what each one means.

/** The longest range a stats route answers (API.md): reads grow with days × distinct values. */
const MAX_RANGE_DAYS = 400;

type Wants = Omit<RangeQuery, 'fromDate' | 'toDate'>;
type Dates = { fromDate: string; toDate: string };
type Range = { from?: string | undefined; to?: string | undefined; kind?: SessionKind | undefined };

/** A validated stats query: its range, what it needs loaded, and its answer from what was loaded. */
export interface StatsPlan {
  range: Range;
  wants: Wants;
  answer(r: RangeResult, dates: Dates, project: Project): unknown;
}

/**
 * A stats route: its query schema, and the plan for a query it validated. GET /stats/<name> and the
 * parts of POST /stats/batch (stats-batch.ts) both answer through it, so a batch part is exactly the
 * route's answer.
 */
export interface StatsRoute {
  query: z.ZodType<Range>;
  plan(q: Range): StatsPlan;
}

function route<S extends z.ZodType<Range>>(
  query: S,
  wants: (q: z.output<S>) => Wants,
  answer: (q: z.output<S>, r: RangeResult, dates: Dates, project: Project) => unknown,
): StatsRoute {
  return {
    query,
    // `q` was validated by `query` (here, or as a part of core's statsBatchSchema, which uses it).
    // Every route reads the sessions of `kind` only (absent: all kinds).
    plan: (q) => ({
      range: q,
      wants: { ...wants(q as z.output<S>), kind: q.kind },
      answer: (r, d, p) => answer(q as z.output<S>, r, d, p),
    }),
  };
}

export const STATS: Record<string, StatsRoute> = {
  summary: route(
    statsQuery,
    () => ({ users: true }),
    (_q, r, dates) => ({ ...dates, ...summaryOf(r.totals, r.uniqueUsers) }),
  ),
  daily: route(
    statsQuery,
    () => ({ dayDims: ['country', 'entryPage', 'exitPage'] }),
    (_q, r) => r.days.map(dailyOf),
  ),
  breakdown: route(
    breakdownQuery,
    (q) => ({ dims: q.by === 'tool' ? ['tool', 'toolCall', 'toolError'] : [q.by] }),
    (q, r) => breakdownOf(r.totals, q.by, q.limit),
  ),
  'workflows/abandoned': route(
    statsQuery,
    () => ({ dims: ['wfStarted', 'wfCompleted', 'wfFailed', 'wfAbandoned'] }),
    (q, r) => workflowsOf(r.totals).slice(0, q.limit),
  ),
  activity: route(
    statsQuery,
    () => ({ dims: ['cell'] }),
    (_q, r, _dates, project) => ({ timeZone: project.timeZone, cells: activityOf(r.totals) }),
  ),
  together: route(
    statsQuery,
    () => ({ dims: ['action', 'pair'] }),
    (q, r) => togetherOf(r.totals, q.limit),
  ),
  exits: route(
    statsQuery,
    () => ({ dims: ['exitPage', 'exitReason', 'exitAction'] }),
    (q, r) => exitsOf(r.totals, q.limit),
  ),
  durations: route(
    statsQuery,
    () => ({ dims: ['duration'] }),
    (_q, r) => ({ endedSessions: r.totals.endedSessions, buckets: durationsOf(r.totals) }),
  ),
  countries: route(
    countriesQuery,
    () => ({ dims: ['country', 'region'], dayDims: ['country'] }),
    (q, r, dates) => ({ ...dates, ...countriesOf(r.totals, r.days, q.limit) }),
  ),
  paths: route(
    pathsQuery,
    (q) => ({ dims: PATH_DIMS.slice(0, q.steps) }),
    (q, r) => pathsOf(r.totals, q.steps, q.limit),
  ),
  tools: route(
    statsQuery,
    () => ({ dims: ['tool', 'toolCall', 'toolError', 'toolMs'] }),
    (q, r) => toolsOf(r.totals, q.limit),
  ),
};

export function statsRoutes(deps: RouteDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const { store } = deps;
  const { now } = deps;
  const projectOf = (c: Context<AppEnv>): Promise<Project> => scopeProject(c, deps.projects);
  for (const [name, route] of Object.entries(STATS)) {
    app.get(`/stats/${name}`, async (c) => {
      const plan = route.plan(parse(route.query, c.req.query()));
      const project = await projectOf(c);
      const t = now();
      const dates = rangeDates(plan.range, project, t);
      const r = await loadRange(store, project, { ...dates, ...plan.wants }, t);
      return c.json(plan.answer(r, dates, project));
    });
  }

  app.get('/sessions/patterns/:userId', async (c) => {
    const project = await projectOf(c);
    const t = now();
    const userId = c.req.param('userId');
    const page = await store.listSessions({ projectId: project.id, userId, limit: PATTERN_SESSIONS }, t);
    const list = await Promise.all(
      page.sessions.map(async (session) => ({ session, events: await store.getEvents(session.projectId, session.id) })),
    );
    return c.json({ userId, ...userPattern(list, t) });
  });

  app.get('/users/:userId/export', async (c) => {
    const project = await projectOf(c);
    const t = now();
    const userId = c.req.param('userId');
    const sessions = await userSessions(store, project.id, userId, t);
    const out = [];
    for (const s of sessions)
      out.push({ ...sessionToWire(s, t), events: eventsToWire(await store.getEvents(s.projectId, s.id), s.startedAt) });
    return c.json({ projectId: project.id, userId, exportedAt: new Date(t).toISOString(), sessions: out });
  });

  app.delete('/users/:userId', async (c) => {
    const project = await projectOf(c);
    return c.json(await store.eraseUser(project.id, c.req.param('userId')));
  });
  return app;
}

/** Every session of a user in a project, newest first (pages of 500). */
async function userSessions(
  store: SessionReadStore,
  projectId: string,
  userId: string,
  now: number,
): Promise<Session[]> {
  const out: Session[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.listSessions({ projectId, userId, limit: 500, cursor }, now);
    out.push(...page.sessions);
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  return out;
}

/** Inclusive dates of a stats query: docs/api.md's range rules (default: the last 30 days, today included). */
export function rangeDates(
  q: { from?: string | undefined; to?: string | undefined },
  project: Project,
  now: number,
): { fromDate: string; toDate: string } {
  try {
    dateRange(q, project.timeZone, now); // validates both dates and their order
  } catch (err) {
    throw new ApiError('validation_failed', (err as Error).message);
  }
  const toDate = q.to ?? localDate(now, project.timeZone);
  const fromDate = q.from ?? addDays(toDate, -29);
  if (addDays(fromDate, MAX_RANGE_DAYS - 1) < toDate) {
    throw new ApiError('validation_failed', `the range is longer than ${MAX_RANGE_DAYS} days`);
  }
  return { fromDate, toDate };
}
