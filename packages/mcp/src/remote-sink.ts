import { backoffMs, readMetadata, recoveryDecision } from './policy.js';
import {
  type AgentStateBackend,
  type McpLogger,
  type McpSessionStart,
  type McpSink,
  type McpToolCall,
  type RecoveryPolicy,
  type RecoveryResult,
  silentLogger,
} from './sink.js';
import { WriteQueue } from './write-queue.js';

export interface RemoteSinkOptions {
  /** Base URL of a running sessiontrack server, e.g. `https://track.example.com`. */
  url: string;
  /** The project's write key. */
  writeKey: string;
  /** Queued writes are sent at most this long after they were queued (default 200 ms). */
  flushIntervalMs?: number;
  /** Queued operations kept while the server is unreachable; past it the oldest are dropped (default 10,000). */
  maxBuffered?: number;
  /** Sessions sent to in parallel (default 4); one session's writes always go in order. */
  concurrency?: number;
  /** Per request (default 10 s). */
  timeoutMs?: number;
  /** On shutdown, keep retrying queued writes this long (default 5 s); then they are dropped and logged. */
  closeTimeoutMs?: number;
  logger?: McpLogger;
  fetch?: typeof fetch;
}

type Op =
  | { t: 'start'; id: string; body: Record<string, unknown>; headers: Record<string, string> }
  | { t: 'events'; id: string; events: Record<string, unknown>[] }
  | { t: 'heartbeat'; id: string }
  | { t: 'end'; id: string; reason: string }
  | { t: 'disconnect'; id: string };

type Sent = 'ok' | 'retry' | 'drop';

const MAX_EVENTS = 500;

/**
 * Writes MCP sessions to a sessiontrack server over its write-key API. Batched per session,
 * retried with exponential backoff on network errors, 429 and 5xx, bounded, flushed on close.
 * Every write is idempotent on retry: the session id is chosen here (a repeated start answers
 * 409, taken as done), events carry their ids (stored once), end and disconnect are idempotent.
 */
export function remoteSink(
  options: RemoteSinkOptions,
): McpSink & { readonly dropped: number; readonly pending: number } {
  return new RemoteSink(options);
}

class RemoteSink implements McpSink {
  readonly kind = 'remote';
  readonly #base: string;
  readonly #key: string;
  readonly #concurrency: number;
  readonly #timeout: number;
  readonly #closeTimeout: number;
  readonly #log: McpLogger;
  readonly #fetch: typeof fetch;
  readonly #queue: WriteQueue<Op>;
  #failures = 0;
  #deadline = Infinity;

