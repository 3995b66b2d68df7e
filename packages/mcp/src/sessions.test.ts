import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '@sessiontrack/store';
import { afterEach, describe, expect, it } from 'vitest';
import { embeddedSink } from './embedded-sink.js';
import { connect, demoServer, initializeBody, type Listening, listen, rawPost, text } from './mcp.testkit.js';
import { createMcpSessions, type McpSessions, type McpSessionsOptions } from './sessions.js';

// The integration end to end: the SDK's real Client over real HTTP, the real McpServer, and the
// embedded sink on a real SQLite store.

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Rig {
  mcp: McpSessions;
  store: SqliteStore;
  http: Listening;
  sink: ReturnType<typeof embeddedSink>;
}

async function rig(
  over: Partial<McpSessionsOptions> = {},
  opts: { store?: SqliteStore; port?: number; keepStore?: boolean } = {},
): Promise<Rig> {
  const store = opts.store ?? new SqliteStore({ filename: ':memory:' });
  const sink = embeddedSink({ store, flushIntervalMs: 5 });
  const mcp = createMcpSessions({ sink, createServer: () => demoServer(), ...over });
  const http = await listen((req, res) => mcp.handle(req, res), opts.port);
  cleanups.push(async () => {
    await http.close();
    await mcp.shutdown();
    if (!opts.keepStore) await store.close();
  });
  return { mcp, store, http, sink };
}

/**
 * The first request after a restart may go out on a keep-alive socket the dead server closed
 * (undici reports "fetch failed"): a real client retries a network error, so does this.
 */
async function retried<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (!(err instanceof TypeError && /fetch failed/.test(err.message))) throw err;
    return call();
  }
}

