import { requestBodyTooLargeMessage } from '@modelcontextprotocol/sdk/server/requestBody.js';

// The answers the handler gives itself, before (or instead of) a session's SDK transport: the
// statuses the Streamable HTTP spec asks for, with a JSON-RPC error body and a null id.

export function rpcError(status: number, code: number, message: string, headers: Record<string, string> = {}) {
  return new Response(JSON.stringify({ jsonrpc: '2.0', error: { code, message }, id: null }), {
    status,
    headers: { 'content-type': 'application/json', ...headers },
  });
}

/** Unknown, ended, unrecoverable, or another principal's: the same answer for all of them. */
export const sessionNotFound = () => rpcError(404, -32001, 'Session not found');
export const sessionIdRequired = () => rpcError(400, -32000, 'Bad Request: Mcp-Session-Id header is required');
export const invalidJson = () => rpcError(400, -32700, 'Parse error: Invalid JSON');
/** The SDK's own answer to a body over its bound, and `Connection: close`: the rest is not read. */
export const bodyTooLarge = (maxBytes: number) =>
  rpcError(413, -32000, requestBodyTooLargeMessage(maxBytes), { connection: 'close' });
/** Past `maxSessions`. */
export const tooManySessions = () =>
  rpcError(503, -32000, 'Too many sessions: try again later', { 'retry-after': '5' });
/** The sink could not be asked whether a session may be recovered: the client may retry. */
export const sinkUnavailable = () =>
  rpcError(503, -32000, 'Session store unavailable: try again', { 'retry-after': '2' });
