import { deviceFromUserAgent, type Session } from '@sessiontrack/core';
import {
  type AgentStateStore,
  type MaintenanceStore,
  type SessionReadStore,
  type SessionWriteStore,
  StorageUnavailableError,
  type WriteOp,
} from '@sessiontrack/store';
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

/** The parts of a sessiontrack Store the sink uses: batches, one read, agent state, the job lock. */
export type EmbeddedSinkStore = Pick<SessionWriteStore, 'commit'> &
  Pick<SessionReadStore, 'getSession'> &
  AgentStateStore &
  Pick<MaintenanceStore, 'runExclusive'>;

/** Tries of a session start while storage is unavailable (backoffMs: about 1.5 s in all). */
const START_TRIES = 4;

export interface EmbeddedSinkOptions {
  /** A sessiontrack Store (SQLite or PostgreSQL); the sink does not close it. */
  store: EmbeddedSinkStore;
  /** Project the sessions belong to; default `default` (the server's default project). */
  projectId?: string;
  /** Queued writes are committed at most this long after they were queued (default 100 ms). */
  flushIntervalMs?: number;
  /** Operations per transaction (default 500). */
  maxBatch?: number;
  /** Queued operations kept while storage is down; past it the oldest are dropped (default 50,000). */
  maxBuffered?: number;
  /** How often expired agent state is deleted (default 1 h; 0 = never, e.g. when a sessiontrack server does it). */
  purgeIntervalMs?: number;
  logger?: McpLogger;
  now?: () => number;
}

/**
 * Writes MCP sessions into a sessiontrack Store: operations are queued and committed in batches
 * (one transaction each, the server's group commit in small). Storage that does not answer is
 * retried with backoff; the queue is bounded.
 */
export function embeddedSink(options: EmbeddedSinkOptions): McpSink & { readonly dropped: number } {
  return new EmbeddedSink(options);
}

class EmbeddedSink implements McpSink {
  readonly kind = 'embedded';
  readonly #store: EmbeddedSinkStore;
  readonly #projectId: string;
  readonly #maxBatch: number;
  readonly #log: McpLogger;
  readonly #now: () => number;
  readonly #queue: WriteQueue<WriteOp>;
  #purge: NodeJS.Timeout | undefined;
  #failures = 0;

