import { describe, expect, it } from 'vitest';
import {
  AggregateDelta,
  type AggregateInput,
  addEventToFacets,
  computeDays,
  contributionOf,
  emptyFacets,
  facetsFromText,
  facetsOf,
  facetsToText,
  linkChanges,
  NO_DAY,
  type SessionFacets,
  UNKNOWN_KIND,
  uniqueUsersOf,
} from './aggregates.js';
import { type AnalyticsEvent, type AnalyticsOptions, MAX_PAIR_ACTIONS, summaryOf, zeroTotals } from './analytics.js';
import { timeoutEnd } from './lifecycle.js';
import { mulberry32 } from './random.js';
import { DAY, MIN, T0, testSession } from './session.testkit.js';
import { addDays, zoneClock } from './time.js';
import type { Session } from './types.js';

const UTC: AnalyticsOptions = { timeZone: 'UTC', bounceSeconds: 30, bounceMaxActions: 1 };
const options = () => ({ opts: UTC, clock: zoneClock('UTC') });
const e = (type: AnalyticsEvent['type'], name: string | null, details: AnalyticsEvent['details'] = null) => ({
  type,
  name,
  details,
});

/** A deterministic generator, so a failure can be replayed. */
const rng = mulberry32;
const pickOf =
  (r: () => number) =>
  <T>(xs: readonly T[]): T =>
    xs[Math.floor(r() * xs.length)] as T;

describe('facets', () => {
  it('keep what the definitions read, and are the same object when an event changes nothing', () => {
    let f = emptyFacets();
    f = addEventToFacets(f, e('action', 'export'));
    const same = addEventToFacets(f, e('action', 'export'));
    expect(same).toBe(f);
    expect(addEventToFacets(f, e('pageview', null))).toBe(f);
    expect(addEventToFacets(f, e('action', null))).toBe(f);
    f = addEventToFacets(f, e('tool_call', 'search'));
    f = addEventToFacets(f, e('tool_call', 'search', { isError: true }));
    f = addEventToFacets(f, e('tool_call', 'fetch', { error: true }));
    f = addEventToFacets(f, e('workflow_start', 'checkout'));
    f = addEventToFacets(f, e('workflow_fail', 'x', { workflowId: 'checkout' }));
    expect(addEventToFacets(f, e('workflow_start', 'checkout'))).toBe(f);
    expect(f).toEqual({
      a: ['export'],
      t: { search: [2, 1], fetch: [1, 1] },
      w: { checkout: 5 },
      p: [],
      q: ['search', 'fetch'],
      d: {},
    });
    expect(facetsFromText(facetsToText(f))).toEqual(f);
    expect(facetsToText(emptyFacets())).toBeNull();
    expect(facetsFromText(null)).toEqual(emptyFacets());
    expect(facetsFromText('{"a":1}')).toBeNull();
    expect(facetsFromText('unknown')).toBeNull();
  });

  it('keep the first five steps of the page and tool paths, consecutive repeats collapsed', () => {
    const pv = (page: string | null) => ({ type: 'pageview' as const, name: null, details: null, page });
    let f = facetsOf(['/', '/', '/pricing', '/', '/docs', '/docs', '/a', '/b', '/c'].map(pv));
    expect(f.p).toEqual(['/', '/pricing', '/', '/docs', '/a']);
    // Full: a sixth step changes nothing, not even the object.
    expect(addEventToFacets(f, pv('/z'))).toBe(f);
    f = facetsOf([pv('/x'), pv('/x')]);
    expect(addEventToFacets(f, pv('/x'))).toBe(f);
    expect(addEventToFacets(f, pv(null))).toBe(f);
    // A tab is the step separator; long steps are cut, never inside a surrogate pair.
    expect(facetsOf([pv('/a\tb'), pv(`/${'é'.repeat(300)}`)]).p).toEqual(['/a b', `/${'é'.repeat(159)}`]);
    expect(facetsOf([pv(`/${'x'.repeat(158)}😀`)]).p[0]).toBe(`/${'x'.repeat(158)}`);
    const tools = facetsOf(['search', 'search', 'fetch', 'search'].map((n) => e('tool_call', n)));
    expect(tools.q).toEqual(['search', 'fetch', 'search']);
    expect(facetsFromText(facetsToText(tools))).toEqual(tools);
    expect(facetsToText(facetsOf([pv('/')]))).toBe('{"p":["/"]}');
  });

  it('count tool-call durations per log bucket; calls without a duration count no bucket', () => {
    const call = (name: string, durationMs: unknown) => e('tool_call', name, { durationMs });
    const f = facetsOf([call('search', 10), call('search', 10.2), call('search', 'slow'), call('fetch', -1)]);
    expect(f.t).toEqual({ search: [3, 0], fetch: [1, 0] });
    // 10 ms and 10.2 ms share bucket ceil(8·log2 10.2) = 27.
    expect(f.d).toEqual({ search: { 27: 2 } });
    expect(facetsFromText(facetsToText(f))).toEqual(f);
  });

  it('keep only the first 30 action names, alphabetically, whatever the order they came in', () => {
    const names = Array.from({ length: 40 }, (_, i) => `a${String(i).padStart(2, '0')}`);
    const r = rng(7);
    for (let run = 0; run < 20; run++) {
      const shuffled = [...names].sort(() => r() - 0.5);
      const f = facetsOf(shuffled.map((n) => e('action', n)));
      expect(f.a).toEqual(names.slice(0, MAX_PAIR_ACTIONS));
    }
  });
});

