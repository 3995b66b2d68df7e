import { MAX_METADATA_BYTES } from '@sessiontrack/core';
import type { AgentStateBackend } from '../sink.js';

/** Small JSON values per session, agent and key; arguments in the order of the sink, store and HTTP path. */
export interface McpAgentState {
  get<T = unknown>(sessionId: string, agentId: string, key: string): Promise<T | undefined>;
  set(sessionId: string, agentId: string, key: string, value: unknown, options?: { ttlMs?: number }): Promise<void>;
  /** Deletes one key, or without `key` all of the agent's keys in the session. */
  delete(sessionId: string, agentId: string, key?: string): Promise<void>;
}

/** The author's agent-state calls, checked here (the errors a server would answer 400 with) before the sink. */
export function agentState(backend: AgentStateBackend): McpAgentState {
  return {
    get: async <T>(sessionId: string, agentId: string, key: string) => {
      checkIds(agentId, key);
      return (await backend.get(sessionId, agentId, key)) as T | undefined;
    },
    set: async (sessionId, agentId, key, value, opts = {}) => {
      checkIds(agentId, key);
      const json = JSON.stringify(value);
      if (json === undefined) throw new TypeError('agent state: the value must be JSON');
      if (Buffer.byteLength(json) > MAX_METADATA_BYTES) {
        throw new RangeError(`agent state: at most ${MAX_METADATA_BYTES} bytes of JSON`);
      }
      const ttl = opts.ttlMs;
      if (ttl !== undefined && !(Number.isInteger(ttl) && ttl > 0)) throw new RangeError('ttlMs: a positive integer');
      await backend.set(sessionId, agentId, key, JSON.parse(json), ttl ?? null);
    },
    delete: async (sessionId, agentId, key) => {
      checkIds(agentId, key);
      await backend.delete(sessionId, agentId, key);
    },
  };
}

function checkIds(agentId: string, key?: string): void {
  if (!agentId || agentId.length > 256 || (key !== undefined && (!key || key.length > 256))) {
    throw new RangeError('agentId and key: 1-256 characters');
  }
}
