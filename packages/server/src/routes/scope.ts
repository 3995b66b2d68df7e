import type { Project } from '@sessiontrack/core';
import type { Context } from 'hono';
import type { AppEnv } from '../app-deps.js';
import { DEFAULT_PROJECT_ID, type Projects } from '../projects.js';

// Which project a read route answers about. A share token confines its request to its own
// project (auth.ts sets `shareProjectId`); an admin request names one with `?project=`.

/** The project a request is confined to: a share token's, else the admin's `?project=` (undefined: none named). */
export function scopedProjectId(c: Context<AppEnv>): string | undefined {
  return c.get('shareProjectId') ?? c.req.query('project');
}

/** The project of a read route (the default project when none is named); 404 when unknown. */
export function projectOf(c: Context<AppEnv>, projects: Projects): Promise<Project> {
  return projects.get(scopedProjectId(c) ?? DEFAULT_PROJECT_ID);
}