  constructor(o: EmbeddedSinkOptions) {
    this.#store = o.store;
    this.#projectId = o.projectId ?? 'default';
    this.#maxBatch = o.maxBatch ?? 500;
    this.#log = o.logger ?? silentLogger;
    this.#now = o.now ?? Date.now;
    const interval = o.flushIntervalMs ?? 100;
    this.#queue = new WriteQueue({
      drain: (q) => this.#drain(q),
      intervalMs: interval,
      maxBuffered: o.maxBuffered ?? 50_000,
      retryMs: () => (this.#failures === 0 ? interval : backoffMs(this.#failures, 1000, 30_000)),
      log: this.#log,
      what: 'write',
    });
    const purgeEvery = o.purgeIntervalMs ?? 60 * 60 * 1000;
    if (purgeEvery > 0) {
      // Expired entries are invisible already; this frees their rows. Several processes on one
      // PostgreSQL take turns (runExclusive), as the sessiontrack server's own job does.
      this.#purge = setInterval(() => {
        this.#store
          .runExclusive('agent-state', async () => {
            await this.#store.purgeAgentState(this.#now());
          })
          .catch((err) => this.#log.warn({ err: (err as Error).message }, 'sessiontrack: agent state purge failed'));
      }, purgeEvery);
      this.#purge.unref();
    }
  }

  /** Committed now, in a transaction of its own, retried a few times while storage is unavailable. */
  async start(s: McpSessionStart): Promise<void> {
    const session: Session = {
      id: s.id,
      projectId: this.#projectId,
      kind: 'mcp',
      userId: s.principal,
      // A session without a principal is its own visitor.
      anonymousId: s.principal ? null : s.id,
      status: 'active',
      startedAt: s.startedAt,
      lastActivityAt: s.startedAt,
      endedAt: null,
      disconnectedAt: null,
      idleTimeoutMs: s.idleTimeoutMs,
      absoluteTimeoutMs: s.absoluteTimeoutMs,
      graceMs: s.graceMs,
      maxRecoveryAttempts: s.maxRecoveryAttempts,
      device: { ...deviceFromUserAgent(s.userAgent), screenSize: null },
      entry: { page: null, source: null, referrer: null, campaign: null },
      exit: { page: null, reason: null, lastAction: null },
      geo: s.geo,
      transport: s.transport,
      actions: 0,
      errors: 0,
      toolCalls: 0,
      workflows: 0,
      recoveryAttempts: 0,
      metadata: s.metadata,
      // An MCP client reports no engaged time.
      engagedMs: null,
    };
    for (let tries = 1; ; tries++) {
      try {
        const [r] = await this.#store.commit([{ op: 'start', session }], this.#now());
        if (!r?.ok) throw new Error(`session start refused: ${r?.error ?? 'no result'}`);
        return;
      } catch (err) {
        if (!(err instanceof StorageUnavailableError) || tries >= START_TRIES) throw err;
        await new Promise((ok) => setTimeout(ok, backoffMs(tries)));
      }
    }
  }

  toolCall(sessionId: string, c: McpToolCall): void {
    const event = {
      id: c.id,
      type: 'tool_call' as const,
      name: c.name,
      ts: c.at,
      page: null,
      resourceId: null,
      details: { durationMs: c.durationMs, isError: c.isError },
    };
    // Consecutive calls of one session share one operation (and one counter update).
    const last = this.#queue.items.at(-1);
    if (last?.op === 'events' && last.sessionId === sessionId && last.events.length < 500) last.events.push(event);
    else this.#queue.push({ op: 'events', projectId: this.#projectId, sessionId, events: [event] });
  }

  touch(sessionId: string): void {
    this.#queue.push({ op: 'heartbeat', projectId: this.#projectId, sessionId, page: null });
  }

  end(sessionId: string, reason: 'logout' | 'timeout' | 'error'): void {
    this.#queue.push({ op: 'end', projectId: this.#projectId, sessionId, reason, page: null, lastAction: null });
  }

  disconnect(sessionId: string): void {
    this.#queue.push({ op: 'disconnect', projectId: this.#projectId, sessionId });
  }

  async recover(sessionId: string, policy: RecoveryPolicy, now: number): Promise<RecoveryResult> {
    await this.flush();
    const s = await this.#store.getSession(this.#projectId, sessionId);
    if (!s) return { ok: false, reason: 'not_found' };
    const refusal = recoveryDecision(
      { ...s, idleOrCapExpiresAt: Math.min(s.lastActivityAt + s.idleTimeoutMs, s.startedAt + s.absoluteTimeoutMs) },
      policy,
      now,
    );
    if (refusal) return { ok: false, reason: refusal };
    const ref = { projectId: this.#projectId, sessionId };
    // An `active` session lost its process: written down as disconnected first, so that the
    // heartbeat is a recovery (an attempt counted), in one transaction.
    const ops: WriteOp[] = [
      ...(s.status === 'active' ? [{ op: 'disconnect' as const, ...ref }] : []),
      { op: 'heartbeat', ...ref, page: null },
    ];
    const r = (await this.#store.commit(ops, now)).at(-1);
    if (!r?.ok) return { ok: false, reason: 'ended' };
    return {
      ok: true,
      session: {
        id: sessionId,
        principal: r.session.userId,
        startedAt: r.session.startedAt,
        recoveryAttempts: r.session.recoveryAttempts,
        metadata: readMetadata(r.session.metadata),
      },
    };
  }

  readonly state: AgentStateBackend = {
    get: async (sessionId, agentId, key) =>
      (await this.#store.getAgentState(this.#projectId, sessionId, agentId, key, this.#now()))?.value,
    set: async (sessionId, agentId, key, value, ttlMs) => {
      const now = this.#now();
      await this.#store.setAgentState({
        projectId: this.#projectId,
        sessionId,
        agentId,
        key,
        value,
        expiresAt: ttlMs === null ? null : now + ttlMs,
        updatedAt: now,
      });
    },
    delete: async (sessionId, agentId, key) => {
      await this.#store.deleteAgentState(this.#projectId, sessionId, agentId, key);
    },
  };

  get dropped(): number {
    return this.#queue.dropped;
  }

  /** Commits what is queued now. */
  flush(): Promise<void> {
    return this.#queue.flush();
  }

  /** Commits the queue; gives up after a few failed tries (the queue stays and is retried later). */
  async #drain(q: WriteQueue<WriteOp>): Promise<void> {
    let tries = 0;
    while (q.items.length > 0) {
      const batch = q.items.splice(0, this.#maxBatch);
      try {
        const results = await this.#store.commit(batch, this.#now());
        this.#failures = 0;
        results.forEach((r, i) => {
          // A session ended elsewhere (expired, another instance) refuses later writes: expected.
          if (!r.ok) this.#log.debug({ op: batch[i]?.op, error: r.error }, 'sessiontrack: write refused');
        });
      } catch (err) {
        if (!(err instanceof StorageUnavailableError)) {
          // Not retryable (a bug or a constraint): dropping it keeps the queue moving.
          this.#log.error({ err: (err as Error).message, ops: batch.length }, 'sessiontrack: write failed, dropped');
          continue;
        }
        q.items.unshift(...batch);
        if (++tries > 5) {
          this.#failures++;
          this.#log.warn({ queued: q.items.length }, 'sessiontrack: storage unavailable, will retry');
          return;
        }
        await new Promise((r) => setTimeout(r, backoffMs(tries)));
      }
    }
  }

  async close(): Promise<void> {
    clearInterval(this.#purge);
    await this.#queue.close();
  }
}
