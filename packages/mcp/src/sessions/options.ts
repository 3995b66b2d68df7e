import type { IncomingMessage } from 'node:http';
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { resolveMaxRequestBodySize } from '@modelcontextprotocol/sdk/server/requestBody.js';
import type { WebStandardStreamableHTTPServerTransportOptions } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import {
  DEFAULT_GRACE_MS,
  DEFAULT_MAX_RECOVERY_ATTEMPTS,
  type Geo,
  KIND_DEFAULTS,
  MAX_GRACE_MS,
  MAX_RECOVERY_ATTEMPTS,
  parseTrustProxy,
  type TrustProxy,
} from '@sessiontrack/core';
import { type McpLogger, type McpSink, silentLogger } from '../sink.js';

/** The request as the author's framework gave it: Node's IncomingMessage, or a Web Request. */
export type McpRequest = IncomingMessage | Request;

/** The SDK server of one session: McpServer or the low-level Server. */
export type SdkServer = McpServer | Server;

export interface McpSessionsOptions {
  sink: McpSink;
  /** A fresh SDK server per session (McpServer or the low-level Server); it is connected here. */
  createServer: (session: { sessionId: string; recovered: boolean }) => SdkServer | Promise<SdkServer>;
  /** Idle time after which the transport is closed and the session ends (default 1 h). */
  idleTimeoutMs?: number;
  /** Age at which the session ends whatever it does (default 30 days). */
  absoluteTimeoutMs?: number;
  /** Live sessions at most; a new one past it answers 503 (default 10,000). */
  maxSessions?: number;
  /** How long after its transport closed a session may be recovered (default 10 min, at most 24 h). */
  graceMs?: number;
  /** Recoveries per session (default 3, at most 100). */
  maxRecoveryAttempts?: number;
  /** The authenticated principal of a request; a session is bound to the one that created it. */
  principal?: (req: McpRequest) => string | null | undefined;
  /** The author's own metadata of a new session (JSON, stored with it, restored on recovery). */
  metadata?: (req: McpRequest) => Record<string, unknown> | null | undefined;
  /** Called after an idle or too old session was expired and its transport closed. */
  onExpired?: (sessionId: string) => void;
  logger?: McpLogger;
  /**
   * The proxies in front (default none): `true` or a count of them, or their addresses and ranges
   * (`['10.0.0.0/8', 'loopback']`), as the server's `--trust-proxy`. The client's address is then the
   * right-most X-Forwarded-For hop that is not one of them, and CF-IPCountry / X-Vercel-IP-Country
   * headers are believed. Ranges need the socket's peer: with `handleRequest` (no socket) use a count.
   */
  trustProxy?: boolean | number | readonly string[];
  /** Geo of a request when the headers cannot tell (e.g. an IP database lookup). */
  geo?: (req: Request) => Geo;
  /** How often expiry is checked (default idle/4, between 50 ms and 30 s). */
  sweepIntervalMs?: number;
  /** Activity is written at most this often per session, tool calls aside (default 30 s). */
  touchIntervalMs?: number;
  /** How long ended and expired ids are remembered to answer 404 without a lookup (default 24 h). */
  tombstoneTtlMs?: number;
  maxTombstones?: number;
  /**
   * Serve requests that carry no session id and are not an initialize (clients of protocol
   * revisions without sessions, or of a stateless deployment) on a stateless transport, and track
   * them as sessions grouped by principal + User-Agent (default false: such requests answer 400).
   */
  sessionless?: boolean;
  /**
   * Hostnames (port-agnostic, IPv6 in brackets) a request's Host header may name; others answer
   * 403 before anything else happens (DNS rebinding protection). Default: on a loopback socket
   * (Node's `handle`) `localhost`, `127.0.0.1`, `[::1]`, elsewhere no check; `false`: no check.
   * Behind a proxy on the same host that passes the public Host on, list the public name.
   */
  allowedHosts?: readonly string[] | false;
  /**
   * Origins (`https://app.example.com`) a request with an Origin header may come from. Default:
   * any origin whose hostname the Host check allows (none checked where no Host check applies).
   */
  allowedOrigins?: readonly string[];
  /** Passed to every transport (JSON responses, DNS rebinding protection, event store, …). */
  transportOptions?: Omit<
    WebStandardStreamableHTTPServerTransportOptions,
    'sessionIdGenerator' | 'onsessioninitialized' | 'onsessionclosed'
  >;
  /**
   * OpenTelemetry spans and metrics through `@opentelemetry/api` when it is installed (no-ops
   * until the application registers an SDK); `false` turns them off. docs/mcp.md#opentelemetry.
   */
  openTelemetry?: McpTelemetryOptions | false;
  now?: () => number;
}

