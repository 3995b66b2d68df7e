import { randomToken } from '@sessiontrack/core';
import { StorageUnavailableError } from '@sessiontrack/store';
import { Hono } from 'hono';
import type { AppDeps, AppEnv, RouteDeps } from './app-deps.js';
import { apiAuth, bearerAuth } from './auth.js';
import { systemClock } from './clock.js';
import { ApiError, errorBody } from './errors.js';
import { adminRoutes } from './routes/admin.js';
import { agentStateRoutes } from './routes/agent-state.js';
import { dashboardRoutes } from './routes/dashboard.js';
import { importRoutes } from './routes/import.js';
import { ingestRoutes } from './routes/ingest.js';
import { opsRoutes } from './routes/ops.js';
import { readRoutes } from './routes/read.js';
import { statsRoutes } from './routes/stats.js';
import { statsBatchRoutes } from './routes/stats-batch.js';
import { trackerRoutes } from './routes/tracker.js';
import { usersRoutes } from './routes/users.js';

/**
 * The whole HTTP surface on Web Request/Response; the Node entry is a thin adapter around it.
 * Each route group (routes/) is a Hono app of its own, mounted here in order: the open routes,
 * the write-key routes, then the admin (or share) token for every other /api/v1 path, then the dashboard.
 */
export function createApp(deps: AppDeps): Hono<AppEnv> {
  const d: RouteDeps = { ...deps, now: deps.now ?? systemClock };
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
    // Never the IP, a header or the path (user and session ids sit in paths): method, route
    // pattern, status and time are enough to debug with; the request id finds the rest.
    const line = { requestId, method: c.req.method, route, status, ms: performance.now() - started };
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

  // A path or query with %00 would reach the store as U+0000, which PostgreSQL refuses (a 503 for
  // a request that can never succeed); bodies are checked in body.ts.
  app.use('*', async function noNul(c, next) {
    if (/%00/i.test(c.req.url)) throw new ApiError('validation_failed', 'path or query: contains U+0000 (NUL)');
    await next();
  });

  // /metrics is open unless a metrics token is set (docs/operations.md "Security").
  const { metricsToken, adminToken } = deps.config;
  if (metricsToken) app.use('/metrics', bearerAuth([metricsToken, adminToken], 'metrics token'));
  app.route('/', opsRoutes(d));
  app.route('/', trackerRoutes());
  app.route('/api/v1', ingestRoutes(d));
  app.route('/api/v1', agentStateRoutes(d));
  // Everything below needs the admin token, or a share token for the read routes it may reach (auth.ts).
  app.use('/api/v1/*', apiAuth(deps.config.adminToken, deps.projects));
  app.route('/api/v1', readRoutes(d));
  app.route('/api/v1', statsRoutes(d));
  app.route('/api/v1', usersRoutes(d));
  app.route('/api/v1', statsBatchRoutes(d));
  app.route('/api/v1', adminRoutes(d));
  app.route('/api/v1', importRoutes(d));
  // Last: every other GET is the dashboard (or its single-page fallback).
  app.route('/', dashboardRoutes(deps.dashboardDir));
  return app;
}

// Request ids only need to be unique in this process's logs: a random prefix and a counter cost
// nothing per request, unlike a CSPRNG call.
const processPrefix = randomToken(6);
let requestCounter = 0;
const nextRequestId = () => `${processPrefix}-${(++requestCounter).toString(36)}`;
