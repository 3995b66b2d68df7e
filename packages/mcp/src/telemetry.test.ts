import { ResourceTemplate } from '@modelcontextprotocol/sdk/server/mcp.js';
import { context, metrics, propagation, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import {
  AggregationTemporality,
  type DataPoint,
  type Histogram,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { SqliteStore } from '@sessiontrack/store';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { embeddedSink } from './embedded-sink.js';
import { connect, demoServer, type Listening, listen, rawPost, text } from './mcp.testkit.js';
import { createMcpSessions, type McpSessions } from './sessions.js';

// The OpenTelemetry conventions for MCP servers, with the SDK's in-memory exporters registered
// globally as an application would (one SDK per test file: vitest runs files in their own process).

const spans = new InMemorySpanExporter();
const metricExporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
const reader = new PeriodicExportingMetricReader({ exporter: metricExporter, exportIntervalMillis: 3_600_000 });
const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] });
const meterProvider = new MeterProvider({ readers: [reader] });
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
propagation.setGlobalPropagator(new W3CTraceContextPropagator());
trace.setGlobalTracerProvider(tracerProvider);
metrics.setGlobalMeterProvider(meterProvider);

const stores: SqliteStore[] = [];
/** The embedded sink on an in-memory SQLite store, closed after the file. */
function sqliteSink() {
  const store = new SqliteStore({ filename: ':memory:' });
  stores.push(store);
  return embeddedSink({ store, flushIntervalMs: 5 });
}

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT_SPAN = '00f067aa0ba902b7';

function server() {
  const s = demoServer();
  s.registerTool('traced', {}, async () => {
    // The author's own span: a child of the request's span.
    trace.getTracer('author').startSpan('inside the tool').end();
    return { content: [{ type: 'text', text: 'ok' }] };
  });
  s.registerTool('secret', { inputSchema: { password: z.string() } }, async ({ password }) => ({
    content: [{ type: 'text', text: `got ${password.length} characters` }],
  }));
  s.registerPrompt('greet', { argsSchema: { who: z.string() } }, async ({ who }) => ({
    messages: [{ role: 'user', content: { type: 'text', text: `hello ${who}` } }],
  }));
  s.registerResource('doc', new ResourceTemplate('doc://{id}', { list: undefined }), {}, async (uri) => ({
    contents: [{ uri: uri.href, text: 'a document' }],
  }));
  return s;
}

let mcp: McpSessions;
let http: Listening;
let capturing: McpSessions;
let capturingHttp: Listening;
beforeAll(async () => {
  mcp = createMcpSessions({ sink: sqliteSink(), createServer: server });
  http = await listen((req, res) => mcp.handle(req, res));
  capturing = createMcpSessions({
    sink: sqliteSink(),
    createServer: server,
    openTelemetry: { captureToolPayloads: true },
  });
  capturingHttp = await listen((req, res) => capturing.handle(req, res));
});
afterAll(async () => {
  await mcp.shutdown();
  await capturing.shutdown();
  await http.close();
  await capturingHttp.close();
  for (const store of stores) await store.close();
  await tracerProvider.shutdown();
  await meterProvider.shutdown();
});
afterEach(() => spans.reset());

const serverSpans = () => spans.getFinishedSpans().filter((s) => s.kind === SpanKind.SERVER);
const named = (name: string) => {
  const found = serverSpans().filter((s) => s.name === name);
  expect(found, `one span named ${name} in ${serverSpans().map((s) => s.name)}`).toHaveLength(1);
  return found[0]!;
};

async function histogram(name: string): Promise<DataPoint<Histogram>[]> {
  metricExporter.reset();
  await reader.forceFlush();
  const all = metricExporter.getMetrics().flatMap((r) => r.scopeMetrics.flatMap((s) => s.metrics));
  const m = all.find((x) => x.descriptor.name === name);
  expect(m, `metric ${name}`).toBeDefined();
  expect(m?.descriptor.unit).toBe('s');
  return m?.dataPoints as DataPoint<Histogram>[];
}

