import type { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import { LATEST_PROTOCOL_VERSION, SUPPORTED_PROTOCOL_VERSIONS } from '@modelcontextprotocol/sdk/types.js';

// THE ONE PLACE that works around the SDK having no public API to rebuild a session on a fresh
// transport (typescript-sdk issue #1658). Everything SDK-version-specific about recovery is here;
// sdk-recovery.test.ts fails loudly when an SDK upgrade breaks it.
//
// Approach: no private fields. The fresh transport is created with a `sessionIdGenerator` that
// returns the old id, and the session's original `initialize` request (client info, capabilities,
// protocol version, all kept in the session's metadata) is replayed through the transport's
// public `handleRequest`, followed by `notifications/initialized`. The SDK then holds exactly the
// state a real handshake gives it: the transport's session id and "initialized" flag, and the
// Server's client version and capabilities. The replayed requests never reach the network.
//
// What this cannot restore: per-session SDK state beyond the handshake (a `logging/setLevel`,
// resource subscriptions, an in-flight request of the dead process). Clients re-send those.

export interface ReplayedInitialize {
  protocolVersion: string | null;
  capabilities: Record<string, unknown> | null;
  clientName: string | null;
  clientVersion: string | null;
}

export class SdkRecoveryError extends Error {
  constructor(message: string) {
    super(`@sessiontrack/mcp could not rebuild an MCP session on this SDK version: ${message}`);
    this.name = 'SdkRecoveryError';
  }
}

/** A JSON-RPC id no client sends: the replayed initialize is recognisable in logs. */
export const REPLAY_REQUEST_ID = 'sessiontrack-recovery-initialize';

/**
 * Brings `transport` (already connected to a fresh server, created with a `sessionIdGenerator`
 * returning `sessionId`) to the state of an initialized session. `like` is the client's request
 * that triggered the recovery: its URL and Host/Origin headers pass the transport's own checks.
 */
export async function replayInitialize(
  transport: WebStandardStreamableHTTPServerTransport,
  sessionId: string,
  init: ReplayedInitialize,
  like: Request,
): Promise<void> {
  const protocolVersion =
    init.protocolVersion && SUPPORTED_PROTOCOL_VERSIONS.includes(init.protocolVersion)
      ? init.protocolVersion
      : LATEST_PROTOCOL_VERSION;
  const headers = (extra: Record<string, string>) => {
    const h = new Headers({ 'content-type': 'application/json', accept: 'application/json, text/event-stream' });
    for (const name of ['host', 'origin']) {
      const v = like.headers.get(name);
      if (v) h.set(name, v);
    }
    for (const [k, v] of Object.entries(extra)) h.set(k, v);
    return h;
  };
  const post = (body: unknown, extra: Record<string, string> = {}) =>
    transport.handleRequest(
      new Request(like.url, { method: 'POST', headers: headers(extra), body: JSON.stringify(body) }),
    );

  const res = await post({
    jsonrpc: '2.0',
    id: REPLAY_REQUEST_ID,
    method: 'initialize',
    params: {
      protocolVersion,
      capabilities: init.capabilities ?? {},
      clientInfo: { name: init.clientName ?? 'unknown', version: init.clientVersion ?? '0' },
    },
  });
  // The answer (SSE or JSON) must be read to its end: the transport releases the stream then.
  const text = await res.text();
  if (res.status !== 200 || !text.includes('"result"')) {
    throw new SdkRecoveryError(`replayed initialize answered ${res.status}: ${text.slice(0, 200)}`);
  }
  if (transport.sessionId !== sessionId) {
    throw new SdkRecoveryError(`the transport took session id ${String(transport.sessionId)}, not the recovered one`);
  }
  const note = await post(
    { jsonrpc: '2.0', method: 'notifications/initialized' },
    { 'mcp-session-id': sessionId, 'mcp-protocol-version': protocolVersion },
  );
  await note.text();
  if (note.status !== 202) throw new SdkRecoveryError(`replayed notifications/initialized answered ${note.status}`);
}
