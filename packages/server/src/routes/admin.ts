import {
  cleanupSchema,
  createProjectSchema,
  createShareSchema,
  type Project,
  type ProjectShare,
  rotateKeySchema,
  updateProjectSchema,
} from '@sessiontrack/core';
import { Hono } from 'hono';
import type { AppEnv, RouteDeps } from '../app-deps.js';
import { readJsonBody } from '../body.js';
import { DAY_MS } from '../clock.js';
import { ApiError } from '../errors.js';
import { runRollup } from '../jobs/analytics.js';
import { parse } from '../validate.js';

// Projects, their settings and share links, and maintenance (admin token, mounted at /api/v1).

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

  app.patch('/projects/:id', async (c) => {
    const changes = parse(updateProjectSchema, (await body(c.req.raw)) ?? {});
    return c.json(projectToWire(await deps.projects.update(c.req.param('id'), changes)));
  });

  app.post('/projects/:id/rotate-key', async (c) => {
    const { graceSeconds } = parse(rotateKeySchema, (await body(c.req.raw)) ?? {});
    const r = await deps.projects.rotateKey(c.req.param('id'), graceSeconds * 1000);
    return c.json({
      writeKey: r.project.writeKey,
      previousKeyValidUntil: new Date(r.previousKeyValidUntil).toISOString(),
    });
  });

  app.delete('/projects/:id', async (c) => c.json(await deps.projects.delete(c.req.param('id'))));

  app.post('/projects/:id/share', async (c) => {
    const { label } = parse(createShareSchema, (await body(c.req.raw)) ?? {});
    const { share, token } = await deps.projects.createShare(c.req.param('id'), label ?? null);
    // The token rides in the URL's fragment, which browsers never send to a server (or a log).
    const origin = new URL(c.req.url).origin;
    const url = `${origin}/#/overview?project=${encodeURIComponent(share.projectId)}&share=${token}`;
    return c.json({ id: share.id, token, url }, 201);
  });

  app.get('/projects/:id/share', async (c) => {
    const shares = await deps.projects.listShares(c.req.param('id'));
    return c.json({ shares: shares.map(shareToWire) });
  });

  app.delete('/projects/:id/share/:shareId', async (c) => {
    await deps.projects.deleteShare(c.req.param('id'), c.req.param('shareId'));
    return c.body(null, 204);
  });

  app.post('/maintenance/cleanup', async (c) => {
    const input = parse(cleanupSchema, (await body(c.req.raw)) ?? {});
    const projectId = c.req.query('project') ?? null;
    if (projectId && !(await deps.projects.find(projectId)))
      throw new ApiError('not_found', `unknown project ${projectId}`);
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
  // The previous key is not shown again; when it stops working is.
  const { previousWriteKey: _, previousKeyValidUntil, ...rest } = p;
  return {
    ...rest,
    createdAt: new Date(p.createdAt).toISOString(),
    previousKeyValidUntil: previousKeyValidUntil === undefined ? null : new Date(previousKeyValidUntil).toISOString(),
  };
}

function shareToWire(s: ProjectShare) {
  return { id: s.id, label: s.label, createdAt: new Date(s.createdAt).toISOString() };
}