describe('spans', () => {
  it('a SERVER span per request, named {method} {target}, with the conventions attributes', async () => {
    const { client, transport } = await connect(http.url);
    await client.callTool({ name: 'echo', arguments: { text: 'hi' } });
    await client.getPrompt({ name: 'greet', arguments: { who: 'ada' } });
    await client.readResource({ uri: 'doc://42' });
    await client.listTools();
    const sessionId = transport.sessionId as string;
    await client.close();

    const init = named('initialize');
    expect(init.attributes).toMatchObject({ 'mcp.method.name': 'initialize', 'mcp.protocol.version': '2025-11-25' });
    const tool = named('tools/call echo');
    expect(tool.kind).toBe(SpanKind.SERVER);
    expect(tool.attributes).toEqual({
      'mcp.method.name': 'tools/call',
      'mcp.session.id': sessionId,
      'mcp.protocol.version': '2025-11-25',
      'jsonrpc.request.id': expect.stringMatching(/^\d+$/),
      'gen_ai.tool.name': 'echo',
      'gen_ai.operation.name': 'execute_tool',
      'network.transport': 'tcp',
      'network.protocol.name': 'http',
    });
    expect(tool.status.code).toBe(SpanStatusCode.UNSET);
    expect(named('prompts/get greet').attributes).toMatchObject({
      'gen_ai.prompt.name': 'greet',
      'mcp.session.id': sessionId,
    });
    const read = named('resources/read');
    expect(read.attributes['mcp.resource.uri']).toBe('doc://42');
    expect(read.attributes['gen_ai.operation.name']).toBeUndefined();
    expect(named('tools/list').attributes['gen_ai.tool.name']).toBeUndefined();
  });

  it('the parent comes from params._meta (traceparent, tracestate); the tool runs inside the span', async () => {
    const { client } = await connect(http.url);
    await client.callTool({
      name: 'traced',
      arguments: {},
      _meta: { traceparent: `00-${TRACE_ID}-${PARENT_SPAN}-01`, tracestate: 'rojo=00f067aa0ba902b7' },
    });
    await client.callTool({ name: 'echo', arguments: { text: 'no parent' } });
    await client.close();

    const tool = named('tools/call traced');
    expect(tool.spanContext().traceId).toBe(TRACE_ID);
    expect(tool.parentSpanContext?.spanId).toBe(PARENT_SPAN);
    expect(tool.parentSpanContext?.isRemote).toBe(true);
    expect(tool.spanContext().traceState?.get('rojo')).toBe('00f067aa0ba902b7');
    const inner = spans.getFinishedSpans().find((s) => s.name === 'inside the tool');
    expect(inner?.spanContext().traceId).toBe(TRACE_ID);
    expect(inner?.parentSpanContext?.spanId).toBe(tool.spanContext().spanId);

    const orphan = named('tools/call echo');
    expect(orphan.spanContext().traceId).not.toBe(TRACE_ID);
    expect(orphan.parentSpanContext).toBeUndefined();
  });

  it('error.type: tool_error for an isError result, the JSON-RPC code for an error answer', async () => {
    const { client, transport } = await connect(http.url);
    await client.callTool({ name: 'fail', arguments: {} });
    await expect(client.getPrompt({ name: 'no-such-prompt' })).rejects.toThrow();
    // A method the server does not have: the SDK answers -32601.
    const res = await rawPost(
      http.url,
      { jsonrpc: '2.0', id: 77, method: 'no/such-method', params: {} },
      { 'mcp-session-id': transport.sessionId as string },
    );
    expect(await res.text()).toContain('-32601');
    await client.close();

    const failed = named('tools/call fail');
    expect(failed.attributes['error.type']).toBe('tool_error');
    expect(failed.status.code).toBe(SpanStatusCode.ERROR);
    const prompt = named('prompts/get no-such-prompt');
    expect(prompt.attributes['error.type']).toBe('-32602');
    expect(prompt.attributes['rpc.response.status_code']).toBe('-32602');
    expect(prompt.status).toMatchObject({ code: SpanStatusCode.ERROR, message: expect.stringContaining('not found') });
    const unknown = named('no/such-method');
    expect(unknown.attributes).toMatchObject({ 'error.type': '-32601', 'jsonrpc.request.id': '77' });
  });

  it('a cancelled request and one left open when its session ends still end their spans', async () => {
    const { client } = await connect(http.url);
    const ac = new AbortController();
    const call = client.callTool({ name: 'slow', arguments: { ms: 300 } }, undefined, { signal: ac.signal });
    await new Promise((r) => setTimeout(r, 50));
    ac.abort();
    await expect(call).rejects.toThrow();
    await new Promise((r) => setTimeout(r, 50));
    expect(named('tools/call slow').attributes['error.type']).toBe('cancelled');

    spans.reset();
    const open = client.callTool({ name: 'slow', arguments: { ms: 5_000 } }).catch(() => 'gone');
    await new Promise((r) => setTimeout(r, 50));
    await mcp.clearAll();
    expect(named('tools/call slow').attributes['error.type']).toBe('session_closed');
    await client.close();
    await open;
  });

  it('tool arguments and results stay out of spans unless the author opts in', async () => {
    for (const [url, captured] of [
      [http.url, false],
      [capturingHttp.url, true],
    ] as const) {
      spans.reset();
      const { client } = await connect(url);
      await client.callTool({ name: 'secret', arguments: { password: 'hunter2' } });
      await client.close();
      const span = named('tools/call secret');
      const everything = JSON.stringify([span.attributes, span.events, span.name]);
      if (captured) {
        expect(span.attributes['gen_ai.tool.call.arguments']).toBe('{"password":"hunter2"}');
        expect(span.attributes['gen_ai.tool.call.result']).toContain('got 7 characters');
      } else {
        expect(everything).not.toContain('hunter2');
        expect(everything).not.toContain('got 7 characters');
      }
    }
  });
});

