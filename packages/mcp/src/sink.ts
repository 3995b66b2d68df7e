import type { Geo } from '@sessiontrack/core';

// What the session handler tells a sink, and what it asks of it. A sink turns these calls into
// sessiontrack writes: the embedded sink into `Store.commit` batches, the remote sink into
// requests to a running sessiontrack server. Writes are queued (never awaited by a request) but
// a session's start, which the initialize answer waits for; `recover` and agent state are answered.

/** A new MCP session, as the handler saw its initialize request. */
export interface McpSessionStart {
  id: string;
  /** The principal the session is bound to; stored as the session's userId. */
  principal: string | null;
  startedAt: number;
  /** 'streamable-http'. */
  transport: string;
  /** The client's User-Agent header. */
  userAgent: string | null;
  geo: Geo;
  /**
   * The client's IP address (the right-most untrusted X-Forwarded-For hop with `trustProxy`, else
   * the socket's peer).
   * Never stored: the remote sink forwards it so that a sessiontrack server run with --trust-proxy
   * can derive the country, as it does for its own clients.
   */
  clientAddress: string | null;
  idleTimeoutMs: number;
  absoluteTimeoutMs: number;
  /** Stored with the session: the store refuses a recovery past them too. */
  graceMs: number;
  maxRecoveryAttempts: number;
  /** Stored as the session's metadata: client info, protocol version, capabilities and the author's own. */
  metadata: McpSessionMetadata;
}

/** The session metadata this package writes (and reads back to recover a session). */
export interface McpSessionMetadata extends Record<string, unknown> {
  clientName: string | null;
  clientVersion: string | null;
  protocolVersion: string | null;
  /** The client's capabilities from initialize (needed to rebuild the SDK server on recovery). */
  clientCapabilities: Record<string, unknown> | null;
  /** Whatever the `metadata` option returned for the session. */
  custom?: Record<string, unknown> | null;
}

export interface McpToolCall {
  /** A unique id: retries of the same write are stored once. */
  id: string;
  name: string;
  at: number;
  durationMs: number;
  isError: boolean;
}

/** How `recover` decides; the handler's options. */
export interface RecoveryPolicy {
  principal: string | null;
  graceMs: number;
  maxRecoveryAttempts: number;
}

/** A session brought back: what the handler needs to rebuild it on a fresh transport. */
export interface RecoveredSession {
  id: string;
  principal: string | null;
  startedAt: number;
  recoveryAttempts: number;
  metadata: McpSessionMetadata;
}

/** Why `recover` said no; `not_found` = never seen (or another project's). */
export type RecoveryRefusal = 'not_found' | 'principal_mismatch' | 'ended' | 'grace_expired' | 'attempts_exhausted';

export type RecoveryResult = { ok: true; session: RecoveredSession } | { ok: false; reason: RecoveryRefusal };

export interface AgentStateBackend {
  get(sessionId: string, agentId: string, key: string): Promise<unknown | undefined>;
  set(sessionId: string, agentId: string, key: string, value: unknown, ttlMs: number | null): Promise<void>;
  /** Deletes one key, or all of the agent's keys in the session without `key`. */
  delete(sessionId: string, agentId: string, key?: string): Promise<void>;
}

export interface McpSink {
  /** 'embedded' or 'remote', for logs. */
  readonly kind: string;
  /**
   * Written before the client hears of the session: the handler awaits it before the initialize
   * answer goes out, and answers 503 if it rejects (a session the client knows must survive a
   * crash of this process). Everything else may stay queued.
   */
  start(session: McpSessionStart): Promise<void> | void;
  toolCall(sessionId: string, call: McpToolCall): void;
  /** Activity without a tool call (any request on the session). The caller throttles. */
  touch(sessionId: string, at: number): void;
  end(sessionId: string, reason: 'logout' | 'timeout' | 'error'): void;
  /** The transport closed without DELETE: recoverable within the grace period. */
  disconnect(sessionId: string): void;
  /**
   * Looks the session up (after writing everything queued for it), decides with `policy`, and if
   * it may be recovered, marks it recovered (one attempt counted). A session that was still
   * `active` (its process died) is treated as disconnected at its last activity.
   */
  recover(sessionId: string, policy: RecoveryPolicy, now: number): Promise<RecoveryResult>;
  readonly state: AgentStateBackend;
  /** Writes everything queued; resolves when done or given up (see the sink's retry rules). */
  flush(): Promise<void>;
  /** Flushes and stops. */
  close(): Promise<void>;
}

/** A pino-compatible logger subset; lifecycle events are logged at info. */
export interface McpLogger {
  debug(obj: Record<string, unknown>, msg: string): void;
  info(obj: Record<string, unknown>, msg: string): void;
  warn(obj: Record<string, unknown>, msg: string): void;
  error(obj: Record<string, unknown>, msg: string): void;
}

export const silentLogger: McpLogger = { debug() {}, info() {}, warn() {}, error() {} };
