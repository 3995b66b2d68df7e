import { importBodySchema, importedSession } from '@sessiontrack/core';
import type { Hono } from 'hono';
import type { AppDeps, AppEnv } from './app.js';
import { readJsonBody } from './body.js';
import { ApiError } from './errors.js';
import { parse } from './ingest-routes.js';
import { DEFAULT_PROJECT_ID } from './projects.js';

// POST /api/v1/import (admin token): whole sessions with their events and past timestamps, one
// transaction per request, idempotent by session id. This is the only way past times get in:
// ingest routes (write keys) stamp sessions with the server's clock and clamp event times.

/** Imports carry many sessions per request; the admin token makes a larger body acceptable. */
const IMPORT_BODY_LIMIT = 4 * 1024 * 1024;

export function registerImportRoutes(app: Hono<AppEnv>, deps: AppDeps): void {
  app.post('/api/v1/import', async (c) => {
    const id = c.req.query('project') ?? DEFAULT_PROJECT_ID;
    const project = deps.projects.byId(id);
    if (!project) throw new ApiError('not_found', `unknown project ${id}`);
    const raw = await readJsonBody(c.req.raw, {
      limitBytes: Math.max(deps.config.bodyLimitBytes, IMPORT_BODY_LIMIT),
      allowTextPlain: false,
    });
    const input = parse(importBodySchema, raw ?? {});
    const now = (deps.now ?? Date.now)();
    const items = input.sessions.map((s, i) => {
      try {
        return importedSession(s, project, now);
      } catch (err) {
        throw new ApiError('validation_failed', `sessions[${i}].${(err as Error).message}`);
      }
    });
    return c.json(await deps.store.importSessions(items));
  });
}
