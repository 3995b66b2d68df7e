import { Hono } from 'hono';
import type { AppEnv, RouteDeps } from '../app-deps.js';
import { errorBody } from '../errors.js';
import { gauge } from '../metrics.js';

// GET /healthz (no token, for load balancers) and GET /metrics (Prometheus text; open for scrapers
// unless SESSIONTRACK_METRICS_TOKEN is set, which app.ts checks).

export function opsRoutes(deps: RouteDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const { logger, metrics } = deps;

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
    const now = deps.now();
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
  return app;
}
