import type { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import type { McpLogger, McpSessionMetadata, McpSink } from '../sink.js';
import type { SdkServer } from './options.js';
import type { Tombstones } from './tombstones.js';
import type { ToolCallCounter } from './tool-calls.js';
import type { InFlight } from './transport-instrumentation.js';

// The sessions this process serves now, and the one way each of them stops being served.

/** A live session's in-process record. */
export interface Live extends InFlight, ToolCallCounter {
  readonly id: string;
  readonly transport: WebStandardStreamableHTTPServerTransport;
  readonly server: SdkServer;
  readonly principal: string | null;
  startedAt: number;
  /** The last request (or answer): what idle expiry measures. */
  lastSeen: number;
  meta: McpSessionMetadata;
  recoveryAttempts: number;
  /** The client sent logging/setLevel: it is told when its session expires. */
  logging: boolean;
  /** Ended, expired, disconnected, or never registered (a refused initialize, a sessionless request). */
  retired: boolean;
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

/** A session's record before its first request was handled. */
export function newLive(
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
    pending: new Map(),
    meta: { clientName: null, clientVersion: null, protocolVersion: null, clientCapabilities: null },
    recoveryAttempts: 0,
    toolCalls: 0,
    logging: false,
    retired,
  };
}

export function infoOf(l: Live): McpSessionInfo {
  return {
    id: l.id,
    principal: l.principal,
    clientName: l.meta.clientName,
    clientVersion: l.meta.clientVersion,
    protocolVersion: l.meta.protocolVersion,
    startedAt: l.startedAt,
    lastActivityAt: l.lastSeen,
    recoveryAttempts: l.recoveryAttempts,
    inFlight: l.pending.size,
    toolCalls: l.toolCalls,
    metadata: l.meta.custom ?? null,
  };
}

/** Closes a session's SDK server and its transport; never throws. */
export async function closeSdk(l: Live, log: McpLogger): Promise<void> {
  try {
    await l.server.close();
  } catch (err) {
    log.warn({ sessionId: l.id, err: (err as Error).message }, 'mcp server close failed');
  }
  // The server closes its transport; this makes sure even if the author's server did not.
  await l.transport.close().catch(() => {});
}

/** Why a live session stops being served: DELETE, expiry, or a transport closed (recoverable). */
export type Retirement = 'logout' | 'expired' | 'closed';

export class LiveSessions {
  readonly #byId = new Map<string, Live>();
  readonly #sink: McpSink;
  readonly #tombstones: Tombstones;
  readonly #log: McpLogger;
  readonly #now: () => number;
  readonly #onRetire: ((l: Live, reason: Retirement) => void) | undefined;

  /** `onRetire`: told once per session, before its unanswered requests are forgotten. */
  constructor(
    sink: McpSink,
    tombstones: Tombstones,
    log: McpLogger,
    now: () => number,
    onRetire?: (l: Live, reason: Retirement) => void,
  ) {
    this.#sink = sink;
    this.#tombstones = tombstones;
    this.#log = log;
    this.#now = now;
    this.#onRetire = onRetire;
  }

  get(id: string): Live | undefined {
    return this.#byId.get(id);
  }

  has(id: string): boolean {
    return this.#byId.has(id);
  }

  add(l: Live): void {
    this.#byId.set(l.id, l);
  }

  values(): IterableIterator<Live> {
    return this.#byId.values();
  }

  get size(): number {
    return this.#byId.size;
  }

  /** Once per session: forget it, tell the sink why, remember the id if it is over. Idempotent. */
  retire(l: Live, reason: Retirement): void {
    if (l.retired) return;
    l.retired = true;
    if (this.#byId.get(l.id) === l) this.#byId.delete(l.id);
    this.#onRetire?.(l, reason);
    l.pending.clear();
    if (reason === 'logout') {
      this.#sink.end(l.id, 'logout');
      this.#tombstones.bury(l.id, 'logout', this.#now());
      this.#log.info({ sessionId: l.id }, 'mcp session ended by the client');
    } else if (reason === 'expired') {
      this.#sink.end(l.id, 'timeout');
      this.#tombstones.bury(l.id, 'expired', this.#now());
      this.#log.info({ sessionId: l.id }, 'mcp session expired');
    } else {
      this.#sink.disconnect(l.id);
      this.#log.info({ sessionId: l.id }, 'mcp session disconnected (recoverable)');
    }
  }

  /** A session whose start the sink refused: forgotten, nothing told to the sink. */
  discard(l: Live): void {
    l.retired = true;
    if (this.#byId.get(l.id) === l) this.#byId.delete(l.id);
    l.pending.clear();
  }

  /** Closes a session's transport; it stays recoverable. */
  async close(l: Live): Promise<void> {
    this.retire(l, 'closed');
    await closeSdk(l, this.#log);
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.#byId.values()].map((l) => this.close(l)));
  }
}
