import { describe, expect, it } from 'vitest';
import { type SessionWithEvents, userPattern } from './patterns.js';
import { MIN, T0, testSession } from './session.testkit.js';
import type { EventType, Session } from './types.js';

// Each rule of docs/metrics.md "User patterns" on hand-built sessions.

const NOW = T0 + 40 * 24 * 60 * MIN;
let n = 0;
const ended = (minutes: number, over: Partial<Session> = {}): Session => {
  const startedAt = T0 + ++n * 60 * MIN;
  return testSession({
    id: `s_pattern_${String(n).padStart(8, '0')}`,
    status: 'ended',
    startedAt,
    lastActivityAt: startedAt + minutes * MIN,
    endedAt: startedAt + minutes * MIN,
    ...over,
  });
};
type Ev = SessionWithEvents['events'][number];
const e = (
  type: EventType,
  name: string | null = null,
  page: string | null = null,
  details: Ev['details'] = null,
): Ev => ({
  type,
  name,
  page,
  details,
});
const only = (session: Session, events: Ev[] = []): SessionWithEvents => ({ session, events });
/** Newest first, as the route passes them. */
const newestFirst = (list: SessionWithEvents[]) => [...list].sort((a, b) => b.session.startedAt - a.session.startedAt);

describe('pattern', () => {
  it('new_user: no sessions', () => {
    expect(userPattern([], NOW)).toMatchObject({
      pattern: 'new_user',
      confidence: 0,
      indicators: [],
      stats: { sessions: 0 },
    });
  });

  it('struggling_user: the latest session has more than 5 errors (checked first)', () => {
    const older = only(ended(60, { actions: 80 }));
    const latest = only(ended(60, { actions: 80, errors: 6 }));
    expect(userPattern(newestFirst([older, latest]), NOW).pattern).toBe('struggling_user');
    // 5 errors is not more than 5; and errors in an older session do not count
    const five = only(ended(60, { actions: 80, errors: 5 }));
    expect(userPattern(newestFirst([older, five]), NOW).pattern).toBe('power_user');
  });

  it('power_user: average over 30 min and over 50 actions', () => {
    expect(userPattern([only(ended(31, { actions: 51 }))], NOW).pattern).toBe('power_user');
    expect(userPattern([only(ended(31, { actions: 50 }))], NOW).pattern).toBe('regular_user');
  });

  it('quick_checker: average under 5 min; regular_user otherwise', () => {
    expect(userPattern([only(ended(4)), only(ended(5))], NOW).pattern).toBe('quick_checker');
    expect(userPattern([only(ended(5))], NOW).pattern).toBe('regular_user');
  });

  it('uses the last 20 sessions only', () => {
    const list = newestFirst([
      ...Array.from({ length: 20 }, () => only(ended(2))),
      ...Array.from({ length: 5 }, () => only(ended(600, { startedAt: T0 - 10 * 24 * 60 * MIN }))),
    ]);
    const p = userPattern(list, NOW);
    expect(p.stats.sessions).toBe(20);
    expect(p.pattern).toBe('quick_checker');
  });
});

describe('type', () => {
  it('power_user: long sessions with many actions', () => {
    const p = userPattern([only(ended(45, { actions: 90 }))], NOW);
    expect(p).toMatchObject({ type: 'power_user', confidence: 1, indicators: ['long_sessions', 'many_actions'] });
  });

  it('explorer: many distinct pages and varied actions', () => {
    const pages = ['/a', '/b', '/c', '/d', '/e', '/f'].map((p) => e('pageview', null, p));
    const actions = ['x', 'y', 'z', 'w', 'v'].map((a) => e('action', a));
    const p = userPattern([only(ended(20, { actions: 5 }), [...pages, ...actions])], NOW);
    expect(p).toMatchObject({ type: 'explorer', confidence: 1, indicators: ['many_distinct_pages', 'varied_actions'] });
  });

  it('task_focused: short sessions that complete their workflows', () => {
    const wf = { workflowId: 'checkout' };
    const events = [e('workflow_start', 'w', null, wf), e('workflow_complete', 'w', null, wf)];
    const p = userPattern([only(ended(3), events), only(ended(4), events)], NOW);
    expect(p).toMatchObject({
      type: 'task_focused',
      confidence: 1,
      indicators: ['short_sessions', 'completes_workflows'],
    });
  });

  it('confused: errors, repeated actions, back-and-forth navigation, abandoned workflows', () => {
    const events = [
      e('pageview', null, '/a'),
      e('pageview', null, '/b'),
      e('pageview', null, '/a'),
      e('pageview', null, '/b'),
      e('action', 'save'),
      e('action', 'save'),
      e('action', 'save'),
      e('workflow_start', 'w', null, { workflowId: 'signup' }),
    ];
    const p = userPattern([only(ended(20, { errors: 2 }), events)], NOW);
    expect(p.type).toBe('confused');
    expect(p.confidence).toBe(1);
    expect(p.indicators).toEqual(['errors', 'repeated_actions', 'back_and_forth', 'abandoned_workflows']);
    expect(p.stats).toMatchObject({ backAndForth: 2, repeatedActionRuns: 1, workflowsAbandoned: 1 });
  });

  it('ties go to confused first; confidence is the share of the winner’s indicators', () => {
    // short sessions (task_focused 1 of 2) and errors (confused 1 of 4)
    const p = userPattern([only(ended(3, { errors: 1 }))], NOW);
    expect(p).toMatchObject({ type: 'confused', confidence: 0.25, indicators: ['errors'] });
  });

  it('a live session counts up to its last activity, and its open workflow is not abandoned', () => {
    const live = testSession({ id: 's_pattern_live_0001', startedAt: NOW - 10 * MIN, lastActivityAt: NOW - MIN });
    const p = userPattern([only(live, [e('workflow_start', 'w', null, { workflowId: 'x' })])], NOW);
    expect(p.stats.avgDurationSeconds).toBe(540);
    expect(p.stats.workflowsAbandoned).toBe(0);
  });
});
