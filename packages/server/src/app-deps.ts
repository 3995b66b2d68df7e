import type { TrustProxy } from '@sessiontrack/core';
import type { Store } from '@sessiontrack/store';
import type { Context } from 'hono';
import type { Logger } from 'pino';
import type { Clock } from './clock.js';
import type { GeoLookup } from './geo.js';
import type { Metrics } from './metrics.js';
import type { Projects } from './projects.js';
import type { RateLimiter } from './rate-limit.js';
import { SERVE_SETTINGS } from './settings.js';
import type { WriteBuffer } from './write-buffer.js';

// What the HTTP app is built from. Its own module: app.ts imports every route group, and the route
// groups import these types, so they cannot live in app.ts without an import cycle.

export interface AppConfig {
  adminToken: string;
  /** When set, /metrics needs it (or the admin token) as a bearer token. */
  metricsToken?: string | undefined;
  /** Which peers are proxies whose X-Forwarded-For and CF-* headers are believed (core forwarded.ts). */
  trustProxy: TrustProxy;
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
  /** The clock every route reads (default: the system clock). */
  now?: Clock;
  /** The built dashboard; default: resolved from @sessiontrack/dashboard (null: not served). */
  dashboardDir?: string | null;
}

/** What a route group is given: the app's dependencies with the clock resolved once. */
export type RouteDeps = AppDeps & { now: Clock };

export type AppEnv = {
  Variables: {
    requestId: string;
    /** Set by auth.ts for a share token: the one project this request may read. */
    shareProjectId?: string;
  };
};

export const DEFAULT_CONFIG: Omit<AppConfig, 'adminToken'> = {
  trustProxy: SERVE_SETTINGS.trustProxy.default,
  ipRateLimitPerMinute: SERVE_SETTINGS.ipRateLimitPerMinute.default,
  // Fixed in this version (README "Configuration").
  bodyLimitBytes: 256 * 1024,
  maxBatchEvents: 500,
};
