import { describe, expect, it } from 'vitest';
import { computeDays } from './aggregates.js';
import {
  type AnalyticsEvent,
  type AnalyticsOptions,
  activityOf,
  addTotals,
  breakdownOf,
  countriesOf,
  dailyOf,
  durationsOf,
  emptyTotals,
  isBounce,
  localDatesOfUtcDay,
  mostCommon,
  pathsOf,
  sessionWorkflows,
  summaryOf,
  togetherOf,
  toolsOf,
  userKey,
  utcDaysOf,
  workflowsOf,
} from './analytics.js';
import { LATENCY_RELATIVE_ERROR } from './latency.js';
import { DAY, MIN, T0, testSession } from './session.testkit.js';
import type { Session } from './types.js';

const SEC = 1000;
const UTC: AnalyticsOptions = { timeZone: 'UTC', bounceSeconds: 30, bounceMaxActions: 1 };
const NOW = T0 + 2 * DAY;

let n = 0;
const ended = (over: Partial<Session> = {}): Session => {
  const startedAt = over.startedAt ?? T0;
  return testSession({
    id: `s_${++n}`.padEnd(16, '0'),
    status: 'ended',
    startedAt,
    lastActivityAt: startedAt + 60 * SEC,
    endedAt: startedAt + 60 * SEC,
    exit: { page: '/bye', reason: 'logout', lastAction: null },
    ...over,
  });
};
const ev = (
  sessionId: string,
  type: AnalyticsEvent['type'],
  name: string | null,
  details: AnalyticsEvent['details'] = null,
) => ({ sessionId, type, name, details }) satisfies AnalyticsEvent;

const oneDay = (sessions: Session[], events: AnalyticsEvent[] = [], opts = UTC, now = NOW) => {
  const [day] = computeDays(sessions, events, '2025-06-01', '2025-06-01', opts, now);
  if (!day) throw new Error('no day');
  return day;
};

