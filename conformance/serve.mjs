// The conformance target, served one way per process: `node conformance/serve.mjs <bare|wrapped> [dataDir]`.
//   bare:    the SDK's documented stateful Streamable HTTP pattern (a Map of transports by session id);
//   wrapped: the same server behind createMcpSessions with the embedded SQLite sink.
// Both with the same transport options. Listens on 127.0.0.1 (PORT, default a free one) and prints
// `listening <port>` when ready. CONFORMANCE_SERVER_REQUESTS=standalone sends sampling and
// elicitation requests on the GET stream, as the suite's reference server does.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import { createMcpSessions } from '@sessiontrack/mcp';
import { embeddedSink } from '@sessiontrack/mcp/embedded';
import { SqliteStore } from '@sessiontrack/store';
import { createConformanceServer } from './everything-server.mjs';

const [mode, dataDirArg] = process.argv.slice(2);
if (mode !== 'bare' && mode !== 'wrapped') {
  console.error('usage: node conformance/serve.mjs <bare|wrapped> [dataDir]');
  process.exit(2);
}
const serverRequests = process.env.CONFORMANCE_SERVER_REQUESTS === 'standalone' ? 'standalone' : 'related';
const createMcpServer = () => createConformanceServer({ serverRequests });

/**
 * Resumability (SEP-1699: the suite's SSE polling scenario resumes with Last-Event-ID): events in
 * memory, ids ordered by a counter. One store for every transport, as the options are shared.
 */
function memoryEventStore() {
  const events = new Map();
  let seq = 0;
  return {
    async storeEvent(streamId, message) {
      const id = `${streamId}::${String(++seq).padStart(12, '0')}`;
      events.set(id, { streamId, message });
      return id;
    },
    async replayEventsAfter(lastEventId, { send }) {
      const streamId = lastEventId.slice(0, lastEventId.lastIndexOf('::'));
      for (const [id, e] of events) {
        if (e.streamId === streamId && id > lastEventId) await send(id, e.message);
      }
      return streamId;
    },
  };
}

async function readBody(req) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  return chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : undefined;
}

const http = createServer();
await new Promise((r) => http.listen(Number(process.env.PORT ?? 0), '127.0.0.1', r));
const { port } = http.address();

// The transport options both modes share: resumable streams with a retry hint, and DNS rebinding
// protection for a localhost server (the suite checks that a foreign Host is refused).
const transportOptions = {
  eventStore: memoryEventStore(),
  retryInterval: 1000,
  enableDnsRebindingProtection: true,
  allowedHosts: [`127.0.0.1:${port}`, `localhost:${port}`],
};

let handle;
let close;
if (mode === 'bare') {
  const transports = new Map();
  handle = async (req, res) => {
    const id = req.headers['mcp-session-id'];
    const body = req.method === 'POST' ? await readBody(req) : undefined;
    let transport = id ? transports.get(id) : undefined;
    if (!transport) {
      if (id || !isInitializeRequest(body)) {
        res
          .writeHead(id ? 404 : 400, { 'content-type': 'application/json' })
          .end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32000, message: 'No such session' }, id: null }));
        return;
      }
      const t = new StreamableHTTPServerTransport({
        ...transportOptions,
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (sid) => transports.set(sid, t),
      });
      t.onclose = () => t.sessionId && transports.delete(t.sessionId);
      await createMcpServer().connect(t);
      transport = t;
    }
    await transport.handleRequest(req, res, body);
  };
  close = async () => {
    await Promise.all([...transports.values()].map((t) => t.close()));
  };
} else {
  const dataDir = dataDirArg ?? mkdtempSync(path.join(tmpdir(), 'sessiontrack-conformance-'));
  const store = new SqliteStore({ filename: path.join(dataDir, 'sessiontrack.db') });
  const mcp = createMcpSessions({ sink: embeddedSink({ store }), createServer: createMcpServer, transportOptions });
  handle = (req, res) => mcp.handle(req, res);
  close = async () => {
    await mcp.shutdown();
    await store.close();
    if (!dataDirArg) rmSync(dataDir, { recursive: true, force: true });
  };
}

http.on('request', (req, res) => {
  if (new URL(req.url ?? '/', 'http://x').pathname !== '/mcp') {
    res.writeHead(404).end();
    return;
  }
  handle(req, res).catch((err) => {
    console.error(`request failed: ${err.stack ?? err}`);
    if (!res.headersSent) res.writeHead(500).end();
  });
});
console.log(`listening ${port}`);

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, async () => {
    if (stopping) return;
    stopping = true;
    http.closeAllConnections();
    http.close();
    await close();
    process.exit(0);
  });
}
