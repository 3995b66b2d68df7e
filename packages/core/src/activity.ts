import type { EventType, Session } from './types.js';

/** The counters that one batch of accepted events adds to its session. */
export interface CounterDelta {
  actions: number;
  errors: number;
  toolCalls: number;
  workflows: number;
  /** Page of the newest event that named one: the session's exit page so far. */
  exitPage: string | null;
  /** Name of the newest action or tool call: the session's last action so far. */
  lastAction: string | null;
}

export interface CountableEvent {
  type: EventType;
  name: string | null;
  page: string | null;
  details: Record<string, unknown> | null;
}

export const emptyDelta = (): CounterDelta => ({
  actions: 0,
  errors: 0,
  toolCalls: 0,
  workflows: 0,
  exitPage: null,
  lastAction: null,
});

/**
 * Adds one accepted event to a delta. A tool call that failed counts as an error too, so the
 * error rate covers MCP sessions; a workflow counts once, when it starts.
 */
export function addToDelta(d: CounterDelta, e: CountableEvent): void {
  switch (e.type) {
    case 'action':
      d.actions++;
      break;
    case 'error':
      d.errors++;
      break;
    case 'tool_call':
      d.toolCalls++;
      if (e.details && (e.details.isError === true || e.details.error === true)) d.errors++;
      break;
    case 'workflow_start':
      d.workflows++;
      break;
  }
  if (e.page) d.exitPage = e.page;
  if ((e.type === 'action' || e.type === 'tool_call') && e.name) d.lastAction = e.name;
}

/** A session with a delta applied: what the store writes back once per batch. */
export function applyDelta<S extends Session>(s: S, d: CounterDelta, at: number): S {
  return {
    ...s,
    lastActivityAt: Math.max(s.lastActivityAt, at),
    actions: s.actions + d.actions,
    errors: s.errors + d.errors,
    toolCalls: s.toolCalls + d.toolCalls,
    workflows: s.workflows + d.workflows,
    exit: {
      ...s.exit,
      page: d.exitPage ?? s.exit.page,
      lastAction: d.lastAction ?? s.exit.lastAction,
    },
  };
}
