import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import { initializeParams } from './context.js';
import { agentState, type McpAgentState } from './sessions/agent-state.js';
import { Capacity } from './sessions/capacity.js';
import { createSession } from './sessions/create-session.js';
import { type Expiry, startSweeping, sweep } from './sessions/expiry-sweep.js';
import { refusedHost } from './sessions/host-check.js';
import { infoOf, type Live, LiveSessions, type McpSessionInfo } from './sessions/live-sessions.js';
import { nodeAdapter } from './sessions/node-adapter.js';
import { type McpRequest, type McpSessionsOptions, settingsOf } from './sessions/options.js';
import { type Recovered, Recovery } from './sessions/recovery.js';
import { readJsonBody } from './sessions/request-body.js';
import { sessionIdRequired, sessionNotFound, sinkUnavailable, tooManySessions } from './sessions/rpc-errors.js';
import { SessionTransports } from './sessions/session-transport.js';
import { SessionlessGroups } from './sessions/sessionless.js';
import { requestTelemetry } from './sessions/telemetry.js';
import { type Tombstone, Tombstones } from './sessions/tombstones.js';
import { countToolCall } from './sessions/tool-calls.js';
import type { RequestHooks } from './sessions/transport-instrumentation.js';

// The MCP request handler: where a request goes (a new session, a live one, a recovery, a
// sessionless group, or an error answer), and the parts in sessions/ put together.

export type { McpAgentState, McpRequest, McpSessionInfo, McpSessionsOptions, Tombstone };

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

export function createMcpSessions(options: McpSessionsOptions): McpSessions {
  const s = settingsOf(options);
  const { sink, now } = s;
  const tombstones = new Tombstones(s.maxTombstones, s.tombstoneTtlMs);
  const telemetry = requestTelemetry(options.openTelemetry);
  const live = new LiveSessions(sink, tombstones, s.log, now, (l, reason) => {
    if (!telemetry) return;
    for (const request of l.pending.values()) telemetry.abandon(request, `session_${reason}`);
    telemetry.sessionEnded(l);
  });
  // The one place that sees each JSON-RPC request begin and end (method, id, tool, duration,
  // error): activity, tool calls, and the OpenTelemetry span and metric of each request.
  const hooks: RequestHooks<Live> = {
    begin: (l, request) => {
      if (request.method === 'logging/setLevel') l.logging = true;
    },
    end: (l, request, end) => {
      const at = now();
      l.lastSeen = at;
      if (request.tool !== null) countToolCall(sink, l, request.tool, end, at);
      telemetry?.end(l, request, end);
    },
    ...(telemetry && {
      deliver: (l, request, params, deliver) => telemetry.begin(l, request, params, deliver),
      cancelled: (_l, request) => telemetry.abandon(request, 'cancelled'),
    }),
  };
  const transports = new SessionTransports(s, live, hooks);
  const capacity: Capacity = new Capacity(s.maxSessions, () => live.size + groups.size);
  const groups = new SessionlessGroups(s, capacity, transports);
  const recovery = new Recovery(s, live, tombstones, capacity, transports);
  const creation = { s, live, capacity, transports };
  const expiry: Expiry = { s, live, groups, tombstones };
  const stopSweeping = startSweeping(expiry);

  const handleRequest = async (
    req: Request,
    opts: { parsedBody?: unknown; authInfo?: AuthInfo; source?: McpRequest } = {},
  ): Promise<Response> => {
    const source = opts.source ?? req;
    const refused = refusedHost(s, req, source);
    if (refused) return refused;
    const id = req.headers.get('mcp-session-id');
    let body = opts.parsedBody;
    if (!id) {
      if (req.method !== 'POST') return sessionIdRequired();
      if (body === undefined) {
        const read = await readJsonBody(req, s.maxBodyBytes);
        if (read instanceof Response) return read;
        body = read.body;
      }
      if (initializeParams(body)) return createSession(creation, req, source, body, opts.authInfo);
      if (options.sessionless) return groups.serve(req, source, body, opts.authInfo);
      return sessionIdRequired();
    }
    const principal = s.principalOf(source);
    let l: Recovered | undefined = live.get(id);
    if (!l) {
      // A DELETE is recovered too: the client ends its session (logout) even after a restart.
      if (tombstones.has(id)) return sessionNotFound();
      try {
        l = await recovery.recover(req, id, principal);
      } catch (err) {
        s.log.warn({ sessionId: id, err: (err as Error).message }, 'mcp session recovery: sink unavailable');
        return sinkUnavailable();
      }
      if (l === 'full') return tooManySessions();
    }
    if (!l || l.principal !== principal) return sessionNotFound();
    const at = now();
    l.lastSeen = at;
    if (at - l.lastWritten >= s.touchIntervalMs) {
      l.lastWritten = at;
      sink.touch(id, at);
    }
    return l.transport.handleRequest(req, { parsedBody: body, authInfo: opts.authInfo });
  };

  return {
    handle: nodeAdapter(handleRequest),
    handleRequest: (req, opts) => handleRequest(req, opts),
    list: () => [...live.values()].map(infoOf),
    get: (id) => {
      const l = live.get(id);
      return l ? infoOf(l) : undefined;
    },
    activeCount: () => live.size,
    close: async (id) => {
      const l = live.get(id);
      if (!l) return false;
      await live.close(l);
      return true;
    },
    clearAll: () => live.closeAll(),
    tombstone: (id) => tombstones.get(id),
    sweep: () => sweep(expiry),
    state: agentState(sink.state),
    shutdown: async () => {
      stopSweeping();
      await live.closeAll();
      await sink.close();
    },
  };
}
