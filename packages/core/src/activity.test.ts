import { describe, expect, it } from 'vitest';
import { addToDelta, applyDelta, type CountableEvent, type CounterDelta, emptyDelta } from './activity.js';
import { T0, testSession } from './session.testkit.js';
import type { Session } from './types.js';

const ev = (type: CountableEvent['type'], over: Partial<CountableEvent> = {}): CountableEvent => ({
  type,
  name: null,
  page: null,
  details: null,
  ...over,
});

function deltaOf(events: CountableEvent[]): CounterDelta {
  const d = emptyDelta();
  for (const e of events) addToDelta(d, e);
  return d;
}

const session = (over: Partial<Session> = {}): Session =>
  testSession({
    lastActivityAt: T0 + 60_000,
    exit: { page: '/', reason: null, lastAction: 'open' },
    actions: 1,
    errors: 1,
    toolCalls: 1,
    workflows: 1,
    ...over,
  });

describe('emptyDelta', () => {
  it('starts at zero and returns a fresh object each time', () => {
    const a = emptyDelta();
    expect(a).toEqual({ actions: 0, errors: 0, toolCalls: 0, workflows: 0, exitPage: null, lastAction: null });
    a.actions = 5;
    expect(emptyDelta().actions).toBe(0);
  });
});

describe('addToDelta', () => {
  it('counts actions, errors, tool calls and workflow starts', () => {
    const d = deltaOf([
      ev('pageview'),
      ev('action'),
      ev('action'),
      ev('error'),
      ev('tool_call'),
      ev('workflow_start'),
      ev('workflow_complete'),
      ev('workflow_fail'),
      ev('custom'),
    ]);
    expect(d).toMatchObject({ actions: 2, errors: 1, toolCalls: 1, workflows: 1 });
  });

  it('counts a workflow once, when it starts, not when it completes or fails', () => {
    expect(deltaOf([ev('workflow_complete'), ev('workflow_fail')]).workflows).toBe(0);
    expect(deltaOf([ev('workflow_fail')]).errors).toBe(0);
  });

  it('counts a failed tool call as an error too', () => {
    const d = deltaOf([
      ev('tool_call', { name: 'search', details: { isError: true } }),
      ev('tool_call', { name: 'fetch', details: { error: true } }),
      ev('tool_call', { name: 'ok', details: { isError: false, error: 'a string is not a flag' } }),
      ev('tool_call', { name: 'plain' }),
    ]);
    expect(d.toolCalls).toBe(4);
    expect(d.errors).toBe(2);
  });

  it("does not count an action's error-like details as an error", () => {
    expect(deltaOf([ev('action', { details: { isError: true } })]).errors).toBe(0);
  });

  it('tracks the exit page as the page of the newest event that named one', () => {
    expect(deltaOf([ev('pageview', { page: '/a' }), ev('action', { page: '/b' }), ev('custom')]).exitPage).toBe('/b');
    expect(deltaOf([ev('action')]).exitPage).toBeNull();
  });

  it('tracks the last action from named actions and tool calls only', () => {
    const d = deltaOf([
      ev('action', { name: 'click' }),
      ev('tool_call', { name: 'search' }),
      ev('error', { name: 'TypeError' }),
      ev('custom', { name: 'ping' }),
      ev('action'),
    ]);
    expect(d.lastAction).toBe('search');
  });
});

describe('applyDelta', () => {
  it('adds the counters and moves exit and last action', () => {
    const s = session();
    const d = deltaOf([ev('action', { name: 'buy', page: '/checkout' }), ev('error'), ev('workflow_start')]);
    const out = applyDelta(s, d, T0 + 120_000);
    expect(out).toMatchObject({
      actions: 2,
      errors: 2,
      toolCalls: 1,
      workflows: 2,
      lastActivityAt: T0 + 120_000,
      exit: { page: '/checkout', reason: null, lastAction: 'buy' },
    });
  });

  it('keeps the exit page and last action when the batch names none', () => {
    const out = applyDelta(session(), deltaOf([ev('custom')]), T0 + 120_000);
    expect(out.exit).toEqual({ page: '/', reason: null, lastAction: 'open' });
  });

  it('never moves the last activity backwards (late or reordered batches)', () => {
    const out = applyDelta(session(), deltaOf([ev('action')]), T0);
    expect(out.lastActivityAt).toBe(T0 + 60_000);
    expect(out.actions).toBe(2);
  });

  it('leaves the stored session untouched', () => {
    const s = session();
    const before = structuredClone(s);
    applyDelta(s, deltaOf([ev('action', { name: 'x', page: '/x' })]), T0 + 999_999);
    expect(s).toEqual(before);
  });

  it('gives the same result whether events come in one batch or several', () => {
    const events = [
      ev('pageview', { page: '/a' }),
      ev('action', { name: 'one', page: '/a' }),
      ev('tool_call', { name: 'two', details: { isError: true } }),
      ev('workflow_start', { page: '/b' }),
    ];
    const once = applyDelta(session(), deltaOf(events), T0 + 300_000);
    let piecewise = session();
    for (const [i, e] of events.entries()) piecewise = applyDelta(piecewise, deltaOf([e]), T0 + 150_000 + i * 50_000);
    expect(piecewise).toEqual(once);
  });
});
