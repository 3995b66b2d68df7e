import { SqliteStore } from '@sessiontrack/store';
import { afterEach, describe, expect, it } from 'vitest';
import { embeddedSink } from './embedded-sink.js';
import { connect, demoServer, initializeBody, type Listening, listen, rawPost } from './mcp.testkit.js';
import { createMcpSessions, type McpSessions, type McpSessionsOptions } from './sessions.js';
import type { McpSessionStart, McpSink } from './sink.js';

// What a client that does not play by the rules can make of the handler (issue 14): spoofed
// proxy headers, oversized bodies, repeated request ids, foreign Host and Origin headers. Real
// HTTP, the SDK's real server (and client where one is needed), the embedded sink on SQLite.

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const until = async (cond: () => boolean, ms = 5000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
};

interface Rig {
  mcp: McpSessions;
  http: Listening;
  sink: McpSink;
  starts: McpSessionStart[];
}

async function rig(over: Partial<McpSessionsOptions> = {}): Promise<Rig> {
  const store = new SqliteStore({ filename: ':memory:' });
  const inner = embeddedSink({ store, flushIntervalMs: 5 });
  const starts: McpSessionStart[] = [];
  // The real sink, with the starts it was handed kept for the test to read.
  const sink: McpSink = {
    kind: inner.kind,
    state: inner.state,
    start: (s) => {
      starts.push(s);
      inner.start(s);
    },
    toolCall: (id, c) => inner.toolCall(id, c),
    touch: (id, at) => inner.touch(id, at),
    end: (id, reason) => inner.end(id, reason),
    disconnect: (id) => inner.disconnect(id),
    recover: (id, policy, now) => inner.recover(id, policy, now),
    flush: () => inner.flush(),
    close: () => inner.close(),
  };
  const mcp = createMcpSessions({ sink, createServer: () => demoServer(), ...over });
  const http = await listen((req, res) => mcp.handle(req, res));
  cleanups.push(async () => {
    await http.close();
    await mcp.shutdown();
    await store.close();
  });
  return { mcp, http, sink, starts };
}

describe('X-Forwarded-For behind a trusted proxy', () => {
  it('takes the right-most untrusted hop, not the left-most entry the client wrote', async () => {
    const r = await rig({ trustProxy: true });
    // The client sent "X-Forwarded-For: 6.6.6.6"; the one proxy in front appended its peer.
    await connect(r.http.url, { headers: { 'x-forwarded-for': '6.6.6.6, 198.51.100.7' } });
    expect(r.starts.at(-1)?.clientAddress).toBe('198.51.100.7');
    const ranges = await rig({ trustProxy: ['loopback', '10.0.0.0/8'] });
    await connect(ranges.http.url, { headers: { 'x-forwarded-for': '6.6.6.6, 198.51.100.7, 10.0.0.3' } });
    expect(ranges.starts.at(-1)?.clientAddress).toBe('198.51.100.7');
    // Untrusted: the socket's peer, whatever the header says.
    const none = await rig();
    await connect(none.http.url, { headers: { 'x-forwarded-for': '6.6.6.6' } });
    expect(none.starts.at(-1)?.clientAddress).toBe('127.0.0.1');
  });

  it('refuses a trustProxy it cannot read when the handler is made', () => {
    const store = new SqliteStore({ filename: ':memory:' });
    const sink = embeddedSink({ store });
    cleanups.push(async () => {
      await sink.close();
      await store.close();
    });
    expect(() => createMcpSessions({ sink, createServer: () => demoServer(), trustProxy: ['proxy.local'] })).toThrow(
      /proxy\.local/,
    );
  });
});

describe('request bodies before a session exists', () => {
  it('bounds them by transportOptions.maxRequestBodySize on the Web handler too: 413, nothing parsed', async () => {
    const store = new SqliteStore({ filename: ':memory:' });
    const sink = embeddedSink({ store });
    const mcp = createMcpSessions({
      sink,
      createServer: () => demoServer(),
      transportOptions: { maxRequestBodySize: 1024 },
    });
    cleanups.push(async () => {
      await mcp.shutdown();
      await store.close();
    });
    const padded = (n: number) => {
      const b = initializeBody();
      return JSON.stringify({ ...b, params: { ...b.params, pad: 'x'.repeat(n) } });
    };
    const init = (pad: number) =>
      new Request('http://localhost/mcp', {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body: padded(pad),
      });
    const big = await mcp.handleRequest(init(2000));
    expect(big.status).toBe(413);
    expect(await big.json()).toMatchObject({ error: { code: -32000, message: expect.stringContaining('1024 bytes') } });
    expect(mcp.activeCount()).toBe(0);
    // A body without a declared length (streamed) is cut off as it arrives.
    const streamed = await mcp.handleRequest(
      new Request('http://localhost/mcp', {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body: new Blob([padded(5000)]).stream(),
        duplex: 'half',
      } as RequestInit),
    );
    expect(streamed.status).toBe(413);
    const ok = await mcp.handleRequest(init(10));
    expect([ok.status, await ok.text()]).toEqual([200, expect.any(String)]);
    expect(mcp.activeCount()).toBe(1);
  });
});

