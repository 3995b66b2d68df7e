import {
  agentStateSetSchema,
  buildSession,
  disconnectSchema,
  effectiveStatus,
  endSessionSchema,
  eventSchema,
  eventsBatchSchema,
  formatIssues,
  heartbeatSchema,
  isBotUserAgent,
  MAX_METADATA_BYTES,
  normalizeEvent,
  type Project,
  pagePath,
  sessionToWire,
  startSessionSchema,
  trackSchema,
} from '@sessiontrack/core';
import type { WriteResult } from '@sessiontrack/store';
import type { Context, Hono } from 'hono';
import type { z } from 'zod';
import type { AppDeps, AppEnv } from './app.js';
import { readJsonBody } from './body.js';
import { ApiError } from './errors.js';
import { clientAddress, resolveGeo } from './geo.js';

// Ingest routes (write key). Every request: address rate limit → write key → body (bounded,
// JSON) → Origin → project rate limit → schema → one operation into the group commit, answered
// after it is committed.

type C = Context<AppEnv>;

const INGEST_PATHS = [
  '/api/v1/track',
  '/api/v1/sessions/start',
  '/api/v1/sessions/:id/heartbeat',
  '/api/v1/sessions/:id/events',
  '/api/v1/sessions/:id/event',
  '/api/v1/sessions/:id/end',
  '/api/v1/sessions/:id/disconnect',
];

