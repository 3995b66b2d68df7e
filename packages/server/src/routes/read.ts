import {
  activeQuery,
  dateRange,
  effectiveStatus,
  eventsToWire,
  historyQuery,
  type ListSessionsQuery,
  listSessionsQuery,
  type Project,
  type Session,
  sessionToWire,
  sessionWorkflows,
} from '@sessiontrack/core';
import type { Store } from '@sessiontrack/store';
import { type Context, Hono } from 'hono';
import type { AppEnv, RouteDeps } from '../app-deps.js';
import { ApiError } from '../errors.js';
import { parse } from '../validate.js';
import { scopedProjectId, projectOf as scopeProject } from './scope.js';

// Session read routes (admin token, mounted at /api/v1). Every answer applies the clock: a session past its idle
// timeout shows as ended at its last activity even before the sweeper has written it.

export function readRoutes(deps: RouteDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const { store } = deps;
  const { now } = deps;
  const projectOf = (c: Context<AppEnv>): Promise<Project> => scopeProject(c, deps.projects);

  app.get('/sessions/active', async (c) => {
    const project = await projectOf(c);
    const t = now();
    const { limit } = parse(activeQuery, c.req.query());
    const [count, page] = await Promise.all([
      store.countLive(project.id, t),
      store.listSessions({ projectId: project.id, status: 'live', limit }, t),
    ]);
    return c.json({ count, sessions: page.sessions.map((s) => sessionToWire(s, t)) });
  });

  app.get('/sessions/user/:userId/current', async (c) => {
    const project = await projectOf(c);
    const t = now();
    const page = await store.listSessions(
      { projectId: project.id, userId: c.req.param('userId'), status: 'live', limit: 1 },
      t,
    );
    const s = page.sessions[0];
    if (!s) throw new ApiError('not_found', 'this user has no live session');
    return c.json(sessionToWire(s, t));
  });

  app.get('/sessions/user/:userId/history', async (c) => {
    const q = parse(historyQuery, c.req.query());
    const project = await projectOf(c);
    const t = now();
    const userId = c.req.param('userId');
    const page = await store.listSessions({ projectId: project.id, userId, limit: q.limit }, t);
    return c.json({ userId, sessions: page.sessions.map((s) => sessionToWire(s, t)) });
  });

  app.get('/sessions', async (c) => {
    const q = parse(listSessionsQuery, c.req.query());
    return c.json(await sessionsAnswer(store, await projectOf(c), q, now()));
  });

  app.get('/sessions/:id', async (c) => {
    const t = now();
    const id = c.req.param('id');
    // A share token's session must be of its project; another project's looks absent. Without
    // ?project= the id is looked up in every project (session ids are unique per project only):
    // in several, the admin is asked to name one.
    const wanted = scopedProjectId(c);
    let s: Session | null;
    if (wanted !== undefined) s = await store.getSession(wanted, id);
    else {
      const found = await store.sessionsById(id);
      if (found.length > 1) {
        throw new ApiError(
          'conflict',
          `session ${id} exists in ${found.length} projects (${found.map((x) => x.projectId).join(', ')}): add ?project=`,
        );
      }
      s = found[0] ?? null;
    }
    if (!s) throw new ApiError('not_found', 'unknown session');
    const events = await store.getEvents(s.projectId, s.id);
    // Workflows of this session; abandoned = started, neither completed nor failed, session ended.
    // (`workflows` is the session's counter, so the list has its own name.)
    const outcomes = sessionWorkflows(events, effectiveStatus(s, t) === 'ended');
    return c.json({
      ...sessionToWire(s, t),
      events: eventsToWire(events, s.startedAt),
      workflowOutcomes: outcomes,
      abandonedWorkflows: outcomes.filter((w) => w.abandoned).map((w) => w.workflowId),
    });
  });
  return app;
}

/** GET /sessions's answer: also a part of a stats batch (routes/stats-batch.ts). */
export async function sessionsAnswer(store: Store, project: Project, q: ListSessionsQuery, t: number) {
  const range = sessionRange(q, project, t);
  let page: Awaited<ReturnType<Store['listSessions']>>;
  try {
    page = await store.listSessions(
      {
        projectId: project.id,
        ...range,
        userId: q.userId,
        status: q.status,
        kind: q.kind,
        limit: q.limit,
        cursor: q.cursor,
      },
      t,
    );
  } catch (err) {
    if (err instanceof RangeError) throw new ApiError('validation_failed', err.message);
    throw err;
  }
  return { sessions: page.sessions.map((s) => sessionToWire(s, t)), nextCursor: page.nextCursor };
}

/** GET /sessions's `from`/`to` as epoch ms, or a 400. */
export function sessionRange(q: Pick<ListSessionsQuery, 'from' | 'to'>, project: Project, t: number) {
  try {
    return dateRange(q, project.timeZone, t);
  } catch (err) {
    throw new ApiError('validation_failed', `from: ${(err as Error).message}`);
  }
}
