// An MCP server with sessiontrack: `npm run example:mcp` (see README.md beside this file).
//   PORT                                      default 3100
//   SESSIONTRACK_URL + SESSIONTRACK_WRITE_KEY  send sessions to a running sessiontrack server
//   SESSIONTRACK_DATA_DIR                      else: an embedded SQLite database here (default ./data)
//   ALLOWED_HOSTS                              Host names it answers to (default: the loopback names)
//   OTEL_TRACES_EXPORTER                       console | otlp: start the OpenTelemetry Node SDK
import { createServer } from 'node:http';
import path from 'node:path';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { createMcpSessions, remoteSink } from '@sessiontrack/mcp';
import { z } from 'zod';

const env = process.env;
const port = Number(env.PORT ?? 3100);

// 0. OpenTelemetry, when asked for: the SDK reads its OTEL_* settings (OTEL_TRACES_EXPORTER,
// OTEL_METRICS_EXPORTER, OTEL_EXPORTER_OTLP_ENDPOINT, …) from the environment. The integration
// emits spans and metrics through @opentelemetry/api; without an SDK they cost next to nothing.
let otel;
if (env.OTEL_TRACES_EXPORTER) {
  const { NodeSDK } = await import('@opentelemetry/sdk-node');
  otel = new NodeSDK({ serviceName: env.OTEL_SERVICE_NAME ?? 'sessiontrack-example' });
  otel.start();
}

// 1. The MCP server the author already has: nothing in it knows about sessiontrack.
function createMcpServer() {
  const server = new McpServer({ name: 'sessiontrack-example', version: '1.0.0' }, { capabilities: { logging: {} } });
  server.registerTool(
    'echo',
    { description: 'Returns the text', inputSchema: { text: z.string() } },
    async ({ text }) => ({
      content: [{ type: 'text', text }],
    }),
  );
  server.registerTool(
    'add',
    { description: 'Adds two numbers', inputSchema: { a: z.number(), b: z.number() } },
    async ({ a, b }) => ({ content: [{ type: 'text', text: String(a + b) }] }),
  );
  server.registerTool('fail', { description: 'Always fails (a tool error)' }, async () => ({
    content: [{ type: 'text', text: 'this tool always fails' }],
    isError: true,
  }));
  return server;
}

// 2. Where sessions go: a sessiontrack server, or a SQLite file of our own.
const log = {
  debug() {},
  info: (obj, msg) => console.log(`${msg} ${JSON.stringify(obj)}`),
  warn: (obj, msg) => console.warn(`${msg} ${JSON.stringify(obj)}`),
  error: (obj, msg) => console.error(`${msg} ${JSON.stringify(obj)}`),
};
let store;
let sink;
if (env.SESSIONTRACK_URL && env.SESSIONTRACK_WRITE_KEY) {
  sink = remoteSink({ url: env.SESSIONTRACK_URL, writeKey: env.SESSIONTRACK_WRITE_KEY, logger: log });
} else {
  // Only the embedded sink needs the store (and its native SQLite driver): loaded when chosen.
  const { embeddedSink } = await import('@sessiontrack/mcp/embedded');
  const { SqliteStore } = await import('@sessiontrack/store');
  const dataDir = path.resolve(env.SESSIONTRACK_DATA_DIR ?? './data');
  store = new SqliteStore({ filename: path.join(dataDir, 'sessiontrack.db') });
  sink = embeddedSink({ store, logger: log });
}

// 3. One handler owns the sessions: lifecycle, tool calls, expiry, recovery.
// DNS rebinding protection: a request whose Host (or Origin) names another site is refused (403).
// On 127.0.0.1 the loopback names are the default; served under a name (HOST=0.0.0.0, or behind
// a proxy that passes its Host on), list it: ALLOWED_HOSTS=mcp.example.com.
const allowedHosts = env.ALLOWED_HOSTS ? env.ALLOWED_HOSTS.split(',').map((h) => h.trim()) : undefined;
const mcp = createMcpSessions({ sink, createServer: createMcpServer, logger: log, allowedHosts });

const http = createServer((req, res) => {
  if (new URL(req.url ?? '/', 'http://x').pathname !== '/mcp') {
    res.writeHead(404, { 'content-type': 'text/plain' }).end('MCP is served at /mcp\n');
    return;
  }
  mcp.handle(req, res).catch((err) => {
    log.error({ err: err.message }, 'request failed');
    if (!res.headersSent) res.writeHead(500).end();
  });
});
http.listen(port, env.HOST ?? '127.0.0.1', () => {
  const { address, port: actual } = http.address();
  console.log(`MCP server listening on http://${address}:${actual}/mcp (sessions: ${sink.kind} sink)`);
});

// Shutdown: transports close, sessions stay recoverable after the restart, queued writes are sent.
let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, async () => {
    if (stopping) return;
    stopping = true;
    http.closeAllConnections();
    http.close();
    await mcp.shutdown();
    await store?.close();
    // Sends what is still buffered (spans, the last metrics).
    await otel?.shutdown();
    process.exit(0);
  });
}