/** A SQLite store in a file that outlives the handlers of a test (a restart reopens nothing else). */
function fileStore(): SqliteStore {
  const dir = mkdtempSync(join(tmpdir(), 'st-mcp-'));
  const store = new SqliteStore({ filename: join(dir, 'st.db') });
  cleanups.push(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return store;
}

const until = async (cond: () => boolean | Promise<boolean>, ms = 5000) => {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
};

/**
 * The handler's clock for the short idle timeouts: real time while running, standing still while
 * held (on a loaded machine a handshake can outlast a 100 ms idle timeout), moved on by hand.
 */
function heldClock() {
  let base = Date.now();
  let since: number | null = null; // null: held
  return {
    now: () => (since === null ? base : base + Date.now() - since),
    hold() {
      if (since !== null) base += Date.now() - since;
      since = null;
    },
    run() {
      since ??= Date.now();
    },
    advance(ms: number) {
      base += ms;
    },
  };
}

describe('session lifecycle through the SDK client', () => {
  it('refuses a grace period or recovery count beyond what a session start accepts', async () => {
    const store = new SqliteStore({ filename: ':memory:' });
    const sink = embeddedSink({ store });
    cleanups.push(async () => {
      await sink.close();
      await store.close();
    });
    const make = (over: Partial<McpSessionsOptions>) => () =>
      createMcpSessions({ sink, createServer: () => demoServer(), ...over });
    expect(make({ graceMs: 25 * 60 * 60_000 })).toThrow(/graceMs: an integer from 0 to 86400000/);
    expect(make({ maxRecoveryAttempts: 101 })).toThrow(/maxRecoveryAttempts: an integer from 0 to 100/);
    expect(make({ graceMs: -1 })).toThrow(RangeError);
    expect(make({ graceMs: 1.5 })).toThrow(RangeError);
  });

  it('registers the session with client info, counts tool calls (one error), and ends it on DELETE with logout', async () => {
    const { mcp, store, http, sink } = await rig();
    const { client, transport } = await connect(http.url, { name: 'inspector' });
    const id = transport.sessionId as string;
    expect(id).toMatch(/^mcp_[0-9A-Za-z]{32}$/);
    expect(mcp.activeCount()).toBe(1);
    expect(mcp.list()[0]).toMatchObject({ id, clientName: 'inspector', clientVersion: '2.3.4', principal: null });

    expect(text(await client.callTool({ name: 'echo', arguments: { text: 'hi' } }))).toBe('hi');
    expect(text(await client.callTool({ name: 'add', arguments: { a: 2, b: 3 } }))).toBe('5');
    const failed = await client.callTool({ name: 'fail', arguments: {} });
    expect(failed.isError).toBe(true);
    await client.listTools(); // not a tool call
    expect(mcp.get(id)?.toolCalls).toBe(3);

    await transport.terminateSession();
    expect(mcp.activeCount()).toBe(0);
    expect(mcp.tombstone(id)?.reason).toBe('logout');
    await sink.flush();

    const s = await store.getSession('default', id);
    expect(s).toMatchObject({
      kind: 'mcp',
      transport: 'streamable-http',
      status: 'ended',
      toolCalls: 3,
      exit: { reason: 'logout' },
      metadata: { clientName: 'inspector', clientVersion: '2.3.4', protocolVersion: expect.any(String) },
    });
    const events = await store.getEvents('default', id);
    expect(events.map((e) => [e.type, e.name, e.details?.isError])).toEqual([
      ['tool_call', 'echo', false],
      ['tool_call', 'add', false],
      ['tool_call', 'fail', true],
    ]);
    expect(typeof events[0]?.details?.durationMs).toBe('number');
    // After DELETE the id answers 404, as the spec requires.
    const after = await rawPost(http.url, { jsonrpc: '2.0', id: 9, method: 'tools/list' }, { 'mcp-session-id': id });
    expect(after.status).toBe(404);
    await client.close();
  });

  it('answers 404 for an unknown id and 400 for a non-initialize request without one', async () => {
    const { http, store } = await rig();
    const unknown = await rawPost(
      http.url,
      { jsonrpc: '2.0', id: 1, method: 'tools/list' },
      {
        'mcp-session-id': 'mcp_never_seen_anywhere_0000000000',
      },
    );
    expect(unknown.status).toBe(404);
    expect((await unknown.json()).error.code).toBe(-32001);
    const missing = await rawPost(http.url, { jsonrpc: '2.0', id: 1, method: 'tools/list' });
    expect(missing.status).toBe(400);
    const get = await fetch(http.url, { headers: { accept: 'text/event-stream' } });
    expect(get.status).toBe(400);
    // nothing was stored for either
    expect((await store.listSessions({ projectId: 'default', limit: 10 }, Date.now())).sessions).toEqual([]);
  });

  it('closes the transport of an idle session, calls onExpired, answers 404 after, and ends it with timeout', async () => {
    const expired: string[] = [];
    const clock = heldClock();
    const { mcp, http, store, sink } = await rig({
      idleTimeoutMs: 150,
      onExpired: (id) => expired.push(id),
      now: clock.now,
    });
    const { client, transport } = await connect(http.url);
    const id = transport.sessionId as string;
    clock.run();
    await until(() => expired.includes(id));
    expect(mcp.get(id)).toBeUndefined();
    expect(mcp.activeCount()).toBe(0);
    expect(mcp.tombstone(id)?.reason).toBe('expired');
    await expect(client.callTool({ name: 'echo', arguments: { text: 'x' } })).rejects.toThrow(/404|not found/i);
    await sink.flush();
    expect(await store.getSession('default', id)).toMatchObject({ status: 'ended', exit: { reason: 'timeout' } });
    await client.close();
  });

  it('does not expire a session with a request in flight', async () => {
    const expired: string[] = [];
    const clock = heldClock();
    const { http, mcp } = await rig({
      idleTimeoutMs: 100,
      sweepIntervalMs: 20,
      onExpired: (id) => expired.push(id),
      now: clock.now,
    });
    const { client, transport } = await connect(http.url);
    const id = transport.sessionId as string;
    // 400 ms of tool work, and four idle timeouts pass meanwhile, yet the session must answer it.
    const call = client.callTool({ name: 'slow', arguments: { ms: 400 } });
    await until(() => mcp.get(id)?.inFlight === 1);
    clock.advance(400);
    expect(await mcp.sweep()).toBe(0);
    expect(text(await call)).toBe('done');
    expect(expired).not.toContain(id);
    clock.run();
    await until(() => expired.includes(id));
    await client.close();
  });

  it('does not let a cancelled request keep its session from expiring', async () => {
    const expired: string[] = [];
    const clock = heldClock();
    const { http, mcp } = await rig({
      idleTimeoutMs: 100,
      sweepIntervalMs: 20,
      onExpired: (id) => expired.push(id),
      now: clock.now,
    });
    const { client, transport } = await connect(http.url);
    const id = transport.sessionId as string;
    const ac = new AbortController();
    const call = client.callTool({ name: 'slow', arguments: { ms: 10_000 } }, undefined, { signal: ac.signal });
    await until(() => mcp.get(id)?.inFlight === 1);
    ac.abort(); // the SDK client sends notifications/cancelled; the tool never answers
    await expect(call).rejects.toThrow();
    clock.run();
    await until(() => expired.includes(id), 3000);
    await client.close();
  });

  it('answers 503 to a new session past maxSessions, and serves again once one ends', async () => {
    const { http } = await rig({ maxSessions: 2 });
    const a = await connect(http.url);
    await connect(http.url);
    const refused = await rawPost(http.url, initializeBody());
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('5');
    await a.transport.terminateSession();
    expect((await rawPost(http.url, initializeBody())).status).toBe(200);
  });

  it("stores the author's metadata, and keeps the session metadata within 8 KiB", async () => {
    const { http, store, sink, mcp } = await rig({
      metadata: (req) => ({
        tenant: 'acme',
        big: 'headers' in req && !(req.headers instanceof Headers) && req.headers['x-big'] ? 'x'.repeat(9000) : null,
      }),
    });
    const small = await connect(http.url);
    const big = await connect(http.url, { headers: { 'x-big': '1' } });
    await sink.flush();
    const id = small.transport.sessionId as string;
    expect(mcp.get(id)?.metadata).toEqual({ tenant: 'acme', big: null });
    expect((await store.getSession('default', id))?.metadata).toMatchObject({ custom: { tenant: 'acme' } });
    const bigMeta = (await store.getSession('default', big.transport.sessionId as string))?.metadata;
    expect(bigMeta).toMatchObject({ custom: null, clientName: 'test-client' });
    expect(JSON.stringify(bigMeta).length).toBeLessThan(8192);
  });

  it('stores geo from trusted proxy headers, else from the geo option', async () => {
    const { http, store, sink } = await rig({
      trustProxy: true,
      geo: () => ({ country: 'JP', region: 'JP-13', continent: 'AS' }),
    });
    const viaCf = await connect(http.url, { headers: { 'cf-ipcountry': 'NL', 'cf-region-code': 'NH' } });
    const plain = await connect(http.url);
    await sink.flush();
    expect((await store.getSession('default', viaCf.transport.sessionId as string))?.geo).toEqual({
      country: 'NL',
      region: 'NL-NH',
      continent: 'EU',
    });
    expect((await store.getSession('default', plain.transport.sessionId as string))?.geo).toEqual({
      country: 'JP',
      region: 'JP-13',
      continent: 'AS',
    });
  });

  it('binds a session to its principal: the same id from another principal is 404', async () => {
    const { http, store, sink } = await rig({
      principal: (req) =>
        'headers' in req && !(req.headers instanceof Headers) ? (req.headers['x-user'] as string) : null,
    });
    const alice = await connect(http.url, { headers: { 'x-user': 'alice' } });
    const id = alice.transport.sessionId as string;
    const asBob = await rawPost(
      http.url,
      { jsonrpc: '2.0', id: 2, method: 'tools/list' },
      {
        'mcp-session-id': id,
        'x-user': 'bob',
      },
    );
    expect(asBob.status).toBe(404);
    const anonymous = await rawPost(
      http.url,
      { jsonrpc: '2.0', id: 2, method: 'tools/list' },
      { 'mcp-session-id': id },
    );
    expect(anonymous.status).toBe(404);
    expect(text(await alice.client.callTool({ name: 'echo', arguments: { text: 'still mine' } }))).toBe('still mine');
    await sink.flush();
    expect((await store.getSession('default', id))?.userId).toBe('alice');
  });
});

describe('sessionless requests (opt-in)', () => {
  it('serves requests without a session id statelessly and groups them by principal + User-Agent', async () => {
    let clock = Date.now();
    const { http, store, sink, mcp } = await rig({ sessionless: true, idleTimeoutMs: 60_000, now: () => clock });
    const call = (name: string, args: Record<string, unknown>, ua: string, id: number) =>
      rawPost(
        http.url,
        { jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } },
        { 'user-agent': ua },
      );
    const a1 = await call('add', { a: 1, b: 2 }, 'agent-a/1.0', 1);
    expect(a1.status).toBe(200);
    expect(await a1.text()).toContain('"text":"3"');
    await (await call('fail', {}, 'agent-a/1.0', 2)).text();
    await (await call('echo', { text: 'b' }, 'agent-b/2.0', 3)).text();
    expect(mcp.activeCount()).toBe(0); // no stateful session was made
    await sink.flush();
    const page = await store.listSessions({ projectId: 'default', kind: 'mcp', limit: 10 }, clock);
    const byTransport = page.sessions.filter((x) => x.transport === 'streamable-http-stateless');
    expect(byTransport.map((x) => x.toolCalls).sort()).toEqual([1, 2]);
    const a = byTransport.find((x) => x.toolCalls === 2);
    expect((await store.getEvents('default', a?.id as string)).map((e) => [e.name, e.details?.isError])).toEqual([
      ['add', false],
      ['fail', true],
    ]);
    // idle past the timeout: the group ends, the next request starts another
    clock += 61_000;
    await mcp.sweep();
    await (await call('add', { a: 0, b: 0 }, 'agent-a/1.0', 4)).text();
    await sink.flush();
    expect((await store.getSession('default', a?.id as string))?.exit.reason).toBe('timeout');
    const after = await store.listSessions({ projectId: 'default', kind: 'mcp', limit: 10 }, clock);
    expect(after.sessions.filter((x) => x.transport === 'streamable-http-stateless')).toHaveLength(3);
  });
});