describe('metrics', () => {
  it('mcp.server.operation.duration: seconds per method and tool, without per-request attributes', async () => {
    const { client } = await connect(http.url);
    await client.callTool({ name: 'slow', arguments: { ms: 120 } });
    await client.callTool({ name: 'fail', arguments: {} });
    await client.close();
    const points = await histogram('mcp.server.operation.duration');
    const slow = points.find((p) => p.attributes['gen_ai.tool.name'] === 'slow' && !p.attributes['error.type']);
    expect(slow?.attributes).toMatchObject({
      'mcp.method.name': 'tools/call',
      'gen_ai.operation.name': 'execute_tool',
      'mcp.protocol.version': '2025-11-25',
      'network.transport': 'tcp',
    });
    expect(slow?.value.min).toBeGreaterThanOrEqual(0.1);
    expect(slow?.value.max).toBeLessThan(5);
    const failed = points.find((p) => p.attributes['gen_ai.tool.name'] === 'fail');
    expect(failed?.attributes['error.type']).toBe('tool_error');
    for (const p of points) {
      expect(p.attributes['mcp.session.id']).toBeUndefined();
      expect(p.attributes['jsonrpc.request.id']).toBeUndefined();
      expect(p.attributes['mcp.resource.uri']).toBeUndefined();
    }
    // The conventions' buckets.
    expect(slow?.value.buckets.boundaries).toEqual([0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60, 120, 300]);
  });

  it('mcp.server.session.duration when a session stops being served', async () => {
    const before = (await histogram('mcp.server.session.duration').catch(() => [])).reduce(
      (n, p) => n + p.value.count,
      0,
    );
    const { client, transport } = await connect(http.url);
    await new Promise((r) => setTimeout(r, 100));
    await client.callTool({ name: 'echo', arguments: { text: 'x' } });
    await transport.terminateSession(); // DELETE: the session ends (logout)
    await client.close();
    const points = await histogram('mcp.server.session.duration');
    expect(points.reduce((n, p) => n + p.value.count, 0)).toBe(before + 1);
    expect(points.every((p) => p.attributes['mcp.session.id'] === undefined)).toBe(true);
    expect(Math.max(...points.map((p) => p.value.max ?? 0))).toBeGreaterThanOrEqual(0.1);
  });
});

it('openTelemetry: false makes no spans', async () => {
  const off = createMcpSessions({ sink: sqliteSink(), createServer: server, openTelemetry: false });
  const h = await listen((req, res) => off.handle(req, res));
  try {
    const { client } = await connect(h.url);
    expect(text(await client.callTool({ name: 'echo', arguments: { text: 'quiet' } }))).toBe('quiet');
    await client.close();
    expect(serverSpans()).toEqual([]);
  } finally {
    await off.shutdown();
    await h.close();
  }
});
