import { createHash } from 'node:crypto';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import type { Capacity } from './capacity.js';
import { clientLocation } from './client-location.js';
import type { McpRequest, Settings } from './options.js';
import { tooManySessions } from './rpc-errors.js';
import type { SessionTransports } from './session-transport.js';

// Requests without a session id (opt-in `sessionless`), served the SDK's stateless way and grouped
// into sessiontrack sessions by principal + User-Agent: a group ends after the idle timeout (or
// the absolute age) like any session. Nothing of a group but its id and three times stays here.

interface Group {
  id: string;
  startedAt: number;
  lastSeen: number;
  lastWritten: number;
  /** Its start, written (or given up): a request of the group waits for it, so that its tool calls never reach storage first. */
  ready: Promise<void>;
}

export class SessionlessGroups {
  readonly #s: Settings;
  readonly #capacity: Capacity;
  readonly #transports: SessionTransports;
  readonly #byKey = new Map<string, Group>();

  constructor(s: Settings, capacity: Capacity, transports: SessionTransports) {
    this.#s = s;
    this.#capacity = capacity;
    this.#transports = transports;
  }

  get size(): number {
    return this.#byKey.size;
  }

  async serve(req: Request, source: McpRequest, body: unknown, authInfo?: AuthInfo): Promise<Response> {
    const s = this.#s;
    const principal = s.principalOf(source);
    const userAgent = req.headers.get('user-agent');
    const key = `${principal ?? ''}\n${userAgent ?? ''}`;
    const at = s.now();
    let g = this.#byKey.get(key);
    if (g && this.#over(g, at)) {
      this.#byKey.delete(key);
      s.sink.end(g.id, 'timeout');
      g = undefined;
    }
    if (!g) {
      if (!this.#capacity.hasRoom()) return tooManySessions();
      const digest = createHash('sha256').update(key).digest('base64url').slice(0, 16);
      const id = `mcp_sl_${digest}_${at.toString(36)}`;
      const custom = s.options.metadata?.(source) ?? null;
      // A failure costs the group its record, not the request: it has no session id to lose.
      const ready = Promise.resolve(
        s.sink.start({
          id,
          principal,
          startedAt: at,
          transport: 'streamable-http-stateless',
          userAgent,
          ...clientLocation(s, req, source),
          ...s.limits,
          metadata: {
            clientName: null,
            clientVersion: null,
            protocolVersion: req.headers.get('mcp-protocol-version')?.slice(0, 32) ?? null,
            clientCapabilities: null,
            ...(custom ? { custom } : {}),
          },
        }),
      ).catch((err) =>
        s.log.warn({ sessionId: id, err: (err as Error).message }, 'mcp sessionless group start not stored'),
      );
      g = { id, startedAt: at, lastSeen: at, lastWritten: at, ready };
      this.#byKey.set(key, g);
      s.log.info({ sessionId: g.id, principal: principal !== null }, 'mcp sessionless group started');
    } else if (at - g.lastWritten >= s.touchIntervalMs) {
      g.lastWritten = at;
      s.sink.touch(g.id, at);
    }
    g.lastSeen = at;
    await g.ready;
    const l = await this.#transports.stateless(g.id, principal, g.startedAt);
    const group = g;
    const release = () => {
      group.lastSeen = Math.max(group.lastSeen, s.now());
      l.server.close().catch(() => {});
    };
    const res = await l.transport.handleRequest(req, { parsedBody: body, authInfo });
    if (!res.body) {
      release();
      return res;
    }
    // Closed once the answer has been streamed (or the client went away).
    const streamed = res.body.pipeThrough(new TransformStream({ flush: release }));
    return new Response(streamed, { status: res.status, statusText: res.statusText, headers: res.headers });
  }

  /** Ends the groups past their idle timeout or absolute age. */
  sweep(at: number): void {
    for (const [k, g] of this.#byKey) {
      if (!this.#over(g, at)) continue;
      this.#byKey.delete(k);
      this.#s.sink.end(g.id, 'timeout');
    }
  }

  #over(g: Group, at: number): boolean {
    const { idleTimeoutMs, absoluteTimeoutMs } = this.#s.limits;
    return at - g.lastSeen >= idleTimeoutMs || at - g.startedAt >= absoluteTimeoutMs;
  }
}
