import { importBodySchema, importedSession } from '@sessiontrack/core';
import { Hono } from 'hono';
import type { AppEnv, RouteDeps } from '../app-deps.js';
import { readJsonBody } from '../body.js';
import { ApiError } from '../errors.js';
import { runRollup } from '../jobs/analytics.js';
import { parse } from '../validate.js';
import { projectOf } from './scope.js';

// POST /api/v1/import (admin token): whole sessions with their events and past timestamps, one
// transaction per request, idempotent by session id. This is the only way past times get in:
// ingest routes (write keys) stamp sessions with the server's clock and clamp event times.

/** Imports carry many sessions per request; the admin token makes a larger body acceptable. */
const IMPORT_BODY_LIMIT = 4 * 1024 * 1024;

/**
 * An import writes past days, which the stats routes then compute from raw rows until the rollup
 * job has run (every 10 min). So the rollup of an imported project runs this long after its last
 * import request: a demo of many batches is rolled up once, seconds after it finished.
 */
export const IMPORT_ROLLUP_DELAY_MS = 2_000;

export function importRoutes(deps: RouteDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const pending = new Map<string, ReturnType<typeof setTimeout>>();
  const rollupSoon = (projectId: string) => {
    clearTimeout(pending.get(projectId));
    const timer = setTimeout(() => {
      pending.delete(projectId);
      const project = deps.projects.byId(projectId);
      if (!project) return;
      runRollup(deps.store, [project], deps.now()).then(
        (runs) => deps.logger.info({ project: projectId, days: runs?.[0]?.days.length }, 'rolled up after an import'),
        (err) => deps.logger.warn({ err: (err as Error).message }, 'rollup after an import failed; the job retries'),
      );
    }, IMPORT_ROLLUP_DELAY_MS);
    timer.unref();
    pending.set(projectId, timer);
  };

  app.post('/import', async (c) => {
    const project = await projectOf(c, deps.projects);
    const raw = await readJsonBody(c.req.raw, {
      limitBytes: Math.max(deps.config.bodyLimitBytes, IMPORT_BODY_LIMIT),
      allowTextPlain: false,
    });
    const input = parse(importBodySchema, raw ?? {});
    const now = deps.now();
    const items = input.sessions.map((s, i) => {
      try {
        return importedSession(s, project, now);
      } catch (err) {
        throw new ApiError('validation_failed', `sessions[${i}].${(err as Error).message}`);
      }
    });
    const result = await deps.store.importSessions(items);
    if (result.sessions > 0) rollupSoon(project.id);
    return c.json(result);
  });
  return app;
}
