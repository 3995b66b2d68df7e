import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { join, resolve } from 'node:path';
import { createAdaptorServer, type HttpBindings } from '@hono/node-server';
import { newAdminToken, type Project } from '@sessiontrack/core';
import { PgPoolDriver, PostgresStore, SqliteStore, type Store } from '@sessiontrack/store';
import type { Hono } from 'hono';
import pino, { type Logger } from 'pino';
import { msUntilUtc, retainProject, runRollup } from './analytics-jobs.js';
import { type AppConfig, type AppDeps, type AppEnv, createApp, DEFAULT_CONFIG } from './app.js';
import { openGeoLookup } from './geo.js';
import { Metrics } from './metrics.js';
import { Projects } from './projects.js';
import { RateLimiter } from './rate-limit.js';
import { WriteBuffer } from './write-buffer.js';

// The Node entry: opens storage, builds the app, listens, runs the background jobs, and shuts
// down in order (stop accepting → drain the write buffer → close storage).

export interface ServeOptions {
  port: number;
  host: string;
  dataDir: string;
  databaseUrl?: string | undefined;
  trustProxy: boolean;
  ipRateLimitPerMinute: number;
  /** From SESSIONTRACK_ADMIN_TOKEN; when absent, generated once and kept in the data dir. */
  adminToken?: string | undefined;
  logLevel: string;
  sweepIntervalMs: number;
  /** Daily retention run at this UTC time, HH:MM (default 02:30). */
  retentionAt?: string | undefined;
  /** Instead of daily: run retention every this many ms (tests). */
  retentionIntervalMs?: number;
  /** How often changed closed days are rolled up (default 10 min; 0 = never). */
  rollupIntervalMs?: number | undefined;
  /** Optional GeoLite2-City database for regions. */
  geoCityDb?: string | undefined;
  sqliteSynchronous?: 'normal' | 'full';
  /** Events allowed to wait for a commit before ingest answers 503. */
  maxPendingEvents?: number;
  logger?: Logger;
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

const HOUR_MS = 60 * 60 * 1000;

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
  const filename = join(resolve(opts.dataDir), 'sessiontrack.db');
  try {
    return new SqliteStore({ filename, synchronous: opts.sqliteSynchronous ?? 'normal' });
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

export async function startServer(opts: ServeOptions): Promise<RunningServer> {
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
  now?: () => number;
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
}

/** Everything the app needs, wired once: used by `startServer` and by the in-process tests. */
export async function assemble(store: Store, logger: Logger, opts: AssembleOptions): Promise<Assembled> {
  const projects = new Projects(store);
  const { project } = await projects.ensureDefault();
  const metrics = new Metrics();
  const limiter = new RateLimiter();
  const buffer = new WriteBuffer(store, {
    maxPending: opts.maxPendingEvents ?? 50_000,
    maxBatch: 1_000,
    maxConcurrent: store.concurrentWriters,
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
  const { geoCityDb: _g, maxPendingEvents: _m, socketAddress, now, dashboardDir, ...config } = opts;
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
    ...(now ? { now } : {}),
    ...(dashboardDir !== undefined ? { dashboardDir } : {}),
  });
  return { app, projects, buffer, metrics, limiter, defaultProject: project };
}

async function listen(opts: ServeOptions, store: Store, logger: Logger): Promise<RunningServer> {
  const { token: adminToken, generated } = adminTokenFor(opts);
  const { app, projects, buffer, limiter, defaultProject } = await assemble(store, logger, {
    adminToken,
    trustProxy: opts.trustProxy,
    ipRateLimitPerMinute: opts.ipRateLimitPerMinute,
    geoCityDb: opts.geoCityDb,
    maxPendingEvents: opts.maxPendingEvents,
    socketAddress: (c) => (c.env as HttpBindings | undefined)?.incoming?.socket?.remoteAddress ?? null,
  });

  const server = createAdaptorServer({ fetch: app.fetch }) as Server;
  server.keepAliveTimeout = 65_000;
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

  // Background jobs. Expiry is a rule every answer applies; the sweeper only writes it down.
  // With several instances on one PostgreSQL, one of them runs each tick (advisory lock).
  const sweep = setInterval(() => {
    store
      .runExclusive('sweeper', async () => {
        const n = await store.sweepExpired(Date.now());
        if (n > 0) logger.info({ ended: n }, 'sweeper ended idle sessions');
      })
      .catch((err) => logger.warn({ err: (err as Error).message }, 'sweeper failed; will retry'));
  }, opts.sweepIntervalMs);
  // Retention (daily, 02:30 UTC by default): per project, roll up, then delete raw sessions and
  // events older than its retentionDays, in chunks; rollups stay (analytics-jobs.ts).
  const retain = () =>
    store
      .runExclusive('retention', async () => {
        for (const p of projects.list()) {
          const r = await retainProject(store, p, Date.now(), p.retentionDays);
          if (r.deletedSessions + r.deletedEvents + r.deletedOldEvents > 0)
            logger.info(r, 'retention deleted raw data');
        }
      })
      .catch((err) => logger.warn({ err: (err as Error).message }, 'retention failed; will retry'));
  let retention: NodeJS.Timeout;
  const scheduleRetention = () => {
    const wait = opts.retentionIntervalMs ?? msUntilUtc(opts.retentionAt ?? '02:30', Date.now());
    retention = setTimeout(() => void retain().finally(scheduleRetention), wait);
    retention.unref();
  };
  scheduleRetention();
  // Rollups of closed days that changed (today is always computed live).
  const rollupEvery = opts.rollupIntervalMs ?? 10 * 60_000;
  const rollup =
    rollupEvery > 0
      ? setInterval(() => {
          void runRollup(store, projects.list(), Date.now(), (run) => {
            if (run.days.length > 0) {
              logger.info({ project: run.project, days: run.days.length, ms: Math.round(run.ms) }, 'rolled up');
            }
          }).catch((err) => logger.warn({ err: (err as Error).message }, 'rollup failed; will retry'));
        }, rollupEvery)
      : undefined;
  rollup?.unref();
  // MCP agent state (hourly): expired entries are invisible already; this frees their rows (and orphans').
  const agentState = setInterval(() => {
    void store
      .runExclusive('agent-state', async () => {
        const n = await store.purgeAgentState(Date.now());
        if (n > 0) logger.info({ deleted: n }, 'purged expired agent state');
      })
      .catch((err) => logger.warn({ err: (err as Error).message }, 'agent state purge failed; will retry'));
  }, HOUR_MS);
  agentState.unref();
  const prune = setInterval(() => {
    limiter.prune(Date.now(), (key) =>
      key.startsWith('ip:')
        ? opts.ipRateLimitPerMinute
        : (projects.byId(key.slice('project:'.length))?.rateLimitPerMinute ?? 0),
    );
  }, 60_000);
  sweep.unref();
  prune.unref();

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      clearInterval(sweep);
      clearTimeout(retention);
      clearInterval(rollup);
      clearInterval(agentState);
      clearInterval(prune);
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

function adminTokenFor(opts: ServeOptions): { token: string; generated: boolean } {
  if (opts.adminToken) return { token: opts.adminToken, generated: false };
  const dir = resolve(opts.dataDir);
  const file = join(dir, 'admin-token');
  if (existsSync(file)) return { token: readFileSync(file, 'utf8').trim(), generated: false };
  mkdirSync(dir, { recursive: true });
  const token = newAdminToken();
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  return { token, generated: true };
}
