import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import { MAX_METADATA_BYTES, randomToken } from '@sessiontrack/core';
import { initializeParams } from '../context.js';
import type { McpSessionMetadata, McpSessionStart } from '../sink.js';
import type { Capacity } from './capacity.js';
import { clientLocation } from './client-location.js';
import { closeSdk, type Live, type LiveSessions } from './live-sessions.js';
import type { McpRequest, Settings } from './options.js';
import { sinkUnavailable, tooManySessions } from './rpc-errors.js';
import type { SessionTransports } from './session-transport.js';

// A new session from an initialize request: a fresh id and transport, and, once the SDK accepted
// the initialize, its start written to the sink.

export interface Creation {
  s: Settings;
  live: LiveSessions;
  capacity: Capacity;
  transports: SessionTransports;
}

export async function createSession(
  c: Creation,
  req: Request,
  source: McpRequest,
  body: unknown,
  authInfo?: AuthInfo,
): Promise<Response> {
  const { s, live } = c;
  if (!c.capacity.hasRoom()) return tooManySessions();
  const id = `mcp_${randomToken(32)}`;
  const { l, res } = await c.capacity.holding(async () => {
    const l = await c.transports.stateful(id, s.principalOf(source), false);
    return { l, res: await l.transport.handleRequest(req, { parsedBody: body, authInfo }) };
  });
  if (!live.has(id)) {
    // The initialize was refused (malformed, …): nothing to keep.
    l.retired = true;
    await closeSdk(l, s.log);
    return res;
  }
  l.meta = boundedMetadata(s, id, sessionMetadata(s, source, body));
  // Durable before the client learns the id (the answer is not sent before this returns): a
  // session it was told about must be recoverable after a crash. If the sink cannot take it, the
  // client is told to retry, and nothing of the session stays.
  try {
    await s.sink.start(startOf(s, l, req, source));
  } catch (err) {
    s.log.warn({ sessionId: id, err: (err as Error).message }, 'mcp session start not stored: refused');
    live.discard(l);
    await res.body?.cancel().catch(() => {});
    await closeSdk(l, s.log);
    return sinkUnavailable();
  }
  s.log.info({ sessionId: id, client: l.meta.clientName, principal: l.principal !== null }, 'mcp session started');
  return res;
}

function startOf(s: Settings, l: Live, req: Request, source: McpRequest): McpSessionStart {
  return {
    id: l.id,
    principal: l.principal,
    startedAt: l.startedAt,
    transport: 'streamable-http',
    userAgent: req.headers.get('user-agent'),
    ...clientLocation(s, req, source),
    ...s.limits,
    metadata: l.meta,
  };
}

function sessionMetadata(s: Settings, source: McpRequest, body: unknown): McpSessionMetadata {
  const init = initializeParams(body);
  const custom = s.options.metadata?.(source) ?? null;
  return {
    clientName: init?.clientName ?? null,
    clientVersion: init?.clientVersion ?? null,
    protocolVersion: init?.protocolVersion ?? null,
    clientCapabilities: init?.capabilities ?? null,
    ...(custom ? { custom } : {}),
  };
}

/**
 * Session metadata is at most 8 KiB of JSON (the server refuses more): the author's part goes
 * first, then the capabilities (recovery then replays an empty set).
 */
function boundedMetadata(s: Settings, id: string, meta: McpSessionMetadata): McpSessionMetadata {
  let m = meta;
  for (const drop of ['custom', 'clientCapabilities'] as const) {
    if (Buffer.byteLength(JSON.stringify(m)) <= MAX_METADATA_BYTES) break;
    s.log.warn({ sessionId: id, dropped: drop }, 'mcp session metadata over 8 KiB: part of it not stored');
    m = { ...m, [drop]: null };
  }
  return m;
}
