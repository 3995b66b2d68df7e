import { replayInitialize } from '../sdk-recovery.js';
import type { Capacity } from './capacity.js';
import { closeSdk, type Live, type LiveSessions } from './live-sessions.js';
import type { Settings } from './options.js';
import type { SessionTransports } from './session-transport.js';
import type { Tombstones } from './tombstones.js';

// A session id this process does not serve (its transport closed, or another process served it)
// is asked of the sink; if the session may be recovered it is rebuilt on a fresh transport under
// the same id (sdk-recovery.ts). One recovery per id at a time, however many requests arrive.

/** The session served again, `full` past maxSessions, `null` when it may not be recovered. */
export type Recovered = Live | 'full' | null;

export class Recovery {
  readonly #s: Settings;
  readonly #live: LiveSessions;
  readonly #tombstones: Tombstones;
  readonly #capacity: Capacity;
  readonly #transports: SessionTransports;
  readonly #inFlight = new Map<string, Promise<Recovered>>();

  constructor(
    s: Settings,
    live: LiveSessions,
    tombstones: Tombstones,
    capacity: Capacity,
    transports: SessionTransports,
  ) {
    this.#s = s;
    this.#live = live;
    this.#tombstones = tombstones;
    this.#capacity = capacity;
    this.#transports = transports;
  }

  /** Rejects when the sink cannot be asked (storage or the sessiontrack server is down). */
  recover(req: Request, id: string, principal: string | null): Promise<Recovered> {
    let p = this.#inFlight.get(id);
    if (!p) {
      p = this.#rebuild(req, id, principal).finally(() => this.#inFlight.delete(id));
      this.#inFlight.set(id, p);
    }
    return p;
  }

  async #rebuild(req: Request, id: string, principal: string | null): Promise<Recovered> {
    if (!this.#capacity.hasRoom()) return 'full';
    return this.#capacity.holding(async () => {
      const { sink, limits, log } = this.#s;
      const policy = { principal, graceMs: limits.graceMs, maxRecoveryAttempts: limits.maxRecoveryAttempts };
      const r = await sink.recover(id, policy, this.#s.now());
      if (!r.ok) {
        // A principal mismatch must not bury the owner's session (that would let anyone end it).
        if (r.reason === 'ended' || r.reason === 'grace_expired' || r.reason === 'attempts_exhausted') {
          this.#tombstones.bury(id, 'unrecoverable', this.#s.now());
        }
        log.info({ sessionId: id, reason: r.reason }, 'mcp session not recovered');
        return null;
      }
      const l = await this.#transports.stateful(id, r.session.principal, true);
      const meta = r.session.metadata;
      try {
        await replayInitialize(
          l.transport,
          id,
          {
            protocolVersion: meta.protocolVersion,
            capabilities: meta.clientCapabilities,
            clientName: meta.clientName,
            clientVersion: meta.clientVersion,
          },
          req,
        );
      } catch (err) {
        log.error({ sessionId: id, err: (err as Error).message }, 'mcp session recovery failed');
        l.retired = true;
        await closeSdk(l, log);
        return null;
      }
      l.startedAt = r.session.startedAt;
      l.meta = meta;
      l.recoveryAttempts = r.session.recoveryAttempts;
      this.#live.add(l);
      log.info({ sessionId: id, attempt: l.recoveryAttempts }, 'mcp session recovered');
      return l;
    });
  }
}