export function registerIngestRoutes(app: Hono<AppEnv>, deps: AppDeps): void {
  const { config, projects, limiter, metrics, buffer } = deps;
  const now = deps.now ?? Date.now;

  // Trackers post from any page; the project's allowedOrigins is enforced per request below,
  // once the write key says which project it is (a preflight carries no key). Headers are set
  // before the handler runs, never on a finished response (see app.ts).
  const corsHeaders = async function ingestCors(c: C, next: () => Promise<void>) {
    const origin = c.req.header('origin');
    if (c.req.method === 'OPTIONS') {
      return new Response(null, {
        status: 204,
        headers: {
          'Access-Control-Allow-Origin': origin || '*',
          'Access-Control-Allow-Methods': 'POST, OPTIONS',
          'Access-Control-Allow-Headers': 'Content-Type, X-Write-Key, X-Request-Id',
          'Access-Control-Max-Age': '86400',
          Vary: 'Origin, Access-Control-Request-Headers',
        },
      });
    }
    if (origin) {
      c.header('Access-Control-Allow-Origin', origin);
      c.header('Access-Control-Expose-Headers', 'Retry-After, X-Request-Id');
      c.header('Vary', 'Origin');
    }
    await next();
  };
  for (const path of INGEST_PATHS) app.use(path, corsHeaders);

  const address = (c: C) => clientAddress(c.req.raw.headers, deps.socketAddress?.(c) ?? null, config.trustProxy);

  /** Auth, limits and body of an ingest request. */
  async function admit(c: C): Promise<{ project: Project; body: Record<string, unknown> | undefined; at: number }> {
    const at = now();
    if (config.ipRateLimitPerMinute > 0) {
      const ip = address(c);
      if (ip && !isLoopback(ip)) {
        const wait = limiter.take(`ip:${ip}`, config.ipRateLimitPerMinute, at);
        if (wait > 0) {
          metrics.rateLimited.inc({ limit: 'ip' });
          throw new ApiError('rate_limited', 'too many requests from this address', [], wait);
        }
      }
    }
    // A key in the header is checked before the body is read: a wrong key costs nothing.
    const headerKey = c.req.header('x-write-key');
    let project = headerKey ? await projectFor(headerKey) : undefined;
    const raw = await readJsonBody(c.req.raw, { limitBytes: config.bodyLimitBytes, allowTextPlain: true });
    if (raw !== undefined && (typeof raw !== 'object' || raw === null || Array.isArray(raw))) {
      throw new ApiError('validation_failed', 'body: expected a JSON object');
    }
    const body = raw as Record<string, unknown> | undefined;
    if (!project) {
      const bodyKey = body?.writeKey;
      if (typeof bodyKey !== 'string' || !bodyKey) {
        throw new ApiError('unauthorized', 'missing write key (X-Write-Key header or "writeKey" in the body)');
      }
      project = await projectFor(bodyKey);
    }
    const origin = c.req.header('origin');
    if (origin && project.allowedOrigins.length > 0 && !project.allowedOrigins.includes(origin)) {
      throw new ApiError('forbidden', `origin ${origin} is not allowed for this project`);
    }
    if (project.rateLimitPerMinute > 0) {
      const wait = limiter.take(`project:${project.id}`, project.rateLimitPerMinute, at);
      if (wait > 0) {
        metrics.rateLimited.inc({ limit: 'project' });
        throw new ApiError('rate_limited', 'project rate limit exceeded', [], wait);
      }
    }
    return { project, body, at };
  }

  async function projectFor(key: string): Promise<Project> {
    const p = projects.byWriteKey(key) ?? (await projects.byWriteKeyFresh(key));
    if (!p) throw new ApiError('unauthorized', 'unknown write key');
    return p;
  }

  function checkBatch(events: unknown): void {
    if (Array.isArray(events) && events.length > config.maxBatchEvents) {
      throw new ApiError(
        'payload_too_large',
        `events: ${events.length} events is over the limit of ${config.maxBatchEvents} per request`,
      );
    }
  }

  const startContext = (c: C, project: Project, at: number) => ({
    project,
    now: at,
    origin: c.req.header('origin') ?? null,
    userAgent: c.req.header('user-agent') ?? null,
    geo: resolveGeo(c.req.raw.headers, address(c), config.trustProxy, deps.geo),
  });

  const isBot = (kind: string, userAgent: string | null | undefined, c: C) =>
    kind === 'web' && isBotUserAgent(userAgent ?? c.req.header('user-agent'));

  app.post('/api/v1/sessions/start', async (c) => {
    const { project, body, at } = await admit(c);
    const input = parse(startSessionSchema, body ?? {});
    if (isBot(input.kind, input.userAgent, c)) {
      metrics.bots.inc();
      return c.json({ ignored: 'bot' }, 202);
    }
    const session = buildSession(input, startContext(c, project, at), input.sessionId);
    const r = ok(await buffer.submit({ op: 'start', session }), 'sessionId');
    return c.json(
      {
        sessionId: r.session.id,
        startedAt: new Date(r.session.startedAt).toISOString(),
        idleTimeoutMs: r.session.idleTimeoutMs,
        expiresAt: sessionToWire(r.session, now()).expiresAt,
      },
      201,
    );
  });

  app.post('/api/v1/sessions/:id/heartbeat', async (c) => {
    const { project, body } = await admit(c);
    const input = parse(heartbeatSchema, body ?? {});
    const r = ok(
      await buffer.submit({
        op: 'heartbeat',
        projectId: project.id,
        sessionId: c.req.param('id'),
        page: pagePath(input.page),
      }),
    );
    const wire = sessionToWire(r.session, now());
    return c.json({
      sessionId: wire.id,
      lastActivityAt: wire.lastActivityAt,
      expiresAt: wire.expiresAt,
      status: wire.status,
      // What an MCP integration needs to rebuild a recovered session after its process restarted.
      kind: wire.kind,
      userId: wire.userId,
      recoveryAttempts: wire.recoveryAttempts,
      metadata: wire.metadata,
    });
  });

  const events = async (c: C, single: boolean) => {
    const { project, body, at } = await admit(c);
    if (!single) checkBatch(body?.events);
    const input = single ? { events: [parse(eventSchema, body ?? {})] } : parse(eventsBatchSchema, body ?? {});
    const r = ok(
      await buffer.submit({
        op: 'events',
        projectId: project.id,
        sessionId: c.req.param('id') as string,
        events: input.events.map((e) => normalizeEvent(e, at)),
      }),
    );
    metrics.events.inc({ result: 'accepted' }, r.accepted);
    if (r.duplicates) metrics.events.inc({ result: 'duplicate' }, r.duplicates);
    return c.json({ accepted: r.accepted, duplicates: r.duplicates }, 202);
  };
  app.post('/api/v1/sessions/:id/events', (c) => events(c, false));
  app.post('/api/v1/sessions/:id/event', (c) => events(c, true));

  app.post('/api/v1/sessions/:id/end', async (c) => {
    const { project, body } = await admit(c);
    const input = parse(endSessionSchema, body ?? {});
    const r = ok(
      await buffer.submit({
        op: 'end',
        projectId: project.id,
        sessionId: c.req.param('id'),
        reason: input.reason,
        page: pagePath(input.page),
        lastAction: input.lastAction ?? null,
      }),
    );
    return c.json(sessionToWire(r.session, now()));
  });

  // MCP: the transport closed without an explicit end; the session may be recovered within its grace.
  app.post('/api/v1/sessions/:id/disconnect', async (c) => {
    const { project, body, at: requestAt } = await admit(c);
    const sessionId = c.req.param('id');
    const input = parse(disconnectSchema, body ?? {});
    const before = await deps.store.getSession(sessionId);
    const own = before && before.projectId === project.id ? before : null;
    // The caller recovers a session for this principal: another principal's session is answered
    // like a stranger's, and left as it is (a wrong id must not disconnect the owner's session).
    if (own && input.userId !== undefined && own.userId !== input.userId) {
      throw new ApiError('not_found', 'unknown session');
    }
    const r = ok(await buffer.submit({ op: 'disconnect', projectId: project.id, sessionId }));
    const wire = sessionToWire(r.session, now());
    const at = wire.status === 'disconnected' ? r.session.disconnectedAt : null;
    return c.json({
      ...wire,
      // where the grace period of a recovery counts from
      disconnectedAt: at === null ? null : new Date(at).toISOString(),
      // `active`: nobody had said the transport closed (its process died), so it closed around
      // lastActivityAt — a recovering MCP server counts the grace from there, as the embedded sink does
      previousStatus: own ? effectiveStatus(own, requestAt) : null,
    });
  });

  registerAgentStateRoutes(app, deps, admit);

  app.post('/api/v1/track', async (c) => {
    const { project, body, at } = await admit(c);
    checkBatch(body?.events);
    const input = parse(trackSchema, body ?? {});
    if (isBot(input.kind, input.userAgent, c)) {
      metrics.bots.inc();
      return c.json({ ignored: 'bot' }, 202);
    }
    const r = ok(
      await buffer.submit({
        op: 'track',
        projectId: project.id,
        sessionId: input.sessionId ?? null,
        newSession: buildSession(input, startContext(c, project, at)),
        events: input.events.map((e) => normalizeEvent(e, at)),
        end: input.end?.reason ?? null,
      }),
    );
    metrics.events.inc({ result: 'accepted' }, r.accepted);
    if (r.duplicates) metrics.events.inc({ result: 'duplicate' }, r.duplicates);
    return c.json({ sessionId: r.session.id, rotated: r.rotated, accepted: r.accepted, duplicates: r.duplicates });
  });
}