describe('contributionOf', () => {
  it('counts start figures for a live session and end figures once it is written as ended', () => {
    const live = testSession({
      startedAt: T0,
      lastActivityAt: T0 + 10_000,
      actions: 2,
      errors: 1,
      geo: { country: 'DE', region: 'BE', continent: 'EU' },
    });
    const facets = facetsOf([e('action', 'b'), e('action', 'a'), e('workflow_start', 'w')]);
    const c = contributionOf(live, facets, UTC);
    expect(c.date).toBe('2025-06-01');
    expect(c.user).toBe('u:u_1');
    expect(c.totals).toEqual({
      sessions: 1,
      endedSessions: 0,
      durationMsSum: 0,
      bounces: 0,
      errorSessions: 1,
      actions: 2,
      toolCalls: 0,
      engagedSessions: 0,
      engagedMsSum: 0,
    });
    expect(c.kind).toBe('web');
    const dims = (x: typeof c) => x.counts.map(([d, v]) => `${d}=${v}`);
    expect(dims(c)).toContain('cell=6:10'); // 2025-06-01 was a Sunday, 10:00 UTC
    expect(dims(c)).toContain('client='); // no client name in its metadata
    const named = contributionOf({ ...live, metadata: { clientName: 'claude-code' } }, facets, UTC);
    expect(dims(named)).toContain('client=claude-code');
    expect(dims(c)).toContain('pair=a\tb');
    expect(dims(c)).toContain('wfStarted=w');
    expect(dims(c).some((d) => d.startsWith('exit') || d.startsWith('wfAbandoned'))).toBe(false);
    const end = contributionOf({ ...live, ...timeoutEnd(live) }, facets, UTC);
    expect(end.totals).toMatchObject({ endedSessions: 1, durationMsSum: 10_000, bounces: 0 });
    expect(dims(end)).toEqual(expect.arrayContaining(['exitReason=timeout', 'duration=10-30s', 'wfAbandoned=w']));
  });

  it('counts the path by prefix — pages for web and API sessions, tool names for MCP — and tool latency', () => {
    const events = [
      { type: 'pageview' as const, name: null, details: null, page: '/' },
      { type: 'tool_call' as const, name: 'search', details: { durationMs: 1 }, page: null },
      { type: 'pageview' as const, name: null, details: null, page: '/pricing' },
      { type: 'tool_call' as const, name: 'fetch', details: { durationMs: 2 }, page: null },
    ];
    const f = facetsOf(events);
    const paths = (kind: Session['kind']) =>
      contributionOf(testSession({ kind }), f, UTC)
        .counts.filter(([d]) => d.startsWith('path'))
        .map(([d, v, n]) => [d, v, n]);
    expect(paths('web')).toEqual([
      ['path1', '/', 1],
      ['path2', '/\t/pricing', 1],
    ]);
    expect(paths('api')).toEqual(paths('web'));
    expect(paths('mcp')).toEqual([
      ['path1', 'search', 1],
      ['path2', 'search\tfetch', 1],
    ]);
    const ms = contributionOf(testSession({ kind: 'mcp' }), f, UTC).counts.filter(([d]) => d === 'toolMs');
    expect(ms).toEqual([
      ['toolMs', 'search\t0', 1],
      ['toolMs', 'fetch\t8', 1],
    ]);
  });
});

