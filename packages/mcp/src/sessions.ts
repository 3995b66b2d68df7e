import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { getRequestListener } from '@hono/node-server';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import {
  WebStandardStreamableHTTPServerTransport,
  type WebStandardStreamableHTTPServerTransportOptions,
} from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import {
  DEFAULT_GRACE_MS,
  DEFAULT_MAX_RECOVERY_ATTEMPTS,
  type Geo,
  KIND_DEFAULTS,
  MAX_GRACE_MS,
  MAX_METADATA_BYTES,
  MAX_RECOVERY_ATTEMPTS,
  randomToken,
} from '@sessiontrack/core';
import { geoFromRequest, initializeParams } from './context.js';
import { REPLAY_REQUEST_ID, replayInitialize } from './sdk-recovery.js';
import { type McpLogger, type McpSessionMetadata, type McpSink, silentLogger } from './sink.js';

/** The request as the author's framework gave it: Node's IncomingMessage, or a Web Request. */
export type McpRequest = IncomingMessage | Request;

export interface McpSessionsOptions {
  sink: McpSink;
  /** A fresh SDK server per session (McpServer or the low-level Server); it is connected here. */
  createServer: (session: {
    sessionId: string;
    recovered: boolean;
  }) => McpServer | Server | Promise<McpServer | Server>;
  /** Idle time after which the transport is closed and the session ends (default 1 h). */
  idleTimeoutMs?: number;
  /** Age at which the session ends whatever it does (default 30 days). */
  absoluteTimeoutMs?: number;
  /** Live sessions at most; a new one past it answers 503 (default 10,000). */
  maxSessions?: number;
  /** How long after its transport closed a session may be recovered (default 10 min, at most 24 h). */
  graceMs?: number;
  /** Recoveries per session (default 3, at most 100). */
  maxRecoveryAttempts?: number;
  /** The authenticated principal of a request; a session is bound to the one that created it. */
  principal?: (req: McpRequest) => string | null | undefined;
  /** The author's own metadata of a new session (JSON, stored with it, restored on recovery). */
  metadata?: (req: McpRequest) => Record<string, unknown> | null | undefined;
  /** Called after an idle or too old session was expired and its transport closed. */
  onExpired?: (sessionId: string) => void;
  logger?: McpLogger;
  /** Believe CF-IPCountry / X-Vercel-IP-Country headers (only behind a proxy that sets them). */
  trustProxy?: boolean;
  /** Geo of a request when the headers cannot tell (e.g. an IP database lookup). */
  geo?: (req: Request) => Geo;
  /** How often expiry is checked (default idle/4, between 50 ms and 30 s). */
  sweepIntervalMs?: number;
  /** Activity is written at most this often per session, tool calls aside (default 30 s). */
  touchIntervalMs?: number;
  /** How long ended and expired ids are remembered to answer 404 without a lookup (default 24 h). */
  tombstoneTtlMs?: number;
  maxTombstones?: number;
  /**
   * Serve requests that carry no session id and are not an initialize (clients of protocol
   * revisions without sessions, or of a stateless deployment) on a stateless transport, and track
   * them as sessions grouped by principal + User-Agent (default false: such requests answer 400).
   */
  sessionless?: boolean;
  /** Passed to every transport (JSON responses, DNS rebinding protection, event store, …). */
  transportOptions?: Omit<
    WebStandardStreamableHTTPServerTransportOptions,
    'sessionIdGenerator' | 'onsessioninitialized' | 'onsessionclosed'
  >;
  now?: () => number;
}

export interface McpSessionInfo {
  id: string;
  principal: string | null;
  clientName: string | null;
  clientVersion: string | null;
  protocolVersion: string | null;
  startedAt: number;
  lastActivityAt: number;
  recoveryAttempts: number;
  /** Requests being answered now. */
  inFlight: number;
  /** Tool calls seen by this process. */
  toolCalls: number;
  metadata: Record<string, unknown> | null;
}

export type Tombstone = { reason: 'logout' | 'expired' | 'unrecoverable'; at: number };