describe('recovery after a restart', () => {
  it('serves the old session id inside the grace period (client info restored), until maxRecoveryAttempts', async () => {
    const store = fileStore();
    const opts = { maxRecoveryAttempts: 2 };
    let r = await rig(opts, { store, keepStore: true });
    const port = r.http.port;
    const { client, transport } = await connect(r.http.url, { name: 'claude-ish' });
    const id = transport.sessionId as string;
    await client.callTool({ name: 'echo', arguments: { text: 'before' } });
    await r.mcp.state.set(id, 'planner', 'plan', ['a', 'b']);

    // 1: the process dies (no shutdown: the store still says active) and a new one starts.
    await r.sink.flush();
    await r.http.close();
    r = await rig(opts, { store, port, keepStore: true });
    const who = JSON.parse(text(await retried(() => client.callTool({ name: 'whoami', arguments: {} }))));
    expect(who).toMatchObject({
      sessionId: id,
      client: { name: 'claude-ish', version: '2.3.4' },
      capabilities: { roots: {} },
    });
    expect(r.mcp.get(id)).toMatchObject({ recoveryAttempts: 1, clientName: 'claude-ish' });
    expect(await r.mcp.state.get(id, 'planner', 'plan')).toEqual(['a', 'b']);

    // 2: a graceful restart (clearAll marks it disconnected)
    await r.mcp.clearAll();
    await r.sink.flush();
    expect((await store.getSession('default', id))?.status).toBe('disconnected');
    await r.http.close();
    r = await rig(opts, { store, port, keepStore: true });
    expect(text(await retried(() => client.callTool({ name: 'add', arguments: { a: 1, b: 1 } })))).toBe('2');
    expect(r.mcp.get(id)?.recoveryAttempts).toBe(2);

    // 3: attempts exhausted: 404
    await r.sink.flush();
    await r.http.close();
    r = await rig(opts, { store, port, keepStore: true });
    await expect(retried(() => client.callTool({ name: 'echo', arguments: { text: 'x' } }))).rejects.toThrow(
      /404|not found/i,
    );
    expect(r.mcp.tombstone(id)?.reason).toBe('unrecoverable');
    await r.sink.flush();
    const s = await store.getSession('default', id);
    expect(s?.recoveryAttempts).toBe(2);
    // every tool call of the three processes is on the one session
    expect((await store.getEvents('default', id)).map((e) => e.name)).toEqual(['echo', 'whoami', 'add']);
  });

  it('honours a grace period longer than the default 10 minutes, in the store as well', async () => {
    let clock = Date.now();
    const store = fileStore();
    const opts = { graceMs: 30 * 60_000, maxRecoveryAttempts: 5, now: () => clock };
    let r = await rig(opts, { store, keepStore: true });
    const port = r.http.port;
    const { client, transport } = await connect(r.http.url);
    const id = transport.sessionId as string;
    // a graceful restart: the session is written down as disconnected, with its own policy
    await r.mcp.clearAll();
    await r.sink.flush();
    await r.http.close();
    expect(await store.getSession('default', id)).toMatchObject({
      status: 'disconnected',
      graceMs: 30 * 60_000,
      maxRecoveryAttempts: 5,
    });
    // 20 minutes later: past the default grace, inside this server's
    clock += 20 * 60_000;
    r = await rig(opts, { store, port, keepStore: true });
    expect(text(await retried(() => client.callTool({ name: 'echo', arguments: { text: 'back' } })))).toBe('back');
    expect(r.mcp.get(id)).toMatchObject({ recoveryAttempts: 1 });
    await r.sink.flush();
    expect(await store.getSession('default', id)).toMatchObject({ status: 'active', recoveryAttempts: 1 });
    await client.close();
  });

  it('refuses recovery past the grace period and to another principal', async () => {
    let clock = Date.now();
    const store = fileStore();
    const principal = (req: import('./sessions.js').McpRequest) =>
      'headers' in req && !(req.headers instanceof Headers) ? ((req.headers['x-user'] as string) ?? null) : null;
    const opts = { graceMs: 60_000, principal, now: () => clock };
    let r = await rig(opts, { store, keepStore: true });
    const port = r.http.port;
    const a = await connect(r.http.url, { headers: { 'x-user': 'alice' } });
    const b = await connect(r.http.url, { headers: { 'x-user': 'alice' } });
    await r.sink.flush();
    await r.http.close();
    r = await rig(opts, { store, port, keepStore: true });
    // bob presenting alice's id: 404, and it costs alice nothing
    const asBob = await rawPost(
      r.http.url,
      { jsonrpc: '2.0', id: 3, method: 'tools/list' },
      {
        'mcp-session-id': a.transport.sessionId as string,
        'x-user': 'bob',
      },
    );
    expect(asBob.status).toBe(404);
    expect(text(await retried(() => a.client.callTool({ name: 'echo', arguments: { text: 'ok' } })))).toBe('ok');
    // b comes back after the grace period
    clock += 61_000;
    await expect(retried(() => b.client.callTool({ name: 'echo', arguments: { text: 'late' } }))).rejects.toThrow(
      /404|not found/i,
    );
    expect(r.mcp.tombstone(b.transport.sessionId as string)?.reason).toBe('unrecoverable');
  });
});

