import { createHash, timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from './app-deps.js';
import { ApiError } from './errors.js';
import type { Projects } from './projects.js';

// The one rule for every /api/v1 route that is not a write-key route (docs/api.md "Share links"):
// the admin token reaches them all; a share token reaches only the GET routes of the groups below,
// confined to its own project. A route added later to one of these groups is readable with a share
// token and every other new route is refused to it, by default; auth.test.ts walks the app's routes.

/** Paths a share token may GET (or HEAD): the session reads, the stats, the users overview. */
const SHARE_READABLE = [/^\/api\/v1\/sessions(\/|$)/, /^\/api\/v1\/stats(\/|$)/, /^\/api\/v1\/users\/?$/];

export const shareMayRead = (method: string, path: string): boolean =>
  ((method === 'GET' || method === 'HEAD') && SHARE_READABLE.some((re) => re.test(path))) ||
  // The dashboard's several-stats-in-one read: GET stats routes in one POST, the same project scope.
  (method === 'POST' && path === '/api/v1/stats/batch');

export function apiAuth(adminToken: string, projects: Projects): MiddlewareHandler<AppEnv> {
  const expected = digest(adminToken);
  return async function apiAuth(c, next) {
    const header = c.req.header('authorization') ?? '';
    const token = header.startsWith('Bearer ') ? header.slice(7).trim() : '';
    if (!token) throw new ApiError('unauthorized', 'missing admin or share token (Authorization: Bearer <token>)');
    // Compare digests: constant time, and the lengths are always equal.
    if (timingSafeEqual(digest(token), expected)) return next();
    const share = await projects.byShareToken(token);
    if (!share) throw new ApiError('unauthorized', 'wrong admin token or unknown share token');
    if (!shareMayRead(c.req.method, c.req.path)) {
      throw new ApiError('forbidden', 'a share token reads only the GET routes of /sessions, /stats and /users');
    }
    const wanted = c.req.query('project');
    if (wanted !== undefined && wanted !== share.projectId) {
      throw new ApiError('forbidden', 'this share token reads only its own project');
    }
    c.set('shareProjectId', share.projectId);
    return next();
  };
}

/** `Authorization: Bearer <one of tokens>`, else 401 saying `what` was missing (/metrics with a metrics token). */
export function bearerAuth(tokens: readonly string[], what: string): MiddlewareHandler<AppEnv> {
  const expected = tokens.map(digest);
  return async function bearerAuth(c, next) {
    const header = c.req.header('authorization') ?? '';
    const token = header.startsWith('Bearer ') ? header.slice(7).trim() : '';
    // Compare digests: constant time, and the lengths are always equal.
    const given = token ? digest(token) : null;
    if (!given || !expected.some((e) => timingSafeEqual(given, e))) {
      throw new ApiError('unauthorized', `missing or wrong ${what} (Authorization: Bearer <token>)`);
    }
    await next();
  };
}

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();
