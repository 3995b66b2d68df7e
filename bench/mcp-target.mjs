// One MCP server for bench/mcp.mjs, in its own process: `node bench/mcp-target.mjs <mode> <dataDir>`.
//   plain:   the SDK's documented Streamable HTTP pattern (a Map of transports by session id);
//   tracked: the same McpServer behind @sessiontrack/mcp with the embedded SQLite sink.
// Prints `listening <port>` when ready.
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import path from 'node:path';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import { createMcpSessions } from '@sessiontrack/mcp';
import { embeddedSink } from '@sessiontrack/mcp/embedded';
import { SqliteStore } from '@sessiontrack/store';
import { z } from 'zod';

const [mode, dataDir] = process.argv.slice(2);

// BENCH_OTEL=1 (`bench/mcp.mjs --otel`): an OpenTelemetry SDK registered as an application would
// (async context, W3C propagation, spans batched, metrics aggregated), its exports dropped so that
// only the recording is measured. Both targets get it; only the tracked one makes spans.
if (process.env.BENCH_OTEL === '1') {
  const { context, metrics, propagation, trace } = await import('@opentelemetry/api');
  const { AsyncLocalStorageContextManager } = await import('@opentelemetry/context-async-hooks');
  const { W3CTraceContextPropagator } = await import('@opentelemetry/core');
  const { BasicTracerProvider, BatchSpanProcessor } = await import('@opentelemetry/sdk-trace-base');
  const { MeterProvider, PeriodicExportingMetricReader } = await import('@opentelemetry/sdk-metrics');
  const drop = { export: (_items, done) => done({ code: 0 }), shutdown: async () => {}, forceFlush: async () => {} };
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(drop)] }));
  metrics.setGlobalMeterProvider(
    new MeterProvider({ readers: [new PeriodicExportingMetricReader({ exporter: drop, exportIntervalMillis: 1000 })] }),
  );
}

function mcpServer() {
  const server = new McpServer({ name: 'bench', version: '1.0.0' });
  server.registerTool('add', { inputSchema: { a: z.number(), b: z.number() } }, async ({ a, b }) => ({
    content: [{ type: 'text', text: String(a + b) }],
  }));
  return server;
}

async function readBody(req) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  return chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : undefined;
}

function nullSink() {
  const nothing = () => {};
  return {
    kind: 'null',
    start: nothing,
    toolCall: nothing,
    touch: nothing,
    end: nothing,
    disconnect: nothing,
    recover: async () => ({ ok: false, reason: 'not_found' }),
    state: { get: async () => undefined, set: async () => {}, delete: async () => {} },
    flush: async () => {},
    close: async () => {},
  };
}

let handler;
let shutdown = async () => {};
if (mode === 'plain') {
  const transports = new Map();
  handler = async (req, res) => {
    const id = req.headers['mcp-session-id'];
    const body = req.method === 'POST' ? await readBody(req) : undefined;
    let transport = id ? transports.get(id) : undefined;
    if (!transport && !id && isInitializeRequest(body)) {
      transport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (sid) => transports.set(sid, transport),
      });
      transport.onclose = () => transport.sessionId && transports.delete(transport.sessionId);
      await mcpServer().connect(transport);
    }
    if (!transport) {
      res.writeHead(id ? 404 : 400).end();
      return;
    }
    await transport.handleRequest(req, res, body);
  };
} else if (mode === 'tracked') {
  const store = new SqliteStore({ filename: path.join(dataDir, 'sessiontrack.db') });
  // BENCH_NULL_SINK=1: the session handler with a sink that stores nothing, to tell the handler's
  // own cost from the cost of writing the events (`bench/mcp.mjs --null-sink`).
  const sink = process.env.BENCH_NULL_SINK === '1' ? nullSink() : embeddedSink({ store });
  const mcp = createMcpSessions({ sink, createServer: mcpServer });
  handler = async (req, res) => mcp.handle(req, res, req.method === 'POST' ? await readBody(req) : undefined);
  shutdown = async () => {
    await mcp.shutdown();
    await store.close();
  };
} else {
  console.error('usage: node bench/mcp-target.mjs <plain|tracked> <dataDir>');
  process.exit(2);
}

const http = createServer((req, res) => {
  handler(req, res).catch((err) => {
    if (!res.headersSent) res.writeHead(500).end(String(err));
  });
});
http.listen(0, '127.0.0.1', () => console.log(`listening ${http.address().port}`));
process.on('SIGTERM', () => {
  http.closeAllConnections();
  http.close();
  shutdown().finally(() => process.exit(0));
});
