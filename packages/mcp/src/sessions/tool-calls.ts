import { randomToken } from '@sessiontrack/core';
import type { McpSink } from '../sink.js';
import type { RequestEnd } from './transport-instrumentation.js';

// Where an MCP tool call is counted: each answered `tools/call` (seen by the transport
// instrumentation) adds one to its session and becomes one `tool_call` event for the sink.

// Event ids: a random prefix per process and a counter. Unique per session (a recovered session
// continues in another process, with another prefix), stable across a sink's retries, and no
// CSPRNG call per tool call (that was a measurable share of the integration's cost).
const EVENT_PREFIX = `mcp_${randomToken(12)}_`;
let eventSeq = 0;
const nextEventId = () => EVENT_PREFIX + (++eventSeq).toString(36);

/** What a session keeps of its tool calls. */
export interface ToolCallCounter {
  readonly id: string;
  toolCalls: number;
  /** When the sink last heard of the session (a tool call is activity too). */
  lastWritten: number;
}

/** Counts one answered tool call on `session` and hands it to the sink. */
export function countToolCall(
  sink: McpSink,
  session: ToolCallCounter,
  tool: string,
  end: RequestEnd,
  at: number,
): void {
  session.toolCalls++;
  session.lastWritten = at;
  sink.toolCall(session.id, {
    id: nextEventId(),
    name: tool.slice(0, 256) || 'unknown',
    at,
    durationMs: end.durationMs,
    isError: end.error !== null || end.toolError,
  });
}
