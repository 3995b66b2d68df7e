import type { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { REPLAY_REQUEST_ID } from '../sdk-recovery.js';

// Reads a session's JSON-RPC traffic by wrapping its transport's `onmessage` (requests in) and
// `send` (answers out), so the author's tool code stays untouched. Every request is tracked from
// its arrival to its answer; `RequestHooks` is the one place that sees both ends (the handler
// counts tool calls there; spans or metrics of a request belong there too).

export type RequestId = string | number;

/** One JSON-RPC request, from its arrival on the transport. */
export interface TrackedRequest {
  readonly id: RequestId;
  readonly method: string;
  /** The tool of a `tools/call` (as the client named it, '' for none), else null. */
  readonly tool: string | null;
  /** `performance.now()` at arrival. */
  readonly t0: number;
}

/** How a tracked request was answered. */
export interface RequestEnd {
  /** From arrival until the answer was handed to the transport, in ms to the µs. */
  readonly durationMs: number;
  /** The JSON-RPC error of the answer, else null. */
  readonly error: { readonly code: number; readonly message: string } | null;
  /** A `tools/call` answered with a result that says `isError: true` (the tool's own failure). */
  readonly toolError: boolean;
  /** The answer's `result` (undefined for an error answer). */
  readonly result: unknown;
}

/**
 * What the instrumentation keeps on a session: its requests not answered yet, by id. The count in
 * flight is `pending.size`, never a counter of its own: a counter drifts as soon as one arrival is
 * not matched by one answer (a repeated id, a cancel, a request the SDK drops), and a session
 * that seems busy never idles out.
 */
export interface InFlight {
  readonly pending: Map<RequestId, TrackedRequest>;
}

export interface RequestHooks<S extends InFlight> {
  /** A request arrived, before the SDK sees it. */
  begin(session: S, request: TrackedRequest): void;
  /**
   * Hands the request to the SDK: `deliver` must be called once, now (a span makes itself the
   * active context around it). Without it the request is delivered directly.
   */
  deliver?(session: S, request: TrackedRequest, params: unknown, deliver: () => void): void;
  /** The client cancelled it: it gets no answer, `end` is not called. */
  cancelled?(session: S, request: TrackedRequest): void;
  /**
   * Its answer was handed to the transport (after `send`: the bookkeeping never delays an answer).
   * Not called for a request the client cancelled (it gets no answer) or one still pending when
   * the session was retired.
   */
  end(session: S, request: TrackedRequest, end: RequestEnd): void;
}

export function instrumentTransport<S extends InFlight>(
  t: WebStandardStreamableHTTPServerTransport,
  session: S,
  hooks: RequestHooks<S>,
): void {
  const onmessage = t.onmessage;
  t.onmessage = (msg, extra) => {
    // The replayed initialize of a recovery is the handler's own, not the client's.
    // A repeated id (JSON-RPC forbids it while the first is pending) is not tracked again: the first
    // answer with that id ends the one tracked request, so begin and end stay paired.
    if ('method' in msg && 'id' in msg && msg.id !== REPLAY_REQUEST_ID && !session.pending.has(msg.id)) {
      const params = msg.params as { name?: unknown } | undefined;
      const request: TrackedRequest = {
        id: msg.id,
        method: msg.method,
        tool: msg.method === 'tools/call' ? String(params?.name ?? '') : null,
        t0: performance.now(),
      };
      session.pending.set(msg.id, request);
      hooks.begin(session, request);
      if (hooks.deliver) {
        hooks.deliver(session, request, msg.params, () => onmessage?.call(t, msg, extra));
        return;
      }
    } else if ('method' in msg && msg.method === 'notifications/cancelled') {
      // A cancelled request gets no answer: it must not hold its session open for ever.
      const requestId = (msg.params as { requestId?: RequestId } | undefined)?.requestId;
      const request = requestId === undefined ? undefined : session.pending.get(requestId);
      if (request) {
        session.pending.delete(request.id);
        hooks.cancelled?.(session, request);
      }
    }
    onmessage?.call(t, msg, extra);
  };
  const send = t.send.bind(t);
  t.send = (msg: JSONRPCMessage, opts) => {
    const request = !('method' in msg) && 'id' in msg && msg.id !== undefined ? session.pending.get(msg.id) : undefined;
    if (!request) return send(msg, opts);
    session.pending.delete(request.id);
    const durationMs = Math.round((performance.now() - request.t0) * 1000) / 1000;
    const sent = send(msg, opts);
    const error = 'error' in msg ? msg.error : null;
    const result = 'result' in msg ? msg.result : undefined;
    const toolError = request.tool !== null && (result as { isError?: unknown } | undefined)?.isError === true;
    hooks.end(session, request, { durationMs, error, toolError, result });
    return sent;
  };
}
