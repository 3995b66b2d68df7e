import { importBodySchema, importedSession } from '@sessiontrack/core';
import { Hono } from 'hono';
import type { AppEnv, RouteDeps } from '../app-deps.js';
import { readJsonBody } from '../body.js';
import { ApiError } from '../errors.js';
import { parse } from '../validate.js';
import { projectOf } from './scope.js';

// POST /api/v1/import (admin token): whole sessions with their events and past timestamps, one
// transaction per request, idempotent by session id. This is the only way past times get in:
// ingest routes (write keys) stamp sessions with the server's clock and clamp event times.

/** Imports carry many sessions per request; the admin token makes a larger body acceptable. */
const IMPORT_BODY_LIMIT = 4 * 1024 * 1024;

export function importRoutes(deps: RouteDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

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
    // The import's transaction also counts its sessions in the aggregates: their days answer at once.
    return c.json(await deps.store.importSessions(items));
  });
  return app;
}