describe('engaged time', () => {
  it('counts the engaged time of ended sessions that reported it, at most their duration', () => {
    const at = { startedAt: T0, lastActivityAt: T0 + 60_000 };
    const ended = (engagedMs: number | null) =>
      contributionOf(testSession({ ...at, status: 'ended', endedAt: T0 + 60_000, engagedMs }), emptyFacets(), UTC)
        .totals;
    expect(ended(20_000)).toMatchObject({ engagedSessions: 1, engagedMsSum: 20_000 });
    expect(ended(90_000)).toMatchObject({ engagedSessions: 1, engagedMsSum: 60_000 }); // never above the duration
    expect(ended(0)).toMatchObject({ engagedSessions: 1, engagedMsSum: 0 }); // reported: zero engaged
    expect(ended(null)).toMatchObject({ engagedSessions: 0, engagedMsSum: 0 }); // reported none (MCP)
    // live: not yet averaged
    const live = contributionOf(testSession({ ...at, engagedMs: 20_000 }), emptyFacets(), UTC).totals;
    expect(live).toMatchObject({ engagedSessions: 0, engagedMsSum: 0 });
  });

  it('avgEngagedSeconds is over the sessions that reported engaged time, null when none did', () => {
    const t = { ...zeroTotals(), sessions: 3, endedSessions: 3, durationMsSum: 90_000 };
    expect(summaryOf(t, 0).avgEngagedSeconds).toBeNull();
    expect(summaryOf({ ...t, engagedSessions: 2, engagedMsSum: 25_000 }, 0).avgEngagedSeconds).toBe(12.5);
  });
});

