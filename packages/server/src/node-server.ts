import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { join, resolve } from 'node:path';
import { createAdaptorServer, type HttpBindings } from '@hono/node-server';
import { newAdminToken, type Project } from '@sessiontrack/core';
import { PgPoolDriver, PostgresStore, SqliteStore, type Store } from '@sessiontrack/store';
import type { Hono } from 'hono';
import pino, { type Logger } from 'pino';
import { createApp } from './app.js';
import { type AppConfig, type AppDeps, type AppEnv, DEFAULT_CONFIG } from './app-deps.js';
import { type Clock, systemClock } from './clock.js';
import { openGeoLookup } from './geo.js';
import { backgroundJobs } from './jobs/background.js';
import { startJobs } from './jobs/runner.js';
import { Metrics } from './metrics.js';
import { Projects } from './projects.js';
import { RateLimiter } from './rate-limit.js';
import { SERVE_SETTINGS, type ServeSettings, withDefaults } from './settings.js';
import { WriteBuffer } from './write-buffer.js';

// The Node entry: opens storage, builds the app, listens, runs the background jobs, and shuts
// down in order (stop accepting → drain the write buffer → close storage).

/**
 * `sessiontrack serve`'s settings (settings.ts; any left out take their default there), plus what
 * only a program or a test sets.
 */
export interface ServeOptions extends Partial<ServeSettings> {
  /** Instead of daily: run retention every this many ms (tests). */
  retentionIntervalMs?: number;
  /** Events allowed to wait for a commit before ingest answers 503. */
  maxPendingEvents?: number;
  logger?: Logger;
  /** The clock of the routes, the write buffer, the projects cache and the jobs (default: the system clock). */
  now?: Clock;
}

export interface RunningServer {
  url: string;
  port: number;
  app: Hono<AppEnv>;
  store: Store;
  logger: Logger;
  writeKey: string;
  adminToken: string;
  /** True when this start generated the admin token (print it, once). */
  adminTokenGenerated: boolean;
  close(): Promise<void>;
}

/** A problem the operator must fix (taken port, unopenable database): one clear line, exit 1. */
export class StartupError extends Error {}

export async function openStore(
  opts: Pick<ServeOptions, 'dataDir' | 'databaseUrl' | 'sqliteSynchronous'> & { logger?: Logger },
): Promise<Store> {
  if (opts.databaseUrl) {
    const driver = new PgPoolDriver({
      connectionString: opts.databaseUrl,
      onError: (err) => opts.logger?.warn({ err: err.message }, 'PostgreSQL connection lost; reconnecting on demand'),
    });
    try {
      return await PostgresStore.open(driver);
    } catch (err) {
      await driver.close().catch(() => undefined);
      throw new StartupError(`cannot open the database ${redact(opts.databaseUrl)}: ${(err as Error).message}`);
    }
  }
  const filename = join(resolve(opts.dataDir ?? SERVE_SETTINGS.dataDir.default), 'sessiontrack.db');
  try {
    return new SqliteStore({
      filename,
      synchronous: opts.sqliteSynchronous ?? SERVE_SETTINGS.sqliteSynchronous.default,
    });
  } catch (err) {
    throw new StartupError(`cannot open the database ${filename}: ${(err as Error).message}`);
  }
}

/** A database URL without its password, for messages. */
function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'URL';
  }
}

export async function startServer(options: ServeOptions): Promise<RunningServer> {
  const opts = withDefaults(options);
  const logger = opts.logger ?? pino({ level: opts.logLevel, base: { service: 'sessiontrack' } });
  const store = await openStore({ ...opts, logger });
  try {
    return await listen(opts, store, logger);
  } catch (err) {
    await store.close();
    throw err;
  }
}

export interface AssembleOptions extends Partial<Omit<AppConfig, 'adminToken'>> {
  adminToken: string;
  geoCityDb?: string | undefined;
  /** Events allowed to wait for a commit before ingest answers 503. */
  maxPendingEvents?: number | undefined;
  socketAddress?: AppDeps['socketAddress'];
  now?: Clock | undefined;
  /** The built dashboard's directory (default: resolved; null: none). */
  dashboardDir?: string | null;
}

export interface Assembled {
  app: Hono<AppEnv>;
  projects: Projects;
  buffer: WriteBuffer;
  metrics: Metrics;
  limiter: RateLimiter;
  defaultProject: Project;
  /** The one clock everything above reads. */
  now: Clock;
}

