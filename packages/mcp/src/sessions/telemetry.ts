import { createRequire } from 'node:module';
import type { Live } from './live-sessions.js';
import type { McpTelemetryOptions } from './options.js';
import type { RequestEnd, TrackedRequest } from './transport-instrumentation.js';

// OpenTelemetry's conventions for MCP servers (gen-ai semantic conventions, "development"; the
// names are listed in docs/mcp.md#opentelemetry): a SERVER span per JSON-RPC request, its parent
// taken from `params._meta` (traceparent/tracestate) when the client sent one, and the
// mcp.server.operation.duration and mcp.server.session.duration histograms. Only through
// @opentelemetry/api, an optional peer: without it nothing is loaded, and without a registered SDK
// its tracer and meter are no-ops. Tool arguments and results never go into a span unless the
// author opts in (`captureToolPayloads`).

/** What the session handler tells the telemetry; null when it is off or the API is not installed. */
export interface RequestTelemetry {
  /** A request arrived: runs `deliver` (the SDK's handling of it) inside the request's span. */
  begin(l: Live, request: TrackedRequest, params: unknown, deliver: () => void): void;
  /** Its answer was handed to the transport. */
  end(l: Live, request: TrackedRequest, end: RequestEnd): void;
  /** It will get no answer: cancelled by the client, or its session stopped being served. */
  abandon(request: TrackedRequest, errorType: string): void;
  /** The session stopped being served by this process. */
  sessionEnded(l: Live): void;
}

const SCOPE = '@sessiontrack/mcp';
// The conventions' advice for both histograms, in seconds.
const BUCKETS = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60, 120, 300];
const RESOURCE_METHODS = new Set(['resources/read', 'resources/subscribe', 'resources/unsubscribe']);
/** Distinct tool and prompt names a metric attribute takes; past it `_OTHER` (a client names them). */
const MAX_METRIC_NAMES = 200;

// The part of @opentelemetry/api used here, described locally: the package is an optional peer,
// so neither this file nor its declarations may need it to compile.
type Attributes = Record<string, string>;
type Context = object;
type Histogram = { record(value: number, attributes: Attributes): void };
interface SpanContext {
  readonly traceId: string;
  readonly spanId: string;
}
interface Span {
  setAttribute(key: string, value: string): unknown;
  setStatus(status: { code: number; message?: string }): unknown;
  end(): void;
}
interface Api {
  ROOT_CONTEXT: Context;
  SpanKind: { SERVER: number };
  SpanStatusCode: { ERROR: number };
  isSpanContextValid(sc: SpanContext): boolean;
  context: { active(): Context; with(ctx: Context, fn: () => void): void };
  propagation: { extract(ctx: Context, carrier: unknown): Context };
  trace: {
    getTracer(name: string): {
      startSpan(
        name: string,
        options: { kind: number; attributes: Attributes; links?: { context: SpanContext }[] },
        ctx: Context,
      ): Span;
    };
    getSpanContext(ctx: Context): SpanContext | undefined;
    setSpan(ctx: Context, span: Span): Context;
  };
  metrics: {
    getMeterProvider(): unknown;
    getMeter(name: string): {
      createHistogram(
        name: string,
        options: { unit: string; description: string; advice: { explicitBucketBoundaries: number[] } },
      ): Histogram;
    };
  };
}

function loadApi(): Api | null {
  try {
    // Synchronous, so createMcpSessions stays synchronous; the API keeps its state on globalThis,
    // so this copy and the application's ESM import see the same registered SDK.
    return createRequire(import.meta.url)('@opentelemetry/api') as Api;
  } catch {
    return null;
  }
}

/** A request's span, and what its duration metric is recorded with. */
interface Open {
  span: Span;
  method: string;
  version: string | null;
  tool: string | null;
  prompt: string | null;
}