describe('AggregateDelta', () => {
  /** A session's life as the store writes it: a start, batches of events, identify(), an end. */
  function life(r: () => number, id: number): AggregateInput[] {
    const pick = pickOf(r);
    const startedAt = T0 + Math.floor(r() * 3 * DAY);
    let s: Session = testSession({
      id: `s_${id}`.padEnd(16, '0'),
      startedAt,
      lastActivityAt: startedAt,
      kind: pick(['web', 'mcp', 'api'] as const),
      userId: pick([null, 'u1', 'u2']),
      anonymousId: pick([null, 'a1']),
      geo: { country: pick([null, 'DE', 'FR']), region: null, continent: null },
    });
    let f: SessionFacets = emptyFacets();
    const states: AggregateInput[] = [{ session: s, facets: f }];
    const steps = Math.floor(r() * 6);
    for (let i = 0; i < steps; i++) {
      const type = pick(['action', 'tool_call', 'error', 'workflow_start', 'workflow_complete', 'pageview'] as const);
      const name = pick(['export', 'share', 'search']);
      const details = r() < 0.3 ? { isError: true, durationMs: r() * 100 } : { durationMs: r() * 3000 };
      const next = addEventToFacets(f, { ...e(type, name, details), page: `/${name}` });
      f = next;
      s = {
        ...s,
        lastActivityAt: s.lastActivityAt + MIN,
        actions: s.actions + (type === 'action' ? 1 : 0),
        toolCalls: s.toolCalls + (type === 'tool_call' ? 1 : 0),
        errors: s.errors + (type === 'error' ? 1 : 0),
        engagedMs: r() < 0.5 ? s.engagedMs : (s.engagedMs ?? 0) + Math.floor(r() * 2 * MIN),
      };
      if (r() < 0.2) s = { ...s, userId: pick(['u1', 'u3']) };
      states.push({ session: s, facets: f });
    }
    if (r() < 0.7) {
      s = r() < 0.5 ? { ...s, ...timeoutEnd(s) } : { ...s, status: 'ended', endedAt: s.lastActivityAt };
      states.push({ session: s, facets: f });
    }
    return states;
  }

  it('the changes of a session summed over its life are its final contribution (fast path included)', () => {
    const r = rng(42);
    for (let run = 0; run < 200; run++) {
      const maintained = new AggregateDelta(options);
      const direct = new AggregateDelta(options);
      const sessions = Array.from({ length: 1 + Math.floor(r() * 4) }, (_, i) => life(r, i));
      for (const states of sessions) {
        maintained.change(null, states[0] ?? null);
        for (let i = 1; i < states.length; i++) maintained.change(states[i - 1] ?? null, states[i] ?? null);
        const last = states[states.length - 1] as AggregateInput;
        direct.change(null, last);
        // erased: a removal cancels everything
        if (r() < 0.1) {
          maintained.change(last, null);
          direct.change(last, null);
        }
      }
      const strip = (x: ReturnType<AggregateDelta['rows']>) => ({
        days: x.days.filter((d) => Object.entries(d).some(([k, v]) => typeof v === 'number' && v !== 0 && k)),
        counts: x.counts,
        users: x.users,
        kindUsers: x.kindUsers,
      });
      expect(strip(maintained.rows())).toEqual(strip(direct.rows()));
    }
  });

  it('drops rows that sum to zero but keeps the day row of a day that changed', () => {
    const d = new AggregateDelta(options);
    const a: AggregateInput = { session: testSession(), facets: emptyFacets() };
    const b: AggregateInput = { session: { ...a.session, userId: 'other' }, facets: a.facets };
    d.change(a, b); // identify(): the user key moves, nothing else
    const rows = d.rows();
    expect(rows.counts).toEqual([]);
    expect(rows.users).toEqual([
      { projectId: 'p_1', date: '2025-06-01', userKey: 'u:other', n: 1 },
      { projectId: 'p_1', date: '2025-06-01', userKey: 'u:u_1', n: -1 },
    ]);
    expect(rows.kindUsers).toEqual([
      { projectId: 'p_1', kind: 'web', date: '2025-06-01', userKey: 'u:other', n: 1 },
      { projectId: 'p_1', kind: 'web', date: '2025-06-01', userKey: 'u:u_1', n: -1 },
    ]);
    expect(rows.days).toMatchObject([{ date: '2025-06-01', kind: 'web', sessions: 0 }]);
    const none = new AggregateDelta(options);
    none.change(a, { session: { ...a.session, lastActivityAt: T0 + MIN }, facets: a.facets });
    expect(none.rows()).toEqual({ days: [], counts: [], users: [], kindUsers: [] });
  });

  it('keeps rows per kind: a web and an MCP session of one day are two day rows, one user in each', () => {
    const d = new AggregateDelta(options);
    const web: AggregateInput = { session: testSession({ id: 's_web' }), facets: emptyFacets() };
    const mcp: AggregateInput = {
      session: testSession({ id: 's_mcp', kind: 'mcp', transport: 'stdio' }),
      facets: facetsOf([e('tool_call', 'search')]),
    };
    d.change(null, web);
    d.change(null, mcp);
    const rows = d.rows();
    expect(rows.days.map((r) => [r.kind, r.sessions, r.toolCalls])).toEqual([
      ['mcp', 1, 0],
      ['web', 1, 0],
    ]);
    expect(rows.counts.filter((c) => c.dim === 'tool')).toEqual([
      { projectId: 'p_1', date: '2025-06-01', kind: 'mcp', dim: 'tool', value: 'search', n: 1 },
    ]);
    // the same user in both kinds: one user-day over all kinds, one per kind
    expect(rows.users).toEqual([{ projectId: 'p_1', date: '2025-06-01', userKey: 'u:u_1', n: 2 }]);
    expect(rows.kindUsers.map((u) => [u.kind, u.n])).toEqual([
      ['mcp', 1],
      ['web', 1],
    ]);
  });

  it('a change of users alone (an erase of a day of before migration 11) writes the unknown-kind day row', () => {
    const d = new AggregateDelta(options);
    d.addUser('p_1', '2025-05-01', 'u:gone', -1);
    expect(d.rows().days).toEqual([{ projectId: 'p_1', date: '2025-05-01', kind: UNKNOWN_KIND, ...zeroTotals() }]);
  });

  it('computeDays is the sum of the contributions of the sessions with the clock applied', () => {
    const s = testSession({ startedAt: T0, lastActivityAt: T0 + 5 * MIN });
    const [day] = computeDays([s], [], '2025-06-01', '2025-06-01', UTC, T0 + DAY);
    // past its idle timeout at `now`: ended at its last activity
    expect(day?.endedSessions).toBe(1);
    expect(day?.counts.exitReason).toEqual({ timeout: 1 });
  });
});

