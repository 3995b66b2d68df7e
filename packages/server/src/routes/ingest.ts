import {
  buildSession,
  disconnectSchema,
  effectiveStatus,
  endSessionSchema,
  eventSchema,
  eventsBatchSchema,
  heartbeatSchema,
  isBotUserAgent,
  normalizeEvent,
  type Project,
  pagePath,
  sessionToWire,
  startSessionSchema,
  trackSchema,
} from '@sessiontrack/core';
import type { WriteResult } from '@sessiontrack/store';
import { type Context, Hono } from 'hono';
import type { AppEnv, RouteDeps } from '../app-deps.js';
import { ApiError } from '../errors.js';
import { resolveGeo } from '../geo.js';
import { parse } from '../validate.js';
import { admission } from './admission.js';

// Ingest routes (write key), mounted at /api/v1. Every request: admission (admission.ts: address
// rate limit → write key → body → Origin → project rate limit) → schema → one operation into the
// group commit (write-buffer.ts), answered after it is committed.

type C = Context<AppEnv>;

const INGEST_PATHS = [
  '/track',
  '/sessions/start',
  '/sessions/:id/heartbeat',
  '/sessions/:id/events',
  '/sessions/:id/event',
  '/sessions/:id/end',
  '/sessions/:id/disconnect',
];

export function ingestRoutes(deps: RouteDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const { config, metrics, buffer, now } = deps;
  const { admit, client } = admission(deps);

  // Trackers post from any page; the project's allowedOrigins is enforced per request below,
  // once the write key says which project it is (a preflight carries no key). Headers are set
  // before the handler runs, never on a finished response (see ../app.ts).
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
    geo: resolveGeo(c.req.raw.headers, client(c), deps.geo),
  });

  const isBot = (kind: string, userAgent: string | null | undefined, c: C) =>
    kind === 'web' && isBotUserAgent(userAgent ?? c.req.header('user-agent'));

  app.post('/sessions/start', async (c) => {
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

  app.post('/sessions/:id/heartbeat', async (c) => {
    const { project, body } = await admit(c);
    const input = parse(heartbeatSchema, body ?? {});
    const r = ok(
      await buffer.submit({
        op: 'heartbeat',
        projectId: project.id,
        sessionId: c.req.param('id'),
        page: pagePath(input.page),
        engagedMs: input.engagedMs,
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
  app.post('/sessions/:id/events', (c) => events(c, false));
  app.post('/sessions/:id/event', (c) => events(c, true));

  app.post('/sessions/:id/end', async (c) => {
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
  app.post('/sessions/:id/disconnect', async (c) => {
    const { project, body, at: requestAt } = await admit(c);
    const sessionId = c.req.param('id');
    const input = parse(disconnectSchema, body ?? {});
    const own = await deps.store.getSession(project.id, sessionId);
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

  app.post('/track', async (c) => {
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
        engagedMs: input.engagedMs,
      }),
    );
    metrics.events.inc({ result: 'accepted' }, r.accepted);
    if (r.duplicates) metrics.events.inc({ result: 'duplicate' }, r.duplicates);
    return c.json({ sessionId: r.session.id, rotated: r.rotated, accepted: r.accepted, duplicates: r.duplicates });
  });
  return app;
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
