import {
  addDays,
  dayStart,
  retentionOf,
  retentionQuery,
  retentionRange,
  type UsersCursor,
  usersOverviewOf,
  usersQuery,
} from '@sessiontrack/core';
import { Hono } from 'hono';
import type { AppEnv, RouteDeps } from '../app-deps.js';
import { ApiError } from '../errors.js';
import { parse } from '../validate.js';
import { projectOf } from './scope.js';
import { rangeDates } from './stats.js';

// The Users view's reads (docs/api.md, "Retention" and "Users overview"; admin token, or a share
// token for its own project): retention cohorts from the maintained per-day users, and a page of
// the range's identified users with the distribution of their pattern labels.

/** Daily cohorts make a triangle of days²: a quarter is as far as a table of them is readable. */
const MAX_DAILY_RANGE_DAYS = 92;

export function usersRoutes(deps: RouteDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const { store, now } = deps;

  app.get('/stats/retention', async (c) => {
    const q = parse(retentionQuery, c.req.query());
    const project = await projectOf(c, deps.projects);
    const { fromDate, toDate } = rangeDates(q, project, now());
    const { start, end } = retentionRange(fromDate, toDate, q.period);
    if (q.period === 'day' && addDays(start, MAX_DAILY_RANGE_DAYS - 1) < end) {
      throw new ApiError('validation_failed', `period=day: the range is longer than ${MAX_DAILY_RANGE_DAYS} days`);
    }
    const days = await store.newUserDays(project.id, start, end, q.kind);
    return c.json({ fromDate: start, toDate: end, ...retentionOf(days, start, end, q.period) });
  });

  app.get('/users', async (c) => {
    const q = parse(usersQuery, c.req.query());
    const after = q.cursor === undefined ? undefined : decodeUsersCursor(q.cursor);
    const project = await projectOf(c, deps.projects);
    const { fromDate, toDate } = rangeDates(q, project, now());
    const rows = await store.userActivity(
      project.id,
      dayStart(fromDate, project.timeZone),
      dayStart(addDays(toDate, 1), project.timeZone),
    );
    const o = usersOverviewOf(rows, q.limit, after);
    return c.json({
      fromDate,
      toDate,
      users: o.users.map((u) => ({ ...u, lastSeenAt: new Date(u.lastSeenAt).toISOString() })),
      patterns: o.patterns,
      nextCursor: o.next ? encodeUsersCursor(o.next) : null,
    });
  });
  return app;
}

/** Opaque to clients: the last user of a page, as base64url JSON. */
export const encodeUsersCursor = (c: UsersCursor): string =>
  Buffer.from(JSON.stringify([c.lastSeenAt, c.userId])).toString('base64url');

function decodeUsersCursor(cursor: string): UsersCursor {
  try {
    const v: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(v) && typeof v[0] === 'number' && typeof v[1] === 'string') {
      return { lastSeenAt: v[0], userId: v[1] };
    }
  } catch {
    // fall through to the validation error
  }
  throw new ApiError('validation_failed', 'cursor: malformed', [{ path: 'cursor', message: 'malformed' }]);
}