/** OpenTelemetry (sessions/telemetry.ts, docs/mcp.md#opentelemetry). */
export interface McpTelemetryOptions {
  /** Record `gen_ai.tool.call.arguments` and `gen_ai.tool.call.result` on tool spans (default false: they may hold anything). */
  captureToolPayloads?: boolean;
}

/** What a session start stores of the policy (the store enforces it as well). */
export interface SessionLimits {
  idleTimeoutMs: number;
  absoluteTimeoutMs: number;
  graceMs: number;
  maxRecoveryAttempts: number;
}

/** The options checked and defaulted once; every part of the handler reads these. */
export interface Settings {
  readonly options: McpSessionsOptions;
  readonly sink: McpSink;
  readonly log: McpLogger;
  readonly now: () => number;
  readonly limits: SessionLimits;
  readonly maxSessions: number;
  /** The transports' body bound (`transportOptions.maxRequestBodySize`, 4 MiB), also where no transport reads yet. */
  readonly maxBodyBytes: number;
  readonly touchIntervalMs: number;
  readonly tombstoneTtlMs: number;
  readonly maxTombstones: number;
  readonly sweepIntervalMs: number;
  readonly trustProxy: TrustProxy;
  /** The principal of a request, `null` for none (an empty string is none too). */
  principalOf(req: McpRequest): string | null;
}

/** Checks the options a session start would refuse (at construction, not at the first client). */
export function settingsOf(o: McpSessionsOptions): Settings {
  const idle = o.idleTimeoutMs ?? KIND_DEFAULTS.mcp.idleTimeoutMs;
  const absolute = o.absoluteTimeoutMs ?? KIND_DEFAULTS.mcp.absoluteTimeoutMs;
  const graceMs = o.graceMs ?? DEFAULT_GRACE_MS;
  const maxAttempts = o.maxRecoveryAttempts ?? DEFAULT_MAX_RECOVERY_ATTEMPTS;
  if (!(Number.isInteger(graceMs) && graceMs >= 0 && graceMs <= MAX_GRACE_MS)) {
    throw new RangeError(`graceMs: an integer from 0 to ${MAX_GRACE_MS} (24 h)`);
  }
  if (!(Number.isInteger(maxAttempts) && maxAttempts >= 0 && maxAttempts <= MAX_RECOVERY_ATTEMPTS)) {
    throw new RangeError(`maxRecoveryAttempts: an integer from 0 to ${MAX_RECOVERY_ATTEMPTS}`);
  }
  return {
    options: o,
    sink: o.sink,
    log: o.logger ?? silentLogger,
    now: o.now ?? Date.now,
    limits: { idleTimeoutMs: idle, absoluteTimeoutMs: absolute, graceMs, maxRecoveryAttempts: maxAttempts },
    maxSessions: o.maxSessions ?? 10_000,
    maxBodyBytes: resolveMaxRequestBodySize(o.transportOptions?.maxRequestBodySize),
    touchIntervalMs: o.touchIntervalMs ?? 30_000,
    tombstoneTtlMs: o.tombstoneTtlMs ?? 24 * 60 * 60 * 1000,
    maxTombstones: o.maxTombstones ?? 100_000,
    sweepIntervalMs: o.sweepIntervalMs ?? Math.min(30_000, Math.max(50, Math.floor(Math.min(idle, absolute) / 4))),
    trustProxy: trustOf(o.trustProxy),
    principalOf: (req) => o.principal?.(req) || null,
  };
}

/** The option in `--trust-proxy`'s terms: `true` is one proxy, a list is addresses and ranges. */
function trustOf(o: McpSessionsOptions['trustProxy']): TrustProxy {
  if (o === undefined || o === false) return false;
  if (o === true) return parseTrustProxy('1');
  try {
    return parseTrustProxy(typeof o === 'number' ? String(o) : o.join(','));
  } catch (err) {
    throw new RangeError(`trustProxy: ${(err as Error).message}`);
  }
}
