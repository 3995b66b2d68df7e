import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import { sessionEventStore } from './event-store.js';
import { type Live, type LiveSessions, newLive } from './live-sessions.js';
import type { Settings } from './options.js';
import { instrumentTransport, type RequestHooks } from './transport-instrumentation.js';

// A session's SDK server from `createServer`, connected to a transport of its own and
// instrumented: for a new session, a recovered one, and one sessionless request.

export class SessionTransports {
  readonly #s: Settings;
  readonly #live: LiveSessions;
  readonly #hooks: RequestHooks<Live>;

  constructor(s: Settings, live: LiveSessions, hooks: RequestHooks<Live>) {
    this.#s = s;
    this.#live = live;
    this.#hooks = hooks;
  }

  /**
   * A session served under `id`. A new one is registered live by its transport once its
   * initialize succeeded; a recovered one is registered by the recovery, after the replay.
   */
  async stateful(id: string, principal: string | null, recovered: boolean): Promise<Live> {
    let l: Live | undefined;
    const shared = this.#s.options.transportOptions?.eventStore;
    const transport = new WebStandardStreamableHTTPServerTransport({
      ...this.#s.options.transportOptions,
      // The application's one event store, seen per session (sessions/event-store.ts).
      ...(shared ? { eventStore: sessionEventStore(shared, id) } : {}),
      sessionIdGenerator: () => id,
      onsessioninitialized: () => {
        if (l && !recovered) this.#live.add(l);
      },
      onsessionclosed: () => {
        if (l) this.#live.retire(l, 'logout');
      },
    });
    const server = await this.#s.options.createServer({ sessionId: id, recovered });
    await server.connect(transport);
    const at = this.#s.now();
    const session = newLive(id, transport, server, principal, at, at, false);
    l = session;
    instrumentTransport(transport, session, this.#hooks);
    // The SDK has no "closed without DELETE" callback: the transport's onclose (set by connect) is it.
    const onclose = transport.onclose;
    transport.onclose = () => {
      onclose?.call(transport);
      this.#live.retire(session, 'closed');
    };
    return session;
  }

  /** The SDK's stateless pattern: a fresh transport and server for one request of group `id`. */
  async stateless(id: string, principal: string | null, startedAt: number): Promise<Live> {
    const transport = new WebStandardStreamableHTTPServerTransport({ ...this.#s.options.transportOptions });
    const server = await this.#s.options.createServer({ sessionId: id, recovered: false });
    await server.connect(transport);
    // Retired from the start: never registered live, nothing to end when it closes.
    const l = newLive(id, transport, server, principal, startedAt, this.#s.now(), true);
    instrumentTransport(transport, l, this.#hooks);
    return l;
  }
}