describe('requests in flight', () => {
  /** A session opened by raw POSTs (no SDK client: it would never repeat an id). */
  async function rawSession(url: string): Promise<{ id: string; post: (body: unknown) => Promise<Response> }> {
    const init = await rawPost(url, initializeBody('raw'));
    await init.text();
    const id = init.headers.get('mcp-session-id') as string;
    const post = (body: unknown) => rawPost(url, body, { 'mcp-session-id': id });
    await (await post({ jsonrpc: '2.0', method: 'notifications/initialized' })).text();
    return { id, post };
  }
  const echo = (id: number | string, text: string) => ({
    jsonrpc: '2.0',
    id,
    method: 'tools/call',
    params: { name: 'echo', arguments: { text } },
  });

  it('does not let a repeated request id pin a session: it idles out, and new clients get in', async () => {
    const r = await rig({ idleTimeoutMs: 300, sweepIntervalMs: 50, maxSessions: 2 });
    // Two clients, each repeating an id within a batch and across requests.
    const ids: string[] = [];
    for (let i = 0; i < 2; i++) {
      const { id, post } = await rawSession(r.http.url);
      ids.push(id);
      await (await post([echo(7, 'a'), echo(7, 'b')])).text();
      await Promise.all([post(echo(8, 'c')), post(echo(8, 'd'))].map(async (p) => (await p).text()));
      expect(r.mcp.get(id)?.inFlight).toBe(0);
    }
    await until(() => ids.every((id) => r.mcp.tombstone(id)?.reason === 'expired'), 3000);
    const next = await rawPost(r.http.url, initializeBody('next'));
    expect(next.status).toBe(200);
  });

  it('counts a request in flight from arrival to answer, error answers and unknown methods too', async () => {
    const r = await rig();
    const { post } = await rawSession(r.http.url);
    const slow = post({
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/call',
      params: { name: 'slow', arguments: { ms: 300 } },
    });
    await until(() => r.mcp.list()[0]?.inFlight === 1);
    await (await slow).text();
    await (await post({ jsonrpc: '2.0', id: 2, method: 'no/such/method' })).text();
    await (await post({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'nope' } })).text();
    await (await post({ jsonrpc: '2.0', id: 4, method: 'tools/call', params: { name: 'add', arguments: {} } })).text();
    expect(r.mcp.list()[0]?.inFlight).toBe(0);
  });
});

describe('Host and Origin (DNS rebinding)', () => {
  const post = (mcp: McpSessions, headers: Record<string, string>) =>
    mcp.handleRequest(
      new Request('http://mcp.example.com/mcp', {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
        body: JSON.stringify(initializeBody()),
      }),
    );
  async function handler(over: Partial<McpSessionsOptions>): Promise<McpSessions> {
    const store = new SqliteStore({ filename: ':memory:' });
    const mcp = createMcpSessions({ sink: embeddedSink({ store }), createServer: () => demoServer(), ...over });
    cleanups.push(async () => {
      await mcp.shutdown();
      await store.close();
    });
    return mcp;
  }

  it('checks the listed hosts and origins on the Web handler, port-agnostic for hosts', async () => {
    const mcp = await handler({ allowedHosts: ['mcp.example.com'], allowedOrigins: ['https://app.example.com'] });
    expect((await post(mcp, { host: 'attacker.example' })).status).toBe(403);
    expect((await post(mcp, { host: 'mcp.example.com', origin: 'https://attacker.example' })).status).toBe(403);
    expect((await post(mcp, { host: 'mcp.example.com:8443', origin: 'https://app.example.com' })).status).toBe(200);
    expect((await post(mcp, { host: 'mcp.example.com' })).status).toBe(200);
    expect(mcp.activeCount()).toBe(2);
  });

  it('is off on a loopback socket with allowedHosts: false (behind a proxy that checks it)', async () => {
    const r = await rig({ allowedHosts: false });
    const { transport } = await connect(r.http.url, { headers: { origin: 'https://attacker.example' } });
    expect(transport.sessionId).toMatch(/^mcp_/);
  });
});