export interface McpAgentState {
  get<T = unknown>(agentId: string, sessionId: string, key: string): Promise<T | undefined>;
  set(agentId: string, sessionId: string, key: string, value: unknown, options?: { ttlMs?: number }): Promise<void>;
  delete(agentId: string, sessionId: string, key?: string): Promise<void>;
}

export interface McpSessions {
  /** Node `http` and Express: `mcp.handle(req, res, req.body)` (body optional: read here if absent). */
  handle(req: IncomingMessage, res: ServerResponse, body?: unknown): Promise<void>;
  /** Web standard (Hono, Bun, Deno, Workers): `app.all('/mcp', (c) => mcp.handleRequest(c.req.raw))`. */
  handleRequest(req: Request, options?: { parsedBody?: unknown; authInfo?: AuthInfo }): Promise<Response>;
  list(): McpSessionInfo[];
  get(sessionId: string): McpSessionInfo | undefined;
  activeCount(): number;
  /** Closes one session's transport; it stays recoverable (disconnected). False if not live. */
  close(sessionId: string): Promise<boolean>;
  /** Closes every transport; the sessions stay recoverable, e.g. across a deploy. */
  clearAll(): Promise<void>;
  /** Why a session id is no longer served, if this process remembers it. */
  tombstone(sessionId: string): Tombstone | undefined;
  /** Expires idle and too old sessions now (also runs on a timer); returns how many. */
  sweep(): Promise<number>;
  readonly state: McpAgentState;
  /** clearAll, stop the timer, flush and close the sink. */
  shutdown(): Promise<void>;
}

type SdkServer = McpServer | Server;
type Reason = 'logout' | 'expired' | 'closed';

interface Live {
  id: string;
  transport: WebStandardStreamableHTTPServerTransport;
  server: SdkServer;
  principal: string | null;
  startedAt: number;
  lastSeen: number;
  lastWritten: number;
  inFlight: number;
  pending: Map<string | number, { tool: string | null; t0: number }>;
  meta: McpSessionMetadata;
  recoveryAttempts: number;
  toolCalls: number;
  logging: boolean;
  retired: boolean;
}

/** A session's in-process record, before its first request was handled. */
function newLive(
  id: string,
  transport: WebStandardStreamableHTTPServerTransport,
  server: SdkServer,
  principal: string | null,
  startedAt: number,
  at: number,
  retired: boolean,
): Live {
  return {
    id,
    transport,
    server,
    principal,
    startedAt,
    lastSeen: at,
    lastWritten: at,
    inFlight: 0,
    pending: new Map(),
    meta: { clientName: null, clientVersion: null, protocolVersion: null, clientCapabilities: null },
    recoveryAttempts: 0,
    toolCalls: 0,
    logging: false,
    retired,
  };
}

// Tool-call event ids: a random prefix per process and a counter. Unique per session (a recovered
// session continues in another process, with another prefix), stable across a sink's retries, and
// no CSPRNG call per tool call (that was a measurable share of the integration's cost).
const EVENT_PREFIX = `mcp_${randomToken(12)}_`;
let eventSeq = 0;
const nextEventId = () => EVENT_PREFIX + (++eventSeq).toString(36);

/** First X-Forwarded-For entry (behind a trusted proxy), else the socket's peer (Node only). */
function addressOf(req: Request, source: McpRequest, trustProxy: boolean): string | null {
  const forwarded = trustProxy ? req.headers.get('x-forwarded-for')?.split(',', 1)[0]?.trim() : undefined;
  if (forwarded) return forwarded.slice(0, 64);
  return source instanceof Request ? null : (source.socket?.remoteAddress ?? null);
}

/** The Web Request with what the Node adapter adds: the original request and its parsed body. */
const nodeContext = new WeakMap<IncomingMessage, { body: unknown }>();