describe('distinct users over ranges', () => {
  const DAYS = Array.from({ length: 12 }, (_, i) => addDays('2025-06-01', i));

  /** What the store does: per user, the span around the changes, then linkChanges. */
  function apply(links: Map<string, number>, days: Set<string>, appeared: Set<string>, vanished: Set<string>) {
    for (const d of appeared) days.add(d);
    for (const d of vanished) days.delete(d);
    const changed = [...appeared, ...vanished].sort();
    const min = changed[0] as string;
    const max = changed[changed.length - 1] as string;
    const sorted = [...days].sort();
    const lo = sorted.filter((d) => d < min).at(-1) ?? null;
    const hi = sorted.find((d) => d > max) ?? null;
    const span = sorted.filter((d) => (lo === null || d >= lo) && (hi === null || d <= hi));
    for (const [k, n] of linkChanges(span, appeared, vanished, lo !== null)) links.set(k, (links.get(k) ?? 0) + n);
  }

  it('the (day, previous day) links count every range exactly, through appearances and removals', () => {
    const r = rng(3);
    const pick = pickOf(r);
    for (let run = 0; run < 40; run++) {
      const links = new Map<string, number>();
      const users = new Map<string, Set<string>>();
      for (let step = 0; step < 30; step++) {
        const user = pick(['x', 'y', 'z', 'w']);
        const days = users.get(user) ?? new Set<string>();
        users.set(user, days);
        const appeared = new Set<string>();
        const vanished = new Set<string>();
        for (let k = 0; k < 1 + Math.floor(r() * 3); k++) {
          const d = pick(DAYS);
          if (appeared.has(d) || vanished.has(d)) continue;
          (days.has(d) ? vanished : appeared).add(d);
        }
        apply(links, days, appeared, vanished);
        for (const [k, n] of links) expect(n, k).toBeGreaterThanOrEqual(0);
        const rows = [...links]
          .filter(([, n]) => n !== 0)
          .map(([k, n]) => {
            const [date = '', prev = ''] = k.split('\t');
            return { date, prev, n };
          });
        const from = pick(DAYS);
        const to = pick(DAYS.filter((d) => d >= from));
        const got = uniqueUsersOf(
          rows.filter((l) => l.date >= from && l.date <= to),
          from,
        );
        const want = [...users.values()].filter((ds) => [...ds].some((d) => d >= from && d <= to)).length;
        expect(got.range).toBe(want);
        for (const d of DAYS.filter((x) => x >= from && x <= to)) {
          expect(got.days.get(d) ?? 0).toBe([...users.values()].filter((ds) => ds.has(d)).length);
        }
      }
    }
  });

  it('a first day links to NO_DAY, which sorts before every date', () => {
    expect(NO_DAY < '0000-01-01').toBe(true);
    expect([...linkChanges(['2025-06-01'], new Set(['2025-06-01']), new Set(), false)]).toEqual([['2025-06-01\t', 1]]);
  });
});
