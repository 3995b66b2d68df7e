import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { SqliteStore } from '@sessiontrack/store';
import { afterAll, expect, it } from 'vitest';
import { embeddedSink } from './embedded-sink.js';
import { demoServer, initializeBody, listen, rawPost } from './mcp.testkit.js';
import { createMcpSessions } from './sessions.js';

// Expiry must free memory, not just forget ids: 2,000 sessions are opened over real HTTP and
// abandoned, expiry closes their transports, and the heap returns near its baseline.

// A gc() without --expose-gc on the command line (vitest starts the worker).
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const heap = async () => {
  for (let i = 0; i < 4; i++) {
    gc();
    await new Promise((r) => setImmediate(r));
  }
  return process.memoryUsage().heapUsed;
};

const N = 2000;
let clock = Date.now();
const store = new SqliteStore({ filename: ':memory:' });
const sink = embeddedSink({ store, flushIntervalMs: 20 });
const expired: string[] = [];
let closedTransports = 0;
const mcp = createMcpSessions({
  sink,
  createServer: () => {
    const server = demoServer();
    // The SDK calls this when the server's transport has closed.
    server.server.onclose = () => closedTransports++;
    return server;
  },
  idleTimeoutMs: 60_000,
  sweepIntervalMs: 3_600_000,
  now: () => clock,
  onExpired: (id) => expired.push(id),
});
const http = await listen((req, res) => mcp.handle(req, res));
afterAll(async () => {
  await http.close();
  await mcp.shutdown();
  await store.close();
});

async function open(n: number): Promise<void> {
  for (let i = 0; i < n; i += 50) {
    await Promise.all(
      Array.from({ length: Math.min(50, n - i) }, async () => {
        const res = await rawPost(http.url, initializeBody('abandoning-client'));
        await res.text();
        const id = res.headers.get('mcp-session-id') as string;
        const note = await rawPost(
          http.url,
          { jsonrpc: '2.0', method: 'notifications/initialized' },
          { 'mcp-session-id': id },
        );
        await note.text();
      }),
    );
  }
}

it(`expires ${N} abandoned sessions, closes their transports and frees their memory`, {
  timeout: 120_000,
}, async () => {
  // Warm-up: code paths, JIT and pools allocated once do not count as a leak.
  await open(100);
  clock += 61_000;
  expect(await mcp.sweep()).toBe(100);
  await sink.flush();
  const baseline = await heap();

  await open(N);
  expect(mcp.activeCount()).toBe(N);
  const peak = await heap();

  clock += 61_000;
  expect(await mcp.sweep()).toBe(N);
  expect(mcp.activeCount()).toBe(0);
  expect(expired).toHaveLength(N + 100);
  expect(closedTransports).toBe(N + 100);
  await sink.flush();
  const after = await heap();

  const mb = (b: number) => Math.round(b / 1e5) / 10;
  console.log(
    `heap: baseline ${mb(baseline)} MB, ${N} live sessions ${mb(peak)} MB (+${mb(peak - baseline)}), ` +
      `after expiry ${mb(after)} MB (+${mb(after - baseline)})`,
  );
  // The sessions cost real memory (the measurement can see a leak) …
  expect(peak - baseline).toBeGreaterThan(10e6);
  // … and expiry gives back almost all of it (what remains: tombstones, allocator slack).
  expect(after - baseline).toBeLessThan(0.15 * (peak - baseline));
  // the expired ids answer 404
  const res = await rawPost(
    http.url,
    { jsonrpc: '2.0', id: 1, method: 'tools/list' },
    { 'mcp-session-id': expired[0] as string },
  );
  expect(res.status).toBe(404);
  const ended = await store.listSessions({ projectId: 'default', kind: 'mcp', status: 'ended', limit: 5 }, clock);
  expect(ended.sessions[0]?.exit.reason).toBe('timeout');
});