  constructor(o: RemoteSinkOptions) {
    this.#base = o.url.replace(/\/+$/, '');
    this.#key = o.writeKey;
    this.#concurrency = o.concurrency ?? 4;
    this.#timeout = o.timeoutMs ?? 10_000;
    this.#closeTimeout = o.closeTimeoutMs ?? 5_000;
    this.#log = o.logger ?? silentLogger;
    this.#fetch = o.fetch ?? fetch;
    const interval = o.flushIntervalMs ?? 200;
    this.#queue = new WriteQueue({
      drain: (q) => this.#drain(q),
      intervalMs: interval,
      maxBuffered: o.maxBuffered ?? 10_000,
      retryMs: () => (this.#failures === 0 ? interval : backoffMs(this.#failures, 500, 30_000)),
      log: this.#log,
      what: 'send',
    });
  }

  get pending(): number {
    return this.#queue.items.length;
  }

  get dropped(): number {
    return this.#queue.dropped;
  }

  /**
   * Sent now, not queued, and acknowledged before the client hears of the session; retried on
   * what `#send` retries, within one `timeoutMs` in all. A repeated start (409) is taken as done.
   */
  async start(s: McpSessionStart): Promise<void> {
    const op = this.#startOp(s);
    const deadline = Date.now() + this.#timeout;
    for (let tries = 1; ; tries++) {
      const r = await this.#send(op);
      if (r === 'ok') return;
      if (r === 'drop') throw new Error('sessiontrack server refused the session start');
      if (Date.now() >= deadline) throw new Error('sessiontrack server did not acknowledge the session start');
      await new Promise((ok) => setTimeout(ok, Math.min(backoffMs(tries, 200, 2_000), deadline - Date.now())));
    }
  }

  #startOp(s: McpSessionStart): Op {
    return {
      t: 'start',
      id: s.id,
      body: {
        sessionId: s.id,
        kind: 'mcp',
        ...(s.principal ? { userId: s.principal } : { anonymousId: s.id }),
        transport: s.transport,
        userAgent: s.userAgent,
        metadata: s.metadata,
        graceMs: s.graceMs,
        maxRecoveryAttempts: s.maxRecoveryAttempts,
      },
      // Where the client is, in the headers a sessiontrack server reads behind a trusted proxy
      // (--trust-proxy); without it the server ignores them. The address is never stored there.
      headers: {
        ...(s.clientAddress ? { 'x-forwarded-for': s.clientAddress } : {}),
        ...(s.geo.country ? { 'cf-ipcountry': s.geo.country } : {}),
        ...(s.geo.country && s.geo.region && /^[A-Z]{2}-/.test(s.geo.region) ? { 'cf-region-code': s.geo.region } : {}),
      },
    };
  }

  toolCall(sessionId: string, c: McpToolCall): void {
    const event = {
      id: c.id,
      type: 'tool_call',
      name: c.name,
      timestamp: c.at,
      details: { durationMs: c.durationMs, isError: c.isError },
    };
    const last = this.#queue.items.at(-1);
    if (last?.t === 'events' && last.id === sessionId && last.events.length < MAX_EVENTS) last.events.push(event);
    else this.#queue.push({ t: 'events', id: sessionId, events: [event] });
  }

  touch(sessionId: string): void {
    this.#queue.push({ t: 'heartbeat', id: sessionId });
  }

  end(sessionId: string, reason: 'logout' | 'timeout' | 'error'): void {
    this.#queue.push({ t: 'end', id: sessionId, reason });
  }

  disconnect(sessionId: string): void {
    this.#queue.push({ t: 'disconnect', id: sessionId });
  }

  async recover(sessionId: string, policy: RecoveryPolicy, now: number): Promise<RecoveryResult> {
    await this.flush();
    const path = `/api/v1/sessions/${encodeURIComponent(sessionId)}`;
    // Disconnect first: a session whose process died is still `active` on the server, and only a
    // disconnected one is recovered (an attempt counted) by the heartbeat below.
    // With the principal it expects: the server leaves another principal's session untouched.
    const d = await this.#request('POST', `${path}/disconnect`, { userId: policy.principal ?? null });
    if (d.status === 404) return { ok: false, reason: 'not_found' };
    if (d.status === 410) return { ok: false, reason: 'ended' };
    if (d.status !== 200) throw new Error(`sessiontrack server answered ${d.status} to disconnect`);
    const s = (await d.json()) as WireSession;
    // Still `active` before this call: its process died without a word, and the grace counts from
    // its last activity (as with the embedded sink), not from this disconnect.
    const died = s.previousStatus === 'active';
    const refusal = recoveryDecision(
      {
        kind: s.kind,
        status: died ? 'active' : s.status,
        userId: s.userId,
        lastActivityAt: Date.parse(s.lastActivityAt),
        disconnectedAt: !died && s.disconnectedAt ? Date.parse(s.disconnectedAt) : null,
        recoveryAttempts: s.recoveryAttempts,
        // The server's answer has the clock applied: an expired session shows as ended.
        idleOrCapExpiresAt: Number.POSITIVE_INFINITY,
      },
      policy,
      now,
    );
    if (refusal) return { ok: false, reason: refusal };
    const h = await this.#request('POST', `${path}/heartbeat`, {});
    if (h.status === 404) return { ok: false, reason: 'not_found' };
    if (h.status === 410) return { ok: false, reason: 'ended' };
    if (h.status !== 200) throw new Error(`sessiontrack server answered ${h.status} to heartbeat`);
    const hb = (await h.json()) as {
      userId: string | null;
      recoveryAttempts: number;
      metadata: Record<string, unknown> | null;
    };
    return {
      ok: true,
      session: {
        id: sessionId,
        principal: hb.userId,
        startedAt: Date.parse(s.startedAt),
        recoveryAttempts: hb.recoveryAttempts,
        metadata: readMetadata(hb.metadata),
      },
    };
  }

  readonly state: AgentStateBackend = {
    get: async (sessionId, agentId, key) => {
      const r = await this.#request('GET', this.#statePath(sessionId, agentId, key));
      if (r.status === 404) return undefined;
      if (r.status !== 200) throw new Error(`sessiontrack server answered ${r.status} to an agent state read`);
      return ((await r.json()) as { value: unknown }).value;
    },
    set: async (sessionId, agentId, key, value, ttlMs) => {
      // The server checks that the session is the project's: its start must have been sent.
      await this.flush();
      const r = await this.#request('PUT', this.#statePath(sessionId, agentId, key), { value, ttlMs });
      if (r.status !== 200) throw new Error(`sessiontrack server answered ${r.status}: ${await r.text()}`);
    },
    delete: async (sessionId, agentId, key) => {
      const r = await this.#request('DELETE', this.#statePath(sessionId, agentId, key));
      if (r.status !== 200 && r.status !== 404) throw new Error(`sessiontrack server answered ${r.status}`);
    },
  };

  #statePath(sessionId: string, agentId: string, key?: string): string {
    const e = encodeURIComponent;
    return `/api/v1/sessions/${e(sessionId)}/state/${e(agentId)}${key === undefined ? '' : `/${e(key)}`}`;
  }

  #request(method: string, path: string, body?: unknown, extra: Record<string, string> = {}): Promise<Response> {
    return this.#fetch(`${this.#base}${path}`, {
      method,
      headers: {
        ...extra,
        'x-write-key': this.#key,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(this.#timeout),
    });
  }

  /** Sends what is queued now. */
  flush(): Promise<void> {
    return this.#queue.flush();
  }

  /** Sends the queue; a few tries per call, then leaves the rest to the timer (or to close's deadline). */
  async #drain(q: WriteQueue<Op>): Promise<void> {
    let tries = 0;
    while (q.items.length > 0) {
      const batch = q.items.splice(0, 1000);
      const bySession = new Map<string, Op[]>();
      for (const op of batch) {
        const list = bySession.get(op.id);
        if (list) list.push(op);
        else bySession.set(op.id, [op]);
      }
      const left: Op[][] = [];
      const work = [...bySession.values()];
      await Promise.all(
        Array.from({ length: Math.min(this.#concurrency, work.length) }, async () => {
          for (let ops = work.shift(); ops; ops = work.shift()) {
            for (let i = 0; i < ops.length; i++) {
              const r = await this.#send(ops[i] as Op);
              if (r === 'retry') {
                left.push(ops.slice(i));
                break;
              }
            }
          }
        }),
      );
      if (left.length === 0) {
        this.#failures = 0;
        continue;
      }
      q.items.unshift(...left.flat());
      this.#failures++;
      if (++tries > 3 && !(q.closed && Date.now() < this.#deadline)) return;
      if (q.closed && Date.now() >= this.#deadline) return;
      await new Promise((r) => setTimeout(r, backoffMs(this.#failures, 200, 5_000)));
    }
  }

  async #send(op: Op): Promise<Sent> {
    const path = `/api/v1/sessions${op.t === 'start' ? '/start' : `/${encodeURIComponent(op.id)}/${op.t}`}`;
    const body =
      op.t === 'start'
        ? op.body
        : op.t === 'events'
          ? { events: op.events }
          : op.t === 'end'
            ? { reason: op.reason }
            : undefined;
    let res: Response;
    try {
      res = await this.#request('POST', path, body, op.t === 'start' ? op.headers : undefined);
      await res.arrayBuffer();
    } catch (err) {
      this.#log.debug({ op: op.t, err: (err as Error).message }, 'sessiontrack: send failed, will retry');
      return 'retry';
    }
    if (res.ok) return 'ok';
    // A repeated start (the first one landed, its answer was lost): the session is there.
    if (op.t === 'start' && res.status === 409) return 'ok';
    if (res.status === 429 || res.status >= 500) return 'retry';
    this.#log.warn({ op: op.t, sessionId: op.id, status: res.status }, 'sessiontrack: write refused, dropped');
    return 'drop';
  }

  /** Keeps retrying what is queued for closeTimeoutMs, then drops (and logs) the rest. */
  async close(): Promise<void> {
    this.#deadline = Date.now() + this.#closeTimeout;
    await this.#queue.close();
  }
}

interface WireSession {
  kind: string;
  status: 'active' | 'disconnected' | 'ended';
  userId: string | null;
  startedAt: string;
  lastActivityAt: string;
  disconnectedAt?: string | null;
  /** The disconnect answer: the session's status before it (null for an older server). */
  previousStatus?: 'active' | 'disconnected' | 'ended' | null;
  recoveryAttempts: number;
}