/** Everything the app needs, wired once: used by `startServer` and by the in-process tests. */
export async function assemble(store: Store, logger: Logger, opts: AssembleOptions): Promise<Assembled> {
  const now = opts.now ?? systemClock;
  const projects = new Projects(store, now);
  const { project } = await projects.ensureDefault();
  const metrics = new Metrics();
  const limiter = new RateLimiter();
  const buffer = new WriteBuffer(store, {
    maxPending: opts.maxPendingEvents ?? 50_000,
    maxBatch: 1_000,
    maxConcurrent: store.concurrentWriters,
    now,
    onCommit: ({ events, ms }) => {
      metrics.batchEvents.observe(events);
      metrics.commitSeconds.observe(ms / 1000);
    },
    onError: (err, ops) => {
      metrics.storageErrors.inc();
      logger.error({ err, ops }, 'group commit failed');
    },
  });
  const geo = await openGeoLookup({ cityDb: opts.geoCityDb });
  const { geoCityDb: _g, maxPendingEvents: _m, socketAddress, now: _n, dashboardDir, ...config } = opts;
  const app = createApp({
    store,
    projects,
    buffer,
    metrics,
    limiter,
    logger,
    geo,
    config: { ...DEFAULT_CONFIG, ...config },
    ...(socketAddress ? { socketAddress } : {}),
    now,
    ...(dashboardDir !== undefined ? { dashboardDir } : {}),
  });
  return { app, projects, buffer, metrics, limiter, defaultProject: project, now };
}

async function listen(opts: ServeOptions & ServeSettings, store: Store, logger: Logger): Promise<RunningServer> {
  const { token: adminToken, generated } = adminTokenFor(opts);
  const { app, projects, buffer, limiter, defaultProject, now } = await assemble(store, logger, {
    adminToken,
    metricsToken: opts.metricsToken,
    trustProxy: opts.trustProxy,
    ipRateLimitPerMinute: opts.ipRateLimitPerMinute,
    geoCityDb: opts.geoCityDb,
    maxPendingEvents: opts.maxPendingEvents,
    now: opts.now,
    socketAddress: (c) => (c.env as HttpBindings | undefined)?.incoming?.socket?.remoteAddress ?? null,
  });

  const server = createAdaptorServer({
    fetch: app.fetch,
    serverOptions: {
      headersTimeout: opts.headersTimeoutMs,
      requestTimeout: opts.requestTimeoutMs,
      keepAliveTimeout: opts.keepAliveTimeoutMs,
      // How often Node checks the two timeouts above (default 30 s, longer than they are).
      connectionsCheckingInterval: Math.min(1000, opts.headersTimeoutMs),
    },
  }) as Server;
  server.maxConnections = opts.maxConnections;
  await new Promise<void>((ok, fail) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE') fail(new StartupError(`port ${opts.port} on ${opts.host} is already in use`));
      else if (err.code === 'EACCES') fail(new StartupError(`no permission to listen on port ${opts.port}`));
      else fail(err);
    });
    server.listen(opts.port, opts.host, () => ok());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : opts.port;

  // With several instances on one PostgreSQL, one of them runs each job at a time (its lock).
  const jobs = startJobs(backgroundJobs({ store, projects, limiter, logger }, opts), { store, logger, now });

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      jobs.stop();
      // Stop accepting. Requests already read wait for their commit below; keep-alive
      // connections are closed as soon as they fall idle, and any still open after the drain
      // and a grace period are cut (their requests were answered 503 by the closed buffer).
      const stopped = new Promise<void>((ok) => server.close(() => ok()));
      const reap = setInterval(() => server.closeIdleConnections(), 20);
      server.closeIdleConnections();
      await buffer.drain();
      const cut = setTimeout(() => server.closeAllConnections(), 5_000);
      await stopped;
      clearInterval(reap);
      clearTimeout(cut);
      await store.close();
      logger.info('stopped');
    })();
    return closing;
  };

  const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  logger.info({ port, backend: store.backend }, 'listening');
  return {
    url: `http://${host}:${port}`,
    port,
    app,
    store,
    logger,
    writeKey: defaultProject.writeKey,
    adminToken,
    adminTokenGenerated: generated,
    close,
  };
}

function adminTokenFor(opts: Pick<ServeSettings, 'adminToken' | 'dataDir'>): { token: string; generated: boolean } {
  if (opts.adminToken) return { token: opts.adminToken, generated: false };
  const dir = resolve(opts.dataDir);
  const file = join(dir, 'admin-token');
  if (existsSync(file)) return { token: readFileSync(file, 'utf8').trim(), generated: false };
  mkdirSync(dir, { recursive: true });
  const token = newAdminToken();
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  return { token, generated: true };
}