/** Validates at the boundary: a 400 that names the field, or plain typed data. */
export function parse<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const { message, details } = formatIssues(r.error);
  throw new ApiError('validation_failed', message, details);
}

function ok(r: WriteResult, idField = 'session'): Extract<WriteResult, { ok: true }> {
  if (r.ok) return r;
  switch (r.error) {
    case 'not_found':
      throw new ApiError('not_found', 'unknown session');
    case 'session_ended':
      throw new ApiError('session_ended', 'the session has ended or expired: start a new session');
    case 'conflict':
      throw new ApiError('conflict', `${idField}: this session id is already in use`);
  }
}

function isLoopback(ip: string): boolean {
  return ip === '::1' || ip.startsWith('127.') || ip.startsWith('::ffff:127.');
}

// MCP agent state over the write key, for the remote sink of @sessiontrack/mcp: only the
// project's own sessions, values of at most MAX_METADATA_BYTES of JSON.
const AGENT_STATE_PATH = '/api/v1/sessions/:id/state/:agentId/:key';

function registerAgentStateRoutes(
  app: Hono<AppEnv>,
  deps: AppDeps,
  admit: (c: C) => Promise<{ project: Project; body: Record<string, unknown> | undefined; at: number }>,
): void {
  const { store } = deps;
  const now = deps.now ?? Date.now;
  const target = async (c: C) => {
    const { project, body, at } = await admit(c);
    const sessionId = c.req.param('id') as string;
    const agentId = c.req.param('agentId') as string;
    const key = c.req.param('key') ?? '';
    if (agentId.length > 256 || key.length > 256)
      throw new ApiError('validation_failed', 'agentId, key: at most 256 characters');
    const s = await store.getSession(sessionId);
    if (!s || s.projectId !== project.id) throw new ApiError('not_found', 'unknown session');
    return { project, body, at, sessionId, agentId, key };
  };
  app.get(AGENT_STATE_PATH, async (c) => {
    const t = await target(c);
    const e = await store.getAgentState(t.sessionId, t.agentId, t.key, now());
    if (!e) throw new ApiError('not_found', 'no such key (or it expired)');
    return c.json({ value: e.value, expiresAt: e.expiresAt === null ? null : new Date(e.expiresAt).toISOString() });
  });
  app.put(AGENT_STATE_PATH, async (c) => {
    const t = await target(c);
    const input = parse(agentStateSetSchema, t.body ?? {});
    const json = JSON.stringify(input.value);
    if (Buffer.byteLength(json) > MAX_METADATA_BYTES) {
      throw new ApiError('validation_failed', `value: at most ${MAX_METADATA_BYTES} bytes of JSON`);
    }
    const expiresAt = input.ttlMs ? t.at + input.ttlMs : null;
    await store.setAgentState({
      projectId: t.project.id,
      sessionId: t.sessionId,
      agentId: t.agentId,
      key: t.key,
      value: input.value,
      expiresAt,
      updatedAt: t.at,
    });
    return c.json({ expiresAt: expiresAt === null ? null : new Date(expiresAt).toISOString() });
  });
  app.delete(AGENT_STATE_PATH, async (c) => {
    const t = await target(c);
    return c.json({ deleted: await store.deleteAgentState(t.sessionId, t.agentId, t.key) });
  });
  // Every key of one agent in the session.
  app.delete('/api/v1/sessions/:id/state/:agentId', async (c) => {
    const t = await target(c);
    return c.json({ deleted: await store.deleteAgentState(t.sessionId, t.agentId) });
  });
}