describe('recovery: DELETE and an unavailable sink', () => {
  it('ends a session with logout when its client DELETEs it after a restart', async () => {
    const store = fileStore();
    let r = await rig({}, { store, keepStore: true });
    const port = r.http.port;
    const { transport } = await connect(r.http.url);
    const id = transport.sessionId as string;
    await r.mcp.clearAll();
    await r.sink.flush();
    await r.http.close();
    r = await rig({}, { store, port, keepStore: true });
    await retried(() => transport.terminateSession());
    expect(r.mcp.tombstone(id)?.reason).toBe('logout');
    await r.sink.flush();
    expect(await store.getSession('default', id)).toMatchObject({
      status: 'ended',
      exit: { reason: 'logout' },
      recoveryAttempts: 1,
    });
  });
});

describe('agent state', () => {
  it('keeps values per agent and session, hides them after their TTL, and deletes them', async () => {
    let clock = Date.now();
    const store = new SqliteStore({ filename: ':memory:' });
    const sink = embeddedSink({ store, now: () => clock });
    const mcp = createMcpSessions({ sink, createServer: () => demoServer(), now: () => clock });
    cleanups.push(async () => {
      await mcp.shutdown();
      await store.close();
    });
    await mcp.state.set('sess-1', 'planner', 'plan', { steps: ['a', 'b'] });
    await mcp.state.set('sess-1', 'planner', 'scratch', 'tmp', { ttlMs: 1000 });
    await mcp.state.set('sess-1', 'critic', 'plan', 'other agent');
    expect(await mcp.state.get('sess-1', 'planner', 'plan')).toEqual({ steps: ['a', 'b'] });
    expect(await mcp.state.get('sess-1', 'critic', 'plan')).toBe('other agent');
    expect(await mcp.state.get('sess-2', 'planner', 'plan')).toBeUndefined();
    expect(await mcp.state.get('sess-1', 'planner', 'scratch')).toBe('tmp');
    clock += 1000;
    expect(await mcp.state.get('sess-1', 'planner', 'scratch')).toBeUndefined();
    await mcp.state.delete('sess-1', 'planner', 'plan');
    expect(await mcp.state.get('sess-1', 'planner', 'plan')).toBeUndefined();
    await expect(mcp.state.set('sess-1', 'planner', 'big', 'x'.repeat(9000))).rejects.toThrow(RangeError);
    await expect(mcp.state.set('sess-1', 'planner', 'fn', () => 1)).rejects.toThrow(TypeError);
    await expect(mcp.state.set('sess-1', '', 'k', 1)).rejects.toThrow(RangeError);
  });

  it('deletes expired rows in the background (embedded sink without a sessiontrack server)', async () => {
    let clock = Date.now();
    const store = new SqliteStore({ filename: ':memory:' });
    const sink = embeddedSink({ store, now: () => clock, purgeIntervalMs: 10 });
    const mcp = createMcpSessions({ sink, createServer: () => demoServer(), now: () => clock });
    cleanups.push(async () => {
      await mcp.shutdown();
      await store.close();
    });
    const http = await listen((req, res) => mcp.handle(req, res));
    cleanups.push(() => http.close());
    const { transport } = await connect(http.url);
    const id = transport.sessionId as string;
    await sink.flush();
    await mcp.state.set(id, 'a', 'short', 1, { ttlMs: 1000 });
    await mcp.state.set(id, 'a', 'long', 2);
    clock += 2000;
    // read "as of long ago": a row that still exists would show
    await until(async () => (await store.getAgentState('default', id, 'a', 'short', 0)) === null);
    expect((await store.getAgentState('default', id, 'a', 'long', 0))?.value).toBe(2);
  });
});