describe('definitions', () => {
  it('a bounce is an ended session under 30 s with at most one action', () => {
    expect(isBounce(ended({ lastActivityAt: T0 + 29 * SEC, endedAt: T0 + 29 * SEC, actions: 1 }), UTC)).toBe(true);
    expect(isBounce(ended({ lastActivityAt: T0 + 30 * SEC, endedAt: T0 + 30 * SEC, actions: 0 }), UTC)).toBe(false);
    expect(isBounce(ended({ lastActivityAt: T0 + 5 * SEC, endedAt: T0 + 5 * SEC, actions: 2 }), UTC)).toBe(false);
    // a live session is not a bounce (yet)
    expect(isBounce(testSession({ lastActivityAt: T0 + 5 * SEC }), UTC)).toBe(false);
    // per-project thresholds
    const loose = { ...UTC, bounceSeconds: 60, bounceMaxActions: 3 };
    expect(isBounce(ended({ lastActivityAt: T0 + 59 * SEC, endedAt: T0 + 59 * SEC, actions: 3 }), loose)).toBe(true);
  });

  it('unique users: the user id, else the anonymous id, else nobody', () => {
    expect(userKey({ userId: 'u', anonymousId: 'a' })).toBe('u:u');
    expect(userKey({ userId: null, anonymousId: 'a' })).toBe('a:a');
    expect(userKey({ userId: null, anonymousId: null })).toBeNull();
    const day = oneDay([
      ended({ userId: 'u1', anonymousId: 'x' }),
      ended({ userId: 'u1', anonymousId: 'y' }),
      ended({ userId: null, anonymousId: 'x' }),
      ended({ userId: null, anonymousId: null }),
    ]);
    expect(day.uniqueUsers).toBe(2);
    expect(day.users).toEqual(['a:x', 'u:u1']);
  });

  it('average duration and bounce rate are over ended sessions; live ones count only as sessions', () => {
    const day = oneDay(
      [
        ended({ lastActivityAt: T0 + 10 * SEC, endedAt: T0 + 10 * SEC }), // bounce, 10 s
        ended({ lastActivityAt: T0 + 110 * SEC, endedAt: T0 + 110 * SEC, actions: 4 }), // 110 s
        // live at T0 + 10 min (idle timeout 30 min): not averaged
        testSession({ id: 's_live_000000000', startedAt: T0, lastActivityAt: T0 + 5 * MIN }),
      ],
      [],
      UTC,
      T0 + 10 * MIN,
    );
    const s = summaryOf(day, day.uniqueUsers);
    expect(s.sessions).toBe(3);
    expect(s.endedSessions).toBe(2);
    expect(s.avgDurationSeconds).toBe(60);
    expect(s.bounceRate).toBe(0.5);
  });

  it('a heartbeat-less idle gap is not time on site: an expired session ends at its last activity', () => {
    // Never ended by a write, idle since T0 + 2 min: at NOW it has ended at T0 + 2 min.
    const day = oneDay([testSession({ id: 's_idle_000000000', startedAt: T0, lastActivityAt: T0 + 2 * MIN })]);
    expect(day.endedSessions).toBe(1);
    expect(day.durationMsSum).toBe(2 * MIN);
    expect(day.counts.exitReason).toEqual({ timeout: 1 });
  });

  it('error rate is the share of sessions with at least one error', () => {
    const day = oneDay([ended({ errors: 3 }), ended({ errors: 1 }), ended(), ended()]);
    expect(summaryOf(day, 0).errorRate).toBe(0.5);
  });

  it('most common entry and exit page (ties: alphabetical; null is not a page)', () => {
    const day = oneDay([
      ended({ entry: { page: '/b', source: null, referrer: null, campaign: null } }),
      ended({ entry: { page: '/a', source: null, referrer: null, campaign: null } }),
      ended({ entry: { page: null, source: null, referrer: null, campaign: null } }),
      ended({ entry: { page: null, source: null, referrer: null, campaign: null } }),
      ended({
        entry: { page: null, source: null, referrer: null, campaign: null },
        exit: { page: '/x', reason: 'logout', lastAction: 'buy' },
      }),
    ]);
    const d = dailyOf(day);
    expect(d.mostCommonEntry).toBe('/a');
    expect(d.mostCommonExit).toBe('/bye');
    expect(mostCommon({})).toBeNull();
  });

  it('a session counts on the day it started in the project time zone (23:30 UTC is the next day in UTC+1)', () => {
    const late = ended({ startedAt: Date.parse('2025-06-01T23:30:00Z') });
    const berlinWinter = { ...UTC, timeZone: 'Africa/Lagos' }; // UTC+1 all year
    const utcDays = computeDays([late], [], '2025-06-01', '2025-06-02', UTC, NOW);
    const lagosDays = computeDays([late], [], '2025-06-01', '2025-06-02', berlinWinter, NOW);
    expect(utcDays.map((d) => d.sessions)).toEqual([1, 0]);
    expect(lagosDays.map((d) => d.sessions)).toEqual([0, 1]);
    // the heatmap also uses local time: Monday 2025-06-02, 00:xx
    const t = addTotals(emptyTotals(), lagosDays[1] ?? emptyTotals());
    expect(activityOf(t).find((c) => c.sessions > 0)).toEqual({ weekday: 0, hour: 0, sessions: 1 });
    expect(activityOf(t)).toHaveLength(168);
  });

  it('maps local days to UTC days and back', () => {
    expect(utcDaysOf('2025-06-02', 'UTC')).toEqual([Math.floor(Date.parse('2025-06-02T00:00:00Z') / DAY)]);
    expect(utcDaysOf('2025-06-02', 'Africa/Lagos')).toHaveLength(2);
    const u = Math.floor(Date.parse('2025-06-02T00:00:00Z') / DAY);
    expect(localDatesOfUtcDay(u, 'Africa/Lagos')).toEqual(['2025-06-02', '2025-06-03']);
    expect(localDatesOfUtcDay(u, 'America/New_York')).toEqual(['2025-06-01', '2025-06-02']);
  });
});

