// The main entry: everything an MCP server needs with the remote sink, and nothing that loads
// @sessiontrack/store (a native module with SQLite, pg with PostgreSQL). The embedded sink is
// `@sessiontrack/mcp/embedded`; entry-points.test.ts holds both to that.
export { geoFromRequest, initializeParams } from './context.js';
export { backoffMs, readMetadata, recoveryDecision } from './policy.js';
export { type RemoteSinkOptions, remoteSink } from './remote-sink.js';
export { REPLAY_REQUEST_ID, replayInitialize, SdkRecoveryError } from './sdk-recovery.js';
export type { McpTelemetryOptions } from './sessions/options.js';
export {
  createMcpSessions,
  type McpAgentState,
  type McpRequest,
  type McpSessionInfo,
  type McpSessions,
  type McpSessionsOptions,
  type Tombstone,
} from './sessions.js';
export * from './sink.js';