describe('frameworks and notifications', () => {
  it('serves through the Web-standard handler (Hono) with a pre-parsed body as well', async () => {
    const { Hono } = await import('hono');
    const { getRequestListener } = await import('@hono/node-server');
    const store = new SqliteStore({ filename: ':memory:' });
    const sink = embeddedSink({ store, flushIntervalMs: 5 });
    const mcp = createMcpSessions({ sink, createServer: () => demoServer() });
    const app = new Hono();
    app.all('/mcp', async (c) => {
      // a framework that already parsed the body hands it over
      const body = c.req.method === 'POST' ? await c.req.json() : undefined;
      return mcp.handleRequest(c.req.raw, { parsedBody: body });
    });
    const listener = getRequestListener(app.fetch);
    const http = await listen((req, res) => listener(req, res));
    cleanups.push(async () => {
      await http.close();
      await mcp.shutdown();
      await store.close();
    });
    const { client, transport } = await connect(http.url, { name: 'via-hono' });
    expect(text(await client.callTool({ name: 'add', arguments: { a: 40, b: 2 } }))).toBe('42');
    await sink.flush();
    expect(await store.getSession('default', transport.sessionId as string)).toMatchObject({
      toolCalls: 1,
      metadata: { clientName: 'via-hono' },
    });
    await client.close();
  });

  it('serves through Express after express.json(); close(id) leaves the session recoverable', async () => {
    const { default: express } = await import('express');
    const store = new SqliteStore({ filename: ':memory:' });
    const sink = embeddedSink({ store, flushIntervalMs: 5 });
    const mcp = createMcpSessions({ sink, createServer: () => demoServer() });
    const app = express();
    app.use(express.json());
    app.all('/mcp', (req, res) => mcp.handle(req, res, req.body));
    const http = await listen(app);
    cleanups.push(async () => {
      await http.close();
      await mcp.shutdown();
      await store.close();
    });
    const { client, transport } = await connect(http.url, { name: 'via-express' });
    const id = transport.sessionId as string;
    expect(text(await client.callTool({ name: 'echo', arguments: { text: 'parsed once' } }))).toBe('parsed once');

    // an operator closes the transport: the session is disconnected, not ended
    expect(await mcp.close(id)).toBe(true);
    expect(await mcp.close(id)).toBe(false);
    expect(mcp.activeCount()).toBe(0);
    await sink.flush();
    expect((await store.getSession('default', id))?.status).toBe('disconnected');
    // the client's next call is served on a fresh transport under the same id
    expect(text(await client.callTool({ name: 'add', arguments: { a: 1, b: 2 } }))).toBe('3');
    expect(mcp.get(id)).toMatchObject({ recoveryAttempts: 1, clientName: 'via-express', toolCalls: 1 });
    await sink.flush();
    expect(await store.getSession('default', id)).toMatchObject({
      status: 'active',
      toolCalls: 2,
      recoveryAttempts: 1,
    });
    await client.close();
  });

  it('tells a client that enabled logging that its session expired, and logs lifecycle events', async () => {
    const lines: string[] = [];
    const logger = {
      debug() {},
      info: (_: Record<string, unknown>, msg: string) => lines.push(msg),
      warn() {},
      error() {},
    };
    let clock = Date.now();
    const { http, mcp } = await rig({ idleTimeoutMs: 60_000, sweepIntervalMs: 3_600_000, logger, now: () => clock });
    const { client, transport } = await connect(http.url);
    const got: unknown[] = [];
    const { LoggingMessageNotificationSchema } = await import('@modelcontextprotocol/sdk/types.js');
    client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
      got.push(n.params.data);
    });
    await client.setLoggingLevel('info');
    // the client's GET stream must be open to receive a notification outside a request
    await until(() => mcp.get(transport.sessionId as string) !== undefined);
    await new Promise((r) => setTimeout(r, 100));
    clock += 61_000;
    expect(await mcp.sweep()).toBe(1);
    await until(() => got.length > 0);
    expect(got[0]).toEqual({ event: 'session_expired', sessionId: transport.sessionId });
    expect(lines).toEqual(expect.arrayContaining(['mcp session started', 'mcp session expired']));
    await client.close();
  });
});
