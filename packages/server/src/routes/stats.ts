import {
  activityOf,
  addDays,
  breakdownOf,
  breakdownQuery,
  type CountDim,
  countriesOf,
  dailyOf,
  dateRange,
  durationsOf,
  eventsToWire,
  exitsOf,
  localDate,
  PATTERN_SESSIONS,
  type Project,
  type Session,
  sessionToWire,
  statsQuery,
  summaryOf,
  togetherOf,
  userPattern,
  workflowsOf,
} from '@sessiontrack/core';
import { loadRange, type RangeQuery, type Store } from '@sessiontrack/store';
import { type Context, Hono } from 'hono';
import type { AppEnv, RouteDeps } from '../app-deps.js';
import { ApiError } from '../errors.js';
import { parse } from '../validate.js';

// The analytics routes of docs/api.md (admin token, mounted at /api/v1): stats over a date range,
// user patterns, export and erase. The rows come from the store's `loadRange` (rollups for closed
// days, live for the rest) and every number is computed by core's analytics.ts; docs/metrics.md
// says what each one means.

/** The longest range a stats route answers (days computed live cost a query over raw rows each). */
const MAX_RANGE_DAYS = 400;

export function statsRoutes(deps: RouteDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const { store } = deps;
  const { now } = deps;
  const projectOf = (c: Context<AppEnv>): Project => deps.projects.fromQuery(c);
  const range = async (
    c: Context<AppEnv>,
    q: { from?: string | undefined; to?: string | undefined },
    want: Omit<RangeQuery, 'fromDate' | 'toDate'>,
  ) => {
    const project = projectOf(c);
    const t = now();
    const dates = rangeDates(q, project, t);
    return { project, t, dates, r: await loadRange(store, project, { ...dates, ...want }, t) };
  };

  app.get('/stats/summary', async (c) => {
    const q = parse(statsQuery, c.req.query());
    const { dates, r } = await range(c, q, { users: true });
    return c.json({ ...dates, ...summaryOf(r.totals, r.uniqueUsers) });
  });

  app.get('/stats/daily', async (c) => {
    const q = parse(statsQuery, c.req.query());
    const { r } = await range(c, q, { dayDims: ['country', 'entryPage', 'exitPage'] });
    return c.json(r.days.map(dailyOf));
  });

  app.get('/stats/breakdown', async (c) => {
    const q = parse(breakdownQuery, c.req.query());
    const dims: CountDim[] = q.by === 'tool' ? ['tool', 'toolCall', 'toolError'] : [q.by];
    const { r } = await range(c, q, { dims });
    return c.json(breakdownOf(r.totals, q.by, q.limit));
  });

  app.get('/stats/workflows/abandoned', async (c) => {
    const q = parse(statsQuery, c.req.query());
    const { r } = await range(c, q, { dims: ['wfStarted', 'wfCompleted', 'wfFailed', 'wfAbandoned'] });
    return c.json(workflowsOf(r.totals).slice(0, q.limit));
  });

  app.get('/stats/activity', async (c) => {
    const q = parse(statsQuery, c.req.query());
    const { project, r } = await range(c, q, { dims: ['cell'] });
    return c.json({ timeZone: project.timeZone, cells: activityOf(r.totals) });
  });

  app.get('/stats/together', async (c) => {
    const q = parse(statsQuery, c.req.query());
    const { r } = await range(c, q, { dims: ['action', 'pair'] });
    return c.json(togetherOf(r.totals, q.limit));
  });

  app.get('/stats/exits', async (c) => {
    const q = parse(statsQuery, c.req.query());
    const { r } = await range(c, q, { dims: ['exitPage', 'exitReason', 'exitAction'] });
    return c.json(exitsOf(r.totals, q.limit));
  });

  app.get('/stats/durations', async (c) => {
    const q = parse(statsQuery, c.req.query());
    const { r } = await range(c, q, { dims: ['duration'] });
    return c.json({ endedSessions: r.totals.endedSessions, buckets: durationsOf(r.totals) });
  });

  app.get('/stats/countries', async (c) => {
    const q = parse(statsQuery.extend({ limit: statsQuery.shape.limit.default(10) }), c.req.query());
    const { dates, r } = await range(c, q, { dims: ['country', 'region'], dayDims: ['country'] });
    return c.json({ ...dates, ...countriesOf(r.totals, r.days, q.limit) });
  });

  app.get('/sessions/patterns/:userId', async (c) => {
    const project = projectOf(c);
    const t = now();
    const userId = c.req.param('userId');
    const page = await store.listSessions({ projectId: project.id, userId, limit: PATTERN_SESSIONS }, t);
    const list = await Promise.all(
      page.sessions.map(async (session) => ({ session, events: await store.getEvents(session.id) })),
    );
    return c.json({ userId, ...userPattern(list, t) });
  });

  app.get('/users/:userId/export', async (c) => {
    const project = projectOf(c);
    const t = now();
    const userId = c.req.param('userId');
    const sessions = await userSessions(store, project.id, userId, t);
    const out = [];
    for (const s of sessions)
      out.push({ ...sessionToWire(s, t), events: eventsToWire(await store.getEvents(s.id), s.startedAt) });
    return c.json({ projectId: project.id, userId, exportedAt: new Date(t).toISOString(), sessions: out });
  });

  app.delete('/users/:userId', async (c) => {
    const project = projectOf(c);
    return c.json(await store.eraseUser(project.id, c.req.param('userId')));
  });
  return app;
}

/** Every session of a user in a project, newest first (pages of 500). */
async function userSessions(store: Store, projectId: string, userId: string, now: number): Promise<Session[]> {
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
