import { SqliteStore } from '@sessiontrack/store';
import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { embeddedSink } from './embedded-sink.js';
import { demoServer, initializeBody } from './mcp.testkit.js';
import { createMcpSessions, type McpSessions } from './sessions.js';

// Random requests over the MCP handler (issue 14, "tests that stay"): random JSON shapes and
// depths, JSON-RPC messages with random params (initialize, tools/call, batches), strings with
// U+0000 and lone surrogates, sizes around the body bound, broken JSON, odd session ids. Through
// the Web handler into the SDK's real transport and server, the embedded sink on SQLite. Whatever
// comes in, the answer is below 500 (a 503 only for capacity or the sink, with Retry-After), it
// never carries a stack trace, and memory stays bounded. MCP_FUZZ_RUNS sets the number of cases.

const RUNS = Number(process.env.MCP_FUZZ_RUNS ?? 500);
const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 1_000_000);

let store: SqliteStore;
let mcp: McpSessions;
let session: string;
beforeAll(async () => {
  store = new SqliteStore({ filename: ':memory:' });
  mcp = createMcpSessions({
    sink: embeddedSink({ store }),
    createServer: () => demoServer(),
    // A body bound the size arbitrary can cross quickly.
    transportOptions: { maxRequestBodySize: 64 * 1024, enableJsonResponse: true },
    maxSessions: 100_000,
  });
  const res = await mcp.handleRequest(request(JSON.stringify(initializeBody('fuzz')), {}));
  session = res.headers.get('mcp-session-id') as string;
  await res.text();
});
afterAll(async () => {
  await mcp.shutdown();
  await store.close();
});

function request(body: string, headers: Record<string, string>, method = 'POST'): Request {
  return new Request('http://localhost/mcp', {
    method,
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': '2025-06-18',
      ...headers,
    },
    body: method === 'POST' ? body : null,
  });
}

const hostileChar = fc.constantFrom('\u0000', '\ud800', '\udfff', '\ufffd', '\u202e', '\u2028', '😀', '"', '\\');
const hostileString = fc.oneof(
  { weight: 3, arbitrary: fc.string({ maxLength: 30 }) },
  { weight: 3, arbitrary: fc.string({ unit: 'binary', maxLength: 30 }) },
  {
    weight: 2,
    arbitrary: fc.array(fc.oneof(hostileChar, fc.string({ maxLength: 3 })), { maxLength: 10 }).map((a) => a.join('')),
  },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 80_000 }).map((n) => 'x'.repeat(n)) },
);
const json = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', maxDepth: 6 },
    hostileString,
    fc.double(),
    fc.integer(),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(hostileString, tie('value'), { maxKeys: 4 }),
  ),
})).value;
const deepText = fc
  .tuple(fc.integer({ min: 1, max: 10_000 }), fc.constantFrom('[', '{"a":'))
  .map(([n, open]) => `${open.repeat(n)}1${(open === '[' ? ']' : '}').repeat(n)}`);
const id = fc.oneof(fc.integer(), hostileString, fc.constant(null), json);
const method = fc.oneof(
  fc.constantFrom('initialize', 'tools/call', 'tools/list', 'ping', 'logging/setLevel', 'notifications/cancelled'),
  hostileString,
);
const message = fc.record(
  {
    jsonrpc: fc.oneof(fc.constant('2.0'), hostileString),
    id,
    method,
    params: fc.oneof(
      json,
      fc.record({ name: fc.oneof(fc.constantFrom('echo', 'add', 'fail', 'slow'), hostileString), arguments: json }),
      fc.record({ protocolVersion: hostileString, capabilities: json, clientInfo: json }),
    ),
  },
  { requiredKeys: ['jsonrpc', 'method'] },
);
const body = fc.oneof(
  { weight: 4, arbitrary: message.map((m) => JSON.stringify(m)) },
  { weight: 2, arbitrary: fc.array(message, { maxLength: 5 }).map((m) => JSON.stringify(m)) },
  { weight: 2, arbitrary: json.map((v) => JSON.stringify(v) ?? '') },
  { weight: 1, arbitrary: deepText },
  { weight: 1, arbitrary: hostileString },
);
const sessionHeader = fc.oneof(
  fc.constant(undefined),
  fc.constant('live'),
  fc.constantFrom('mcp_unknown_00000000000000000000000000', '', ' ', 'x'.repeat(300)),
);

it(`answers ${RUNS} random requests below 500, without a stack trace, in bounded memory (seed ${SEED})`, async () => {
  const statuses = new Map<number, number>();
  const rssBefore = process.memoryUsage().rss;
  await fc.assert(
    fc.asyncProperty(body, sessionHeader, fc.constantFrom('POST', 'POST', 'POST', 'GET', 'DELETE'), async (b, s, m) => {
      const headers: Record<string, string> = {};
      if (s !== undefined) headers['mcp-session-id'] = s === 'live' ? session : s;
      // A DELETE of the live session would end it: the others keep testing a live one.
      if (m === 'DELETE' && s === 'live') return;
      let res: Response;
      try {
        res = await mcp.handleRequest(request(b, headers, m));
      } catch {
        // Header values fetch itself refuses (not a request the handler can see).
        return;
      }
      // A GET opens the session's event stream: its status is the answer, the stream is not read.
      let text = '';
      if (m === 'GET' && res.status === 200) await res.body?.cancel();
      else text = await res.text();
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      expect(text).not.toMatch(/\n\s+at .+:\d+:\d+/);
      if (res.status >= 500) {
        expect(res.status).toBe(503);
        expect(res.headers.get('retry-after')).not.toBeNull();
      }
    }),
    { numRuns: RUNS, seed: SEED },
  );
  const grownMiB = (process.memoryUsage().rss - rssBefore) / 2 ** 20;
  console.log(
    `mcp fuzz: ${RUNS} cases, seed ${SEED}, statuses ${JSON.stringify(Object.fromEntries([...statuses].sort()))}, RSS +${grownMiB.toFixed(0)} MiB`,
  );
  expect(grownMiB).toBeLessThan(256);
}, 180_000);
