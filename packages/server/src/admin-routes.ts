import { cleanupSchema, createProjectSchema, type Project } from '@sessiontrack/core';
import type { Hono } from 'hono';
import { runRollup } from './analytics-jobs.js';
import type { AppDeps, AppEnv } from './app.js';
import { readJsonBody } from './body.js';
import { ApiError } from './errors.js';
import { parse } from './ingest-routes.js';

const DAY_MS = 24 * 60 * 60 * 1000;

export function registerAdminRoutes(app: Hono<AppEnv>, deps: AppDeps): void {
  const body = (req: Request) => readJsonBody(req, { limitBytes: deps.config.bodyLimitBytes, allowTextPlain: false });

  app.post('/api/v1/projects', async (c) => {
    const input = parse(createProjectSchema, (await body(c.req.raw)) ?? {});
    return c.json(projectToWire(await deps.projects.create(input)), 201);
  });

  app.get('/api/v1/projects', async (c) => {
    await deps.projects.load();
    return c.json({ projects: deps.projects.list().map(projectToWire) });
  });

  app.post('/api/v1/maintenance/cleanup', async (c) => {
    const input = parse(cleanupSchema, (await body(c.req.raw)) ?? {});
    const projectId = c.req.query('project') ?? null;
    if (projectId && !deps.projects.byId(projectId)) throw new ApiError('not_found', `unknown project ${projectId}`);
    const now = (deps.now ?? Date.now)();
    // Roll up first: the raw rows about to go are then counted in the rollups, which stay.
    await runRollup(
      deps.store,
      projectId ? deps.projects.list().filter((p) => p.id === projectId) : deps.projects.list(),
      now,
    );
    return c.json(await deps.store.cleanup(projectId, now - input.daysInactive * DAY_MS));
  });
}

export function projectToWire(p: Project) {
  return { ...p, createdAt: new Date(p.createdAt).toISOString() };
}
