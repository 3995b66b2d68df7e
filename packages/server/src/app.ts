import { createHash, timingSafeEqual } from 'node:crypto';
import { randomToken } from '@sessiontrack/core';
import { StorageUnavailableError, type Store } from '@sessiontrack/store';
import { type Context, Hono } from 'hono';
import type { Logger } from 'pino';
import { registerAdminRoutes } from './admin-routes.js';
import { registerDashboardRoutes } from './dashboard-route.js';
import { ApiError, errorBody } from './errors.js';
import type { GeoLookup } from './geo.js';
import { registerImportRoutes } from './import-routes.js';
import { registerIngestRoutes } from './ingest-routes.js';
import { gauge, type Metrics } from './metrics.js';
import type { Projects } from './projects.js';
import type { RateLimiter } from './rate-limit.js';
import { registerReadRoutes } from './read-routes.js';
import { registerStatsRoutes } from './stats-routes.js';
import { registerTrackerRoute } from './tracker-route.js';
import type { WriteBuffer } from './write-buffer.js';

export interface AppConfig {
  adminToken: string;
  /** Believe X-Forwarded-For and CF-* headers (only behind a proxy that sets them). */
  trustProxy: boolean;
  /** Requests per minute per client address; 0 = off. Loopback is never limited. */
  ipRateLimitPerMinute: number;
  bodyLimitBytes: number;
  maxBatchEvents: number;
}

export interface AppDeps {
  store: Store;
  projects: Projects;
  buffer: WriteBuffer;
  metrics: Metrics;
  limiter: RateLimiter;
  logger: Logger;
  geo: GeoLookup | null;
  config: AppConfig;
  /** The socket's peer address; supplied by the runtime adapter (null in-process). */
  socketAddress?: (c: Context<AppEnv>) => string | null;
  now?: () => number;
  /** The built dashboard; default: resolved from @sessiontrack/dashboard (null: not served). */
  dashboardDir?: string | null;
}

export type AppEnv = { Variables: { requestId: string } };

export const DEFAULT_CONFIG: Omit<AppConfig, 'adminToken'> = {
  trustProxy: false,
  ipRateLimitPerMinute: 12_000,
  bodyLimitBytes: 256 * 1024,
  maxBatchEvents: 500,
};

/** The whole HTTP surface on Web Request/Response; the Node entry is a thin adapter around it. */
export function createApp(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const { logger, metrics } = deps;

  app.use('*', async function requestContext(c, next) {
    const started = performance.now();
    const incoming = c.req.header('x-request-id');
    const requestId = incoming && /^[\w.:-]{1,64}$/.test(incoming) ? incoming : nextRequestId();
    c.set('requestId', requestId);
    // Headers are set before the handler runs: changing a finished response would make the Node
    // adapter rebuild it as a full Web Response.
    c.header('X-Request-Id', requestId);
    await next();
    const status = c.res.status;
    const route = c.req.routePath;
    metrics.requests.inc({ route, status: String(status) });
    // Never the IP, never a header: method, route, status and time are enough to debug with.
    const line = { requestId, method: c.req.method, path: c.req.path, status, ms: performance.now() - started };
    if (status >= 500) logger.error(line, 'request failed');
    else if (status >= 400) logger.info(line, 'request refused');
    else logger.debug(line, 'request');
  });

  app.onError((err, c) => {
    if (err instanceof ApiError) {
      if (err.retryAfter !== undefined) c.header('Retry-After', String(err.retryAfter));
      if (err.cause) logger.warn({ requestId: c.get('requestId'), err: err.cause }, err.message);
      return c.json(errorBody(err.code, err.message, err.details), err.status);
    }
    if (err instanceof StorageUnavailableError) {
      logger.warn({ requestId: c.get('requestId'), err: err.message }, 'storage unavailable');
      c.header('Retry-After', '2');
      return c.json(errorBody('unavailable', 'storage is unavailable; nothing was written'), 503);
    }
    logger.error({ requestId: c.get('requestId'), err }, 'unexpected error');
    return c.json(errorBody('internal', 'internal error'), 500);
  });
  app.notFound((c) => c.json(errorBody('not_found', `no route for ${c.req.method} ${c.req.path}`), 404));

  app.get('/healthz', async (c) => {
    try {
      await deps.store.ping();
      return c.json({ status: 'ok' });
    } catch (err) {
      logger.warn({ err }, 'health check: storage does not answer');
      return c.json(errorBody('unavailable', 'storage does not answer'), 503);
    }
  });

  app.get('/metrics', async (c) => {
    const now = (deps.now ?? Date.now)();
    let live = Number.NaN;
    try {
      live = await deps.store.countLive(null, now);
    } catch {
      // storage down: the gauge says NaN and the rest still renders
    }
    const text = metrics.render([
      gauge('sessiontrack_active_sessions', 'Sessions live now (not ended, not expired).', live),
      gauge('sessiontrack_write_buffer_pending', 'Events waiting for the group commit.', deps.buffer.pending),
    ]);
    return c.text(text, 200, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8' });
  });

  registerTrackerRoute(app);
  registerIngestRoutes(app, deps);

  // Everything below needs the admin token.
  const expected = digest(deps.config.adminToken);
  app.use('/api/v1/*', async function adminAuth(c, next) {
    const header = c.req.header('authorization') ?? '';
    const token = header.startsWith('Bearer ') ? header.slice(7).trim() : '';
    // Compare digests: constant time, and the lengths are always equal.
    if (!token || !timingSafeEqual(digest(token), expected)) {
      throw new ApiError('unauthorized', 'missing or wrong admin token (Authorization: Bearer <token>)');
    }
    await next();
  });
  registerReadRoutes(app, deps);
  registerStatsRoutes(app, deps);
  registerAdminRoutes(app, deps);
  registerImportRoutes(app, deps);
  // Last: every other GET is the dashboard (or its single-page fallback).
  registerDashboardRoutes(app, deps.dashboardDir);
  return app;
}

// Request ids only need to be unique in this process's logs: a random prefix and a counter cost
// nothing per request, unlike a CSPRNG call.
const processPrefix = randomToken(6);
let requestCounter = 0;
const nextRequestId = () => `${processPrefix}-${(++requestCounter).toString(36)}`;

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();