export function createMcpSessions(options: McpSessionsOptions): McpSessions {
  const o = options;
  const sink = o.sink;
  const log = o.logger ?? silentLogger;
  const now = o.now ?? Date.now;
  const idle = o.idleTimeoutMs ?? KIND_DEFAULTS.mcp.idleTimeoutMs;
  const absolute = o.absoluteTimeoutMs ?? KIND_DEFAULTS.mcp.absoluteTimeoutMs;
  const maxSessions = o.maxSessions ?? 10_000;
  // Stored with each session (the store enforces them as well), within the bounds its API accepts.
  const graceMs = o.graceMs ?? DEFAULT_GRACE_MS;
  const maxAttempts = o.maxRecoveryAttempts ?? DEFAULT_MAX_RECOVERY_ATTEMPTS;
  if (!(Number.isInteger(graceMs) && graceMs >= 0 && graceMs <= MAX_GRACE_MS)) {
    throw new RangeError(`graceMs: an integer from 0 to ${MAX_GRACE_MS} (24 h)`);
  }
  if (!(Number.isInteger(maxAttempts) && maxAttempts >= 0 && maxAttempts <= MAX_RECOVERY_ATTEMPTS)) {
    throw new RangeError(`maxRecoveryAttempts: an integer from 0 to ${MAX_RECOVERY_ATTEMPTS}`);
  }
  /** What every session start stores of the policy. */
  const limits = { idleTimeoutMs: idle, absoluteTimeoutMs: absolute, graceMs, maxRecoveryAttempts: maxAttempts };
  const touchEvery = o.touchIntervalMs ?? 30_000;
  const tombstoneTtl = o.tombstoneTtlMs ?? 24 * 60 * 60 * 1000;
  const maxTombstones = o.maxTombstones ?? 100_000;

  const live = new Map<string, Live>();
  const tombstones = new Map<string, Tombstone>();
  const recovering = new Map<string, Promise<Live | 'full' | null>>();

  const principalOf = (req: McpRequest) => o.principal?.(req) || null;

  const rpcError = (status: number, code: number, message: string, headers: Record<string, string> = {}) =>
    new Response(JSON.stringify({ jsonrpc: '2.0', error: { code, message }, id: null }), {
      status,
      headers: { 'content-type': 'application/json', ...headers },
    });
  const notFound = () => rpcError(404, -32001, 'Session not found');
  const full = () => rpcError(503, -32000, 'Too many sessions: try again later', { 'retry-after': '5' });

  const bury = (id: string, reason: Tombstone['reason']) => {
    tombstones.delete(id);
    tombstones.set(id, { reason, at: now() });
    // Insertion order is age order: the oldest go first.
    for (const k of tombstones.keys()) {
      if (tombstones.size <= maxTombstones) break;
      tombstones.delete(k);
    }
  };

  /** To clients that enabled logging (sent logging/setLevel); best effort, never waits long. */
  const notify = async (l: Live, level: 'info' | 'warning', data: Record<string, unknown>) => {
    if (!l.logging) return;
    const low = l.server instanceof McpServer ? l.server.server : l.server;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      // The client may be gone, or the server may not declare the logging capability.
      low.sendLoggingMessage({ level, logger: 'sessiontrack', data }, l.id).catch(() => {}),
      new Promise((r) => {
        timer = setTimeout(r, 100);
      }),
    ]);
    clearTimeout(timer);
  };

  /** Counts tool calls and requests in flight from the JSON-RPC traffic: the tool code is untouched. */
  const instrument = (l: Live, stateless = false) => {
    const t = l.transport;
    const onmessage = t.onmessage;
    t.onmessage = (msg, extra) => {
      if ('method' in msg && 'id' in msg && msg.id !== REPLAY_REQUEST_ID) {
        l.inFlight++;
        const params = msg.params as { name?: unknown } | undefined;
        l.pending.set(msg.id, {
          tool: msg.method === 'tools/call' ? String(params?.name ?? '') : null,
          t0: performance.now(),
        });
        if (msg.method === 'logging/setLevel') l.logging = true;
      } else if ('method' in msg && msg.method === 'notifications/cancelled') {
        // A cancelled request gets no answer: it must not hold its session open for ever.
        const requestId = (msg.params as { requestId?: string | number } | undefined)?.requestId;
        if (requestId !== undefined && l.pending.delete(requestId)) l.inFlight--;
      }
      onmessage?.call(t, msg, extra);
    };
    const send = t.send.bind(t);
    t.send = (msg: JSONRPCMessage, opts) => {
      if (!('method' in msg) && 'id' in msg && msg.id !== undefined) {
        const p = l.pending.get(msg.id);
        if (p) {
          l.pending.delete(msg.id);
          l.inFlight--;
          const at = now();
          l.lastSeen = at;
          if (p.tool !== null) {
            const durationMs = Math.round((performance.now() - p.t0) * 1000) / 1000;
            const isError = 'error' in msg || (msg.result as { isError?: unknown }).isError === true;
            // The answer goes out first; the bookkeeping does not delay it.
            const sent = send(msg, opts);
            l.toolCalls++;
            l.lastWritten = at;
            sink.toolCall(l.id, {
              id: nextEventId(),
              name: p.tool.slice(0, 256) || 'unknown',
              at,
              durationMs,
              isError,
            });
            return sent;
          }
        }
      }
      return send(msg, opts);
    };
    if (stateless) return;
    const onclose = t.onclose;
    t.onclose = () => {
      onclose?.call(t);
      retire(l, 'closed');
    };
  };

  /** Once per session: forget it, write why, remember the id. Idempotent. */
  const retire = (l: Live, reason: Reason) => {
    if (l.retired) return;
    l.retired = true;
    if (live.get(l.id) === l) live.delete(l.id);
    l.pending.clear();
    if (reason === 'logout') {
      sink.end(l.id, 'logout');
      bury(l.id, 'logout');
      log.info({ sessionId: l.id }, 'mcp session ended by the client');
    } else if (reason === 'expired') {
      sink.end(l.id, 'timeout');
      bury(l.id, 'expired');
      log.info({ sessionId: l.id }, 'mcp session expired');
    } else {
      sink.disconnect(l.id);
      log.info({ sessionId: l.id }, 'mcp session disconnected (recoverable)');
    }
  };

  const closeSdk = async (l: Live) => {
    try {
      await l.server.close();
    } catch (err) {
      log.warn({ sessionId: l.id, err: (err as Error).message }, 'mcp server close failed');
    }
    // The server closes its transport; this makes sure even if the author's server did not.
    await l.transport.close().catch(() => {});
  };

  const build = async (id: string, principal: string | null, recovered: boolean) => {
    let l: Live | undefined;
    const transport = new WebStandardStreamableHTTPServerTransport({
      ...o.transportOptions,
      sessionIdGenerator: () => id,
      onsessioninitialized: () => {
        if (l && !recovered) live.set(id, l);
      },
      onsessionclosed: () => {
        if (l) retire(l, 'logout');
      },
    });
    const server = await o.createServer({ sessionId: id, recovered });
    await server.connect(transport);
    const at = now();
    l = newLive(id, transport, server, principal, at, at, false);
    instrument(l);
    return l;
  };

  /** The platform's or proxy's word first; the author's lookup when they say nothing. */
  /** Where the client of a new session is: its geo, and its address for a remote sink to forward. */
  const where = (req: Request, source: McpRequest): { geo: Geo; clientAddress: string | null } => {
    const g = geoFromRequest(req, o.trustProxy ?? false);
    return {
      geo: g.country || !o.geo ? g : o.geo(req),
      clientAddress: addressOf(req, source, o.trustProxy ?? false),
    };
  };

  // Sessionless requests, grouped into sessiontrack sessions by principal + User-Agent: a group
  // ends after the idle timeout (or the absolute age) like any session.
  interface Group {
    id: string;
    startedAt: number;
    lastSeen: number;
    lastWritten: number;
  }
  const groups = new Map<string, Group>();

  const serveSessionless = async (req: Request, source: McpRequest, body: unknown, authInfo?: AuthInfo) => {
    const principal = principalOf(source);
    const userAgent = req.headers.get('user-agent');
    const key = `${principal ?? ''}\n${userAgent ?? ''}`;
    const at = now();
    let g = groups.get(key);
    if (g && (at - g.lastSeen >= idle || at - g.startedAt >= absolute)) {
      groups.delete(key);
      sink.end(g.id, 'timeout');
      g = undefined;
    }
    if (!g) {
      if (live.size + creating + groups.size >= maxSessions) return full();
      const digest = createHash('sha256').update(key).digest('base64url').slice(0, 16);
      g = { id: `mcp_sl_${digest}_${at.toString(36)}`, startedAt: at, lastSeen: at, lastWritten: at };
      groups.set(key, g);
      const custom = o.metadata?.(source) ?? null;
      sink.start({
        id: g.id,
        principal,
        startedAt: at,
        transport: 'streamable-http-stateless',
        userAgent,
        ...where(req, source),
        ...limits,
        metadata: {
          clientName: null,
          clientVersion: null,
          protocolVersion: req.headers.get('mcp-protocol-version')?.slice(0, 32) ?? null,
          clientCapabilities: null,
          ...(custom ? { custom } : {}),
        },
      });
      log.info({ sessionId: g.id, principal: principal !== null }, 'mcp sessionless group started');
    } else if (at - g.lastWritten >= touchEvery) {
      g.lastWritten = at;
      sink.touch(g.id, at);
    }
    g.lastSeen = at;
    // The SDK's stateless pattern: a fresh transport and server for this one request.
    const transport = new WebStandardStreamableHTTPServerTransport({ ...o.transportOptions });
    const server = await o.createServer({ sessionId: g.id, recovered: false });
    await server.connect(transport);
    const l = newLive(g.id, transport, server, principal, g.startedAt, at, true);
    instrument(l, true);
    const group = g;
    const release = () => {
      group.lastSeen = Math.max(group.lastSeen, now());
      server.close().catch(() => {});
    };
    const res = await transport.handleRequest(req, { parsedBody: body, authInfo });
    if (!res.body) {
      release();
      return res;
    }
    // Closed once the answer has been streamed (or the client went away).
    const body$ = res.body.pipeThrough(
      new TransformStream({
        flush: release,
      }),
    );
    return new Response(body$, { status: res.status, statusText: res.statusText, headers: res.headers });
  };

  let creating = 0;
  const create = async (req: Request, source: McpRequest, body: unknown, authInfo?: AuthInfo) => {
    // Sessions being initialized count too: a burst of initializes cannot overshoot the limit.
    if (live.size + creating >= maxSessions) return full();
    const init = initializeParams(body);
    const id = `mcp_${randomToken(32)}`;
    creating++;
    let l: Live;
    let res: Response;
    try {
      l = await build(id, principalOf(source), false);
      res = await l.transport.handleRequest(req, { parsedBody: body, authInfo });
    } finally {
      creating--;
    }
    if (!live.has(id)) {
      // The initialize was refused (malformed, …): nothing to keep.
      l.retired = true;
      await closeSdk(l);
      return res;
    }
    const custom = o.metadata?.(source) ?? null;
    l.meta = {
      clientName: init?.clientName ?? null,
      clientVersion: init?.clientVersion ?? null,
      protocolVersion: init?.protocolVersion ?? null,
      clientCapabilities: init?.capabilities ?? null,
      ...(custom ? { custom } : {}),
    };
    // Session metadata is at most 8 KiB of JSON (the server refuses more): the author's part goes
    // first, then the capabilities (recovery then replays an empty set).
    for (const drop of ['custom', 'clientCapabilities'] as const) {
      if (Buffer.byteLength(JSON.stringify(l.meta)) <= MAX_METADATA_BYTES) break;
      log.warn({ sessionId: id, dropped: drop }, 'mcp session metadata over 8 KiB: part of it not stored');
      l.meta = { ...l.meta, [drop]: null };
    }
    sink.start({
      id,
      principal: l.principal,
      startedAt: l.startedAt,
      transport: 'streamable-http',
      userAgent: req.headers.get('user-agent'),
      ...where(req, source),
      ...limits,
      metadata: l.meta,
    });
    log.info({ sessionId: id, client: l.meta.clientName, principal: l.principal !== null }, 'mcp session started');
    return res;
  };

  const rebuild = async (req: Request, id: string, principal: string | null): Promise<Live | 'full' | null> => {
    if (live.size >= maxSessions) return 'full';
    const r = await sink.recover(id, { principal, graceMs, maxRecoveryAttempts: maxAttempts }, now());
    if (!r.ok) {
      // A principal mismatch must not bury the owner's session (that would let anyone end it).
      if (r.reason === 'ended' || r.reason === 'grace_expired' || r.reason === 'attempts_exhausted') {
        bury(id, 'unrecoverable');
      }
      log.info({ sessionId: id, reason: r.reason }, 'mcp session not recovered');
      return null;
    }
    const l = await build(id, r.session.principal, true);
    try {
      await replayInitialize(
        l.transport,
        id,
        {
          protocolVersion: r.session.metadata.protocolVersion,
          capabilities: r.session.metadata.clientCapabilities,
          clientName: r.session.metadata.clientName,
          clientVersion: r.session.metadata.clientVersion,
        },
        req,
      );
    } catch (err) {
      log.error({ sessionId: id, err: (err as Error).message }, 'mcp session recovery failed');
      l.retired = true;
      await closeSdk(l);
      return null;
    }
    l.startedAt = r.session.startedAt;
    l.meta = r.session.metadata;
    l.recoveryAttempts = r.session.recoveryAttempts;
    live.set(id, l);
    log.info({ sessionId: id, attempt: l.recoveryAttempts }, 'mcp session recovered');
    return l;
  };

  const handleRequest = async (
    req: Request,
    opts: { parsedBody?: unknown; authInfo?: AuthInfo; source?: McpRequest } = {},
  ): Promise<Response> => {
    const source = opts.source ?? req;
    const id = req.headers.get('mcp-session-id');
    let body = opts.parsedBody;
    if (!id) {
      if (req.method !== 'POST') return rpcError(400, -32000, 'Bad Request: Mcp-Session-Id header is required');
      if (body === undefined) {
        try {
          body = await req.json();
        } catch {
          return rpcError(400, -32700, 'Parse error: Invalid JSON');
        }
      }
      if (!initializeParams(body)) {
        if (o.sessionless) return serveSessionless(req, source, body, opts.authInfo);
        return rpcError(400, -32000, 'Bad Request: Mcp-Session-Id header is required');
      }
      return create(req, source, body, opts.authInfo);
    }
    const principal = principalOf(source);
    let l: Live | 'full' | null | undefined = live.get(id);
    if (!l) {
      // A DELETE is recovered too: the client ends its session (logout) even after a restart.
      if (tombstones.has(id)) return notFound();
      let p = recovering.get(id);
      if (!p) {
        // One recovery per id, however many requests arrive at once.
        p = rebuild(req, id, principal).finally(() => recovering.delete(id));
        recovering.set(id, p);
      }
      try {
        l = await p;
      } catch (err) {
        // Storage (or the sessiontrack server) did not answer: the client may retry.
        log.warn({ sessionId: id, err: (err as Error).message }, 'mcp session recovery: sink unavailable');
        return rpcError(503, -32000, 'Session store unavailable: try again', { 'retry-after': '2' });
      }
      if (l === 'full') return full();
    }
    if (!l || l.principal !== principal) return notFound();
    const at = now();
    l.lastSeen = at;
    if (at - l.lastWritten >= touchEvery) {
      l.lastWritten = at;
      sink.touch(id, at);
    }
    return l.transport.handleRequest(req, { parsedBody: body, authInfo: opts.authInfo });
  };

  const listener = getRequestListener(
    (request, env) => {
      const incoming = (env as { incoming: IncomingMessage & { auth?: AuthInfo } }).incoming;
      const ctx = nodeContext.get(incoming);
      return handleRequest(request, { parsedBody: ctx?.body, authInfo: incoming.auth, source: incoming });
    },
    { overrideGlobalObjects: false },
  );

  const sweep = async () => {
    const at = now();
    const expired: Live[] = [];
    for (const l of live.values()) {
      // A request being answered keeps its session from idling out; the absolute age is a hard
      // cap (so an answer that never comes cannot pin a session for ever).
      if (at - l.startedAt >= absolute || (l.inFlight === 0 && at - l.lastSeen >= idle)) expired.push(l);
    }
    for (const l of expired) {
      await notify(l, 'info', { event: 'session_expired', sessionId: l.id });
      retire(l, 'expired');
      await closeSdk(l);
      try {
        o.onExpired?.(l.id);
      } catch (err) {
        log.warn({ sessionId: l.id, err: (err as Error).message }, 'onExpired threw');
      }
    }
    for (const [k, g] of groups) {
      if (at - g.lastSeen < idle && at - g.startedAt < absolute) continue;
      groups.delete(k);
      sink.end(g.id, 'timeout');
    }
    for (const [k, t] of tombstones) {
      if (at - t.at < tombstoneTtl) break;
      tombstones.delete(k);
    }
    return expired.length;
  };
  const sweepEvery = o.sweepIntervalMs ?? Math.min(30_000, Math.max(50, Math.floor(Math.min(idle, absolute) / 4)));
  const timer = setInterval(() => {
    sweep().catch((err) => log.error({ err: (err as Error).message }, 'mcp session sweep failed'));
  }, sweepEvery);
  timer.unref();

  const info = (l: Live): McpSessionInfo => ({
    id: l.id,
    principal: l.principal,
    clientName: l.meta.clientName,
    clientVersion: l.meta.clientVersion,
    protocolVersion: l.meta.protocolVersion,
    startedAt: l.startedAt,
    lastActivityAt: l.lastSeen,
    recoveryAttempts: l.recoveryAttempts,
    inFlight: l.inFlight,
    toolCalls: l.toolCalls,
    metadata: l.meta.custom ?? null,
  });

  const closeOne = async (l: Live) => {
    retire(l, 'closed');
    await closeSdk(l);
  };

  const checkIds = (agentId: string, key?: string) => {
    if (!agentId || agentId.length > 256 || (key !== undefined && (!key || key.length > 256))) {
      throw new RangeError('agentId and key: 1-256 characters');
    }
  };

  return {
    handle: async (req, res, body) => {
      if (body !== undefined) nodeContext.set(req, { body });
      await listener(req, res);
    },
    handleRequest: (req, opts) => handleRequest(req, opts),
    list: () => [...live.values()].map(info),
    get: (id) => {
      const l = live.get(id);
      return l ? info(l) : undefined;
    },
    activeCount: () => live.size,
    close: async (id) => {
      const l = live.get(id);
      if (!l) return false;
      await closeOne(l);
      return true;
    },
    clearAll: async () => {
      await Promise.all([...live.values()].map(closeOne));
    },
    tombstone: (id) => tombstones.get(id),
    sweep,
    state: {
      get: async <T>(agentId: string, sessionId: string, key: string) => {
        checkIds(agentId, key);
        return (await sink.state.get(sessionId, agentId, key)) as T | undefined;
      },
      set: async (agentId, sessionId, key, value, opts = {}) => {
        checkIds(agentId, key);
        const json = JSON.stringify(value);
        if (json === undefined) throw new TypeError('agent state: the value must be JSON');
        if (Buffer.byteLength(json) > MAX_METADATA_BYTES) {
          throw new RangeError(`agent state: at most ${MAX_METADATA_BYTES} bytes of JSON`);
        }
        const ttl = opts.ttlMs;
        if (ttl !== undefined && !(Number.isInteger(ttl) && ttl > 0)) throw new RangeError('ttlMs: a positive integer');
        await sink.state.set(sessionId, agentId, key, JSON.parse(json), ttl ?? null);
      },
      delete: async (agentId, sessionId, key) => {
        checkIds(agentId, key);
        await sink.state.delete(sessionId, agentId, key);
      },
    },
    shutdown: async () => {
      clearInterval(timer);
      await Promise.all([...live.values()].map(closeOne));
      await sink.close();
    },
  };
}