describe('breakdowns', () => {
  it('counts sessions per value with a share; exit dimensions over ended sessions', () => {
    const a = ended({ geo: { country: 'DE', region: 'BE', continent: 'EU' }, transport: 'stdio' });
    const b = ended({ geo: { country: 'DE', region: 'BY', continent: 'EU' } });
    const c = ended({ geo: { country: 'FR', region: null, continent: 'EU' } });
    const live = testSession({ id: 's_live_000000001', lastActivityAt: T0 + 5 * MIN });
    const t = addTotals(emptyTotals(), oneDay([a, b, c, live], [], UTC, T0 + 10 * MIN));
    // ties: alphabetical, with "no value" first
    expect(breakdownOf(t, 'country', 10)).toEqual([
      { value: 'DE', sessions: 2, share: 0.5 },
      { value: null, sessions: 1, share: 0.25 },
      { value: 'FR', sessions: 1, share: 0.25 },
    ]);
    expect(breakdownOf(t, 'region', 2)).toEqual([
      { value: null, country: null, sessions: 1, share: 0.25 },
      { value: 'BE', country: 'DE', sessions: 1, share: 0.25 },
    ]);
    expect(breakdownOf(t, 'exitReason', 10)).toEqual([{ value: 'logout', sessions: 3, share: 1 }]);
    expect(breakdownOf(t, 'transport', 1)).toEqual([{ value: null, sessions: 3, share: 0.75 }]);
  });

  it('countries: top countries with their regions, unknown ones apart, and per day', () => {
    const a = ended({ geo: { country: 'DE', region: 'BY', continent: 'EU' } });
    const b = ended({ geo: { country: 'DE', region: 'BE', continent: 'EU' } });
    const c = ended({ geo: { country: 'FR', region: null, continent: 'EU' } });
    const d = ended({ geo: { country: null, region: null, continent: null } });
    const day = oneDay([a, b, c, d]);
    const t = addTotals(emptyTotals(), day);
    expect(countriesOf(t, [day], 1)).toEqual({
      sessions: 4,
      countries: 2,
      unknownCountrySessions: 1,
      top: [
        {
          country: 'DE',
          continent: 'EU',
          sessions: 2,
          share: 0.5,
          regions: [
            { region: 'BE', sessions: 1, share: 0.5 },
            { region: 'BY', sessions: 1, share: 0.5 },
          ],
        },
      ],
      daily: [{ date: '2025-06-01', sessions: 4, countries: { DE: 2, FR: 1, unknown: 1 } }],
    });
  });

  it('tool: sessions that called a tool, its calls and failed calls', () => {
    const a = ended();
    const b = ended();
    const t = addTotals(
      emptyTotals(),
      oneDay(
        [a, b],
        [
          ev(a.id, 'tool_call', 'search'),
          ev(a.id, 'tool_call', 'search', { isError: true, durationMs: 12 }),
          ev(b.id, 'tool_call', 'search', { isError: false }),
          ev(b.id, 'tool_call', 'echo'),
        ],
      ),
    );
    expect(breakdownOf(t, 'tool', 10)).toEqual([
      { value: 'search', sessions: 2, share: 1, calls: 3, errors: 1, errorRate: 1 / 3 },
      { value: 'echo', sessions: 1, share: 0.5, calls: 1, errors: 0, errorRate: 0 },
    ]);
  });

  it('duration distribution of ended sessions', () => {
    const t = addTotals(
      emptyTotals(),
      oneDay([
        ended({ lastActivityAt: T0 + 5 * SEC, endedAt: T0 + 5 * SEC }),
        ended({ lastActivityAt: T0 + 2 * MIN, endedAt: T0 + 2 * MIN }),
        ended({ lastActivityAt: T0 + 90 * MIN, endedAt: T0 + 90 * MIN }),
      ]),
    );
    const d = durationsOf(t);
    expect(d.map((b) => b.sessions)).toEqual([1, 0, 0, 1, 0, 0, 0, 1]);
    expect(d[0]?.share).toBeCloseTo(1 / 3);
  });
});

describe('workflows', () => {
  const wf = (sessionId: string, type: AnalyticsEvent['type'], id: string) =>
    ev(sessionId, type, 'flow', { workflowId: id });

  it('abandoned = started, neither completed nor failed, and the session ended', () => {
    const events = [
      wf('s', 'workflow_start', 'checkout'),
      wf('s', 'workflow_start', 'signup'),
      wf('s', 'workflow_complete', 'signup'),
    ];
    expect(sessionWorkflows(events, true)).toEqual([
      { workflowId: 'checkout', started: true, completed: false, failed: false, abandoned: true },
      { workflowId: 'signup', started: true, completed: true, failed: false, abandoned: false },
    ]);
    // still live: in progress, not abandoned
    expect(sessionWorkflows(events, false)[0]?.abandoned).toBe(false);
    // failed is not abandoned; a fail followed by a completion is a completion
    expect(sessionWorkflows([wf('s', 'workflow_start', 'x'), wf('s', 'workflow_fail', 'x')], true)[0]).toMatchObject({
      failed: true,
      abandoned: false,
    });
    expect(
      sessionWorkflows(
        [wf('s', 'workflow_start', 'x'), wf('s', 'workflow_fail', 'x'), wf('s', 'workflow_complete', 'x')],
        true,
      )[0],
    ).toMatchObject({ completed: true, failed: false });
    // without details.workflowId the event name is the workflow
    expect(sessionWorkflows([ev('s', 'workflow_start', 'onboarding')], true)[0]?.workflowId).toBe('onboarding');
  });

  it('aggregates per workflow with an abandon rate', () => {
    const a = ended();
    const b = ended();
    const c = ended();
    const t = addTotals(
      emptyTotals(),
      oneDay(
        [a, b, c],
        [
          wf(a.id, 'workflow_start', 'checkout'),
          wf(b.id, 'workflow_start', 'checkout'),
          wf(b.id, 'workflow_complete', 'checkout'),
          wf(c.id, 'workflow_start', 'checkout'),
          wf(c.id, 'workflow_fail', 'checkout'),
        ],
      ),
    );
    expect(workflowsOf(t)).toEqual([
      { workflowId: 'checkout', started: 3, completed: 1, failed: 1, abandoned: 1, abandonRate: 1 / 3 },
    ]);
  });
});

