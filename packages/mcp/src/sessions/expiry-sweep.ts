import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { closeSdk, type Live, type LiveSessions } from './live-sessions.js';
import type { Settings } from './options.js';
import type { SessionlessGroups } from './sessionless.js';
import type { Tombstones } from './tombstones.js';

// Expiry: idle and too old sessions are closed (which frees their memory) and ended, sessionless
// groups likewise, old tombstones forgotten. On an unref'd timer, and on demand (`mcp.sweep()`).

export interface Expiry {
  s: Settings;
  live: LiveSessions;
  groups: SessionlessGroups;
  tombstones: Tombstones;
}

/** Returns how many live sessions expired. */
export async function sweep(e: Expiry): Promise<number> {
  const { s } = e;
  const { idleTimeoutMs, absoluteTimeoutMs } = s.limits;
  const at = s.now();
  const expired: Live[] = [];
  for (const l of e.live.values()) {
    // A request being answered keeps its session from idling out; the absolute age is a hard
    // cap (so an answer that never comes cannot pin a session for ever).
    if (at - l.startedAt >= absoluteTimeoutMs || (l.pending.size === 0 && at - l.lastSeen >= idleTimeoutMs)) {
      expired.push(l);
    }
  }
  for (const l of expired) {
    await notify(l, 'info', { event: 'session_expired', sessionId: l.id });
    e.live.retire(l, 'expired');
    await closeSdk(l, s.log);
    try {
      s.options.onExpired?.(l.id);
    } catch (err) {
      s.log.warn({ sessionId: l.id, err: (err as Error).message }, 'onExpired threw');
    }
  }
  e.groups.sweep(at);
  e.tombstones.prune(at);
  return expired.length;
}

/** Sweeps every `sweepIntervalMs` until the returned function is called; never keeps Node alive. */
export function startSweeping(e: Expiry): () => void {
  const timer = setInterval(() => {
    sweep(e).catch((err) => e.s.log.error({ err: (err as Error).message }, 'mcp session sweep failed'));
  }, e.s.sweepIntervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

/** To clients that enabled logging (sent logging/setLevel); best effort, never waits long. */
async function notify(l: Live, level: 'info' | 'warning', data: Record<string, unknown>): Promise<void> {
  if (!l.logging) return;
  const low = l.server instanceof McpServer ? l.server.server : l.server;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    // The client may be gone, or the server may not declare the logging capability.
    low.sendLoggingMessage({ level, logger: 'sessiontrack', data }, l.id).catch(() => {}),
    new Promise((r) => {
      timer = setTimeout(r, 100);
    }),
  ]);
  clearTimeout(timer);
}
