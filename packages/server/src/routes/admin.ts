import { cleanupSchema, createProjectSchema, type Project } from '@sessiontrack/core';
import { Hono } from 'hono';
import type { AppEnv, RouteDeps } from '../app-deps.js';
import { readJsonBody } from '../body.js';
import { DAY_MS } from '../clock.js';
import { ApiError } from '../errors.js';
import { runRollup } from '../jobs/analytics.js';
import { parse } from '../validate.js';

// Projects and maintenance (admin token, mounted at /api/v1).

export function adminRoutes(deps: RouteDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const body = (req: Request) => readJsonBody(req, { limitBytes: deps.config.bodyLimitBytes, allowTextPlain: false });

  app.post('/projects', async (c) => {
    const input = parse(createProjectSchema, (await body(c.req.raw)) ?? {});
    return c.json(projectToWire(await deps.projects.create(input)), 201);
  });

  app.get('/projects', async (c) => {
    await deps.projects.load();
    return c.json({ projects: deps.projects.list().map(projectToWire) });
  });

  app.post('/maintenance/cleanup', async (c) => {
    const input = parse(cleanupSchema, (await body(c.req.raw)) ?? {});
    const projectId = c.req.query('project') ?? null;
    if (projectId && !deps.projects.byId(projectId)) throw new ApiError('not_found', `unknown project ${projectId}`);
    const now = deps.now();
    // Days still marked for a rebuild (an upgrade) are rebuilt while their raw rows are all there.
    await runRollup(
      deps.store,
      projectId ? deps.projects.list().filter((p) => p.id === projectId) : deps.projects.list(),
      now,
    );
    return c.json(await deps.store.cleanup(projectId, now - input.daysInactive * DAY_MS));
  });
  return app;
}

export function projectToWire(p: Project) {
  return { ...p, createdAt: new Date(p.createdAt).toISOString() };
}