describe('features used together', () => {
  it('pairs of action names in the same sessions, with lift', () => {
    const s = [ended(), ended(), ended(), ended()];
    const act = (i: number, name: string) => ev(s[i]?.id ?? '', 'action', name);
    const t = addTotals(
      emptyTotals(),
      oneDay(s, [
        act(0, 'export'),
        act(0, 'filter'),
        act(0, 'filter'),
        act(1, 'export'),
        act(1, 'filter'),
        act(2, 'share'),
      ]),
    );
    // export & filter: 2 sessions of 4; each used in 2 → lift = (2/4) / ((2/4)·(2/4)) = 2
    expect(togetherOf(t, 10)).toEqual([{ a: 'export', b: 'filter', sessions: 2, lift: 2 }]);
  });
});

describe('paths and tools', () => {
  const pv = (sessionId: string, page: string) => ({
    sessionId,
    type: 'pageview' as const,
    name: null,
    page,
    details: null,
  });
  const call = (sessionId: string, name: string, durationMs?: number, isError = false) => ({
    sessionId,
    type: 'tool_call' as const,
    name,
    details: { ...(durationMs === undefined ? {} : { durationMs }), isError },
  });
  const totalsOf = (sessions: Session[], events: Parameters<typeof computeDays>[1]) => {
    const [day] = computeDays(sessions, events, '2025-06-01', '2025-06-01', UTC, T0 + MIN);
    return addTotals(emptyTotals(), day as NonNullable<typeof day>);
  };

  it('counts the most common paths of at most `steps` steps, with their share of the sessions that have one', () => {
    const web = (i: number) => testSession({ id: `s_web_${i}`.padEnd(16, '0'), startedAt: T0, lastActivityAt: T0 });
    const sessions = [1, 2, 3, 4, 5].map(web);
    const events = [
      ...['/', '/pricing', '/pricing', '/signup', '/app'].map((p) => pv(sessions[0]!.id, p)),
      ...['/', '/pricing', '/signup'].map((p) => pv(sessions[1]!.id, p)),
      ...['/', '/pricing'].map((p) => pv(sessions[2]!.id, p)),
      pv(sessions[3]!.id, '/docs'),
      // sessions[4]: no pageview, no path
    ];
    const t = totalsOf(sessions, events);
    expect(pathsOf(t, 3, 10)).toEqual([
      { steps: ['/', '/pricing', '/signup'], sessions: 2, share: 0.5 },
      { steps: ['/', '/pricing'], sessions: 1, share: 0.25 },
      { steps: ['/docs'], sessions: 1, share: 0.25 },
    ]);
    expect(pathsOf(t, 1, 10)).toEqual([
      { steps: ['/'], sessions: 3, share: 0.75 },
      { steps: ['/docs'], sessions: 1, share: 0.25 },
    ]);
    const five = pathsOf(t, 5, 10);
    expect(five.map((r) => r.steps.length).sort()).toEqual([1, 2, 3, 4]);
    expect(five.reduce((n, r) => n + r.sessions, 0)).toBe(4);
    expect(pathsOf(t, 5, 2)).toHaveLength(2);
    expect(pathsOf(emptyTotals(), 3, 10)).toEqual([]);
  });

  it('answers calls, sessions, errors and p50 / p95 per tool within the documented relative error', () => {
    const mcp = (i: number) =>
      testSession({ id: `s_mcp_${i}`.padEnd(16, '0'), kind: 'mcp', startedAt: T0, lastActivityAt: T0 });
    const [a, b] = [mcp(1), mcp(2)] as [Session, Session];
    const durations = Array.from({ length: 100 }, (_, i) => i + 1); // 1 … 100 ms
    const events = [
      ...durations.map((ms, i) => call(i % 2 ? a.id : b.id, 'search', ms, ms > 90)),
      call(a.id, 'fetch'),
      call(a.id, 'fetch'),
    ];
    const t = totalsOf([a, b], events);
    const [search, fetch] = toolsOf(t, 10);
    expect(search).toMatchObject({ tool: 'search', calls: 100, sessions: 2, errors: 10, errorRate: 0.1 });
    expect(Math.abs((search?.p50Ms ?? 0) - 50) / 50).toBeLessThanOrEqual(LATENCY_RELATIVE_ERROR);
    expect(Math.abs((search?.p95Ms ?? 0) - 95) / 95).toBeLessThanOrEqual(LATENCY_RELATIVE_ERROR);
    expect(fetch).toEqual({ tool: 'fetch', calls: 2, sessions: 1, errors: 0, errorRate: 0, p50Ms: null, p95Ms: null });
    expect(toolsOf(t, 1)).toHaveLength(1);
  });
});
