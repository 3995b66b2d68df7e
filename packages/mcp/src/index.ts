export { geoFromRequest, initializeParams } from './context.js';
export { type EmbeddedSinkOptions, embeddedSink } from './embedded-sink.js';
export { backoffMs, readMetadata, recoveryDecision } from './policy.js';
export { type RemoteSinkOptions, remoteSink } from './remote-sink.js';
export { REPLAY_REQUEST_ID, replayInitialize, SdkRecoveryError } from './sdk-recovery.js';
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