export function requestTelemetry(options: McpTelemetryOptions | false | undefined): RequestTelemetry | null {
  if (options === false) return null;
  const api = loadApi();
  if (!api) return null;
  const capture = options?.captureToolPayloads === true;
  const tracer = api.trace.getTracer(SCOPE);
  // The tracer above is a proxy that follows the SDK registered later; the metrics API has no such
  // proxy, so the histograms are made again once another meter provider is registered.
  let meterProvider: unknown;
  let histograms: { operation: Histogram; session: Histogram } | undefined;
  const meters = () => {
    const provider = api.metrics.getMeterProvider();
    if (histograms && provider === meterProvider) return histograms;
    meterProvider = provider;
    const meter = api.metrics.getMeter(SCOPE);
    histograms = {
      operation: meter.createHistogram('mcp.server.operation.duration', {
        unit: 's',
        description:
          'MCP request duration as observed on the receiver from the time it was received until the result is sent.',
        advice: { explicitBucketBoundaries: BUCKETS },
      }),
      session: meter.createHistogram('mcp.server.session.duration', {
        unit: 's',
        description: 'The duration of the MCP session as observed on the MCP server.',
        advice: { explicitBucketBoundaries: BUCKETS },
      }),
    };
    return histograms;
  };
  const open = new WeakMap<TrackedRequest, Open>();
  // performance.now() of a session's first request here (a recovered session starts here again).
  const firstSeen = new WeakMap<Live, number>();
  const metricNames = new Set<string>();
  const bounded = (name: string) => {
    if (metricNames.has(name)) return name;
    if (metricNames.size >= MAX_METRIC_NAMES) return '_OTHER';
    metricNames.add(name);
    return name;
  };

  const finish = (o: Open, durationMs: number, errorType: string | null, statusCode?: string, message?: string) => {
    // Low-cardinality attributes only: no session, request id or resource URI.
    const metric: Attributes = {
      'mcp.method.name': o.method,
      'network.transport': 'tcp',
      'network.protocol.name': 'http',
    };
    if (o.version) metric['mcp.protocol.version'] = o.version;
    if (o.tool !== null) {
      metric['gen_ai.tool.name'] = bounded(o.tool);
      metric['gen_ai.operation.name'] = 'execute_tool';
    }
    if (o.prompt !== null) metric['gen_ai.prompt.name'] = bounded(o.prompt);
    if (statusCode) {
      o.span.setAttribute('rpc.response.status_code', statusCode);
      metric['rpc.response.status_code'] = statusCode;
    }
    if (errorType !== null) {
      o.span.setAttribute('error.type', errorType);
      o.span.setStatus({ code: api.SpanStatusCode.ERROR, ...(message ? { message } : {}) });
      metric['error.type'] = errorType;
    }
    o.span.end();
    meters().operation.record(durationMs / 1000, metric);
  };

  return {
    begin(l, request, params, deliver) {
      const p = (params ?? {}) as { name?: unknown; uri?: unknown; protocolVersion?: unknown; _meta?: unknown };
      if (!firstSeen.has(l)) firstSeen.set(l, request.t0);
      const attributes: Attributes = {
        'mcp.method.name': request.method,
        'jsonrpc.request.id': String(request.id),
        'network.transport': 'tcp',
        'network.protocol.name': 'http',
      };
      const version = l.meta.protocolVersion ?? (typeof p.protocolVersion === 'string' ? p.protocolVersion : null);
      if (version) attributes['mcp.protocol.version'] = version;
      // A stateless request has no MCP session (its sessiontrack group id is not one the client knows).
      if (l.transport.sessionId) attributes['mcp.session.id'] = l.transport.sessionId;
      const prompt = request.method === 'prompts/get' && typeof p.name === 'string' ? p.name : null;
      if (request.tool !== null) {
        attributes['gen_ai.tool.name'] = request.tool;
        attributes['gen_ai.operation.name'] = 'execute_tool';
        if (capture) {
          const args = (params as { arguments?: unknown } | undefined)?.arguments;
          if (args !== undefined) attributes['gen_ai.tool.call.arguments'] = JSON.stringify(args);
        }
      } else if (prompt !== null) {
        attributes['gen_ai.prompt.name'] = prompt;
      }
      // A resource URI may name anything: on the span, never in its name or the metric.
      if (RESOURCE_METHODS.has(request.method) && typeof p.uri === 'string') attributes['mcp.resource.uri'] = p.uri;

      // The client's context from _meta is the parent; the ambient one (an HTTP server span, say)
      // becomes a link, as the conventions say. Without _meta the ambient context is the parent.
      const ambient = api.context.active();
      let parent = ambient;
      let links: { context: SpanContext }[] | undefined;
      if (p._meta !== null && typeof p._meta === 'object') {
        const remote = api.propagation.extract(api.ROOT_CONTEXT, p._meta);
        if (api.trace.getSpanContext(remote)) {
          parent = remote;
          const around = api.trace.getSpanContext(ambient);
          if (around && api.isSpanContextValid(around)) links = [{ context: around }];
        }
      }
      const target = request.tool ?? prompt;
      const span = tracer.startSpan(
        target !== null ? `${request.method} ${target}` : request.method,
        { kind: api.SpanKind.SERVER, attributes, links },
        parent,
      );
      open.set(request, { span, method: request.method, version, tool: request.tool, prompt });
      api.context.with(api.trace.setSpan(parent, span), deliver);
    },

    end(_l, request, end) {
      const o = open.get(request);
      if (!o) return;
      open.delete(request);
      const result = end.result as { protocolVersion?: unknown } | undefined;
      if (request.method === 'initialize' && typeof result?.protocolVersion === 'string') {
        // The version the server agreed to, not the one the client asked for.
        o.span.setAttribute('mcp.protocol.version', result.protocolVersion);
        o.version = result.protocolVersion;
      }
      if (end.error) {
        const code = String(end.error.code);
        finish(o, end.durationMs, code, code, end.error.message);
        return;
      }
      if (capture && request.tool !== null && !end.toolError && end.result !== undefined) {
        o.span.setAttribute('gen_ai.tool.call.result', JSON.stringify(end.result));
      }
      finish(o, end.durationMs, end.toolError ? 'tool_error' : null);
    },

    abandon(request, errorType) {
      const o = open.get(request);
      if (!o) return;
      open.delete(request);
      finish(o, performance.now() - request.t0, errorType);
    },

    sessionEnded(l) {
      const t0 = firstSeen.get(l);
      if (t0 === undefined) return;
      firstSeen.delete(l);
      const attributes: Attributes = { 'network.transport': 'tcp', 'network.protocol.name': 'http' };
      if (l.meta.protocolVersion) attributes['mcp.protocol.version'] = l.meta.protocolVersion;
      meters().session.record((performance.now() - t0) / 1000, attributes);
    },
  };
}
