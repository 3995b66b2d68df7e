import { describe, expect, it } from 'vitest';
import {
  addDays,
  change,
  countryName,
  datesOf,
  daysIn,
  fmtDuration,
  fmtGap,
  fmtInt,
  fmtMs,
  fmtPct,
  previousRange,
  rangeDates,
  retentionWindow,
  todayIn,
} from './format.js';
import { DEFAULT_ROUTE, formatHash, parseHash, withRoute } from './route.js';

describe('formatting', () => {
  it('numbers, rates and durations', () => {
    expect(fmtInt(1234567.4)).toBe('1,234,567');
    expect(fmtPct(0.4321)).toBe('43.2%');
    expect(fmtDuration(0)).toBe('0s');
    expect(fmtDuration(59.6)).toBe('1m 00s');
    expect(fmtDuration(200)).toBe('3m 20s');
    expect(fmtDuration(3900)).toBe('1h 05m');
    expect(fmtDuration(2 * 86400 + 3 * 3600)).toBe('2d 3h');
    expect(fmtDuration(Number.NaN)).toBe('—');
    expect(fmtGap(null)).toBe('start');
    expect(fmtGap(400)).toBe('+0.4s');
    expect(fmtGap(200_000)).toBe('+3m 20s');
  });

  it('changes: relative for counts, percentage points for rates, and whether that is good', () => {
    expect(change(120, 100, 'count')).toEqual({ text: '+20%', trend: 'up', good: true });
    expect(change(95, 100, 'count')).toEqual({ text: '−5.0%', trend: 'down', good: false });
    expect(change(5, 0, 'count')).toEqual({ text: 'new', trend: 'up', good: true });
    expect(change(0, 0, 'count').trend).toBe('flat');
    expect(change(0.3, 0.35, 'rate', false)).toEqual({ text: '−5.0 pp', trend: 'down', good: true });
    expect(change(0.3, 0.3001, 'rate')).toEqual({ text: '±0 pp', trend: 'flat', good: null });
  });

  it('places', () => {
    expect(countryName('DE')).toBe('Germany');
    expect(countryName(null)).toBe('Unknown');
  });
});

describe('date ranges', () => {
  it('today, 7 and 30 days end today; custom needs two ordered dates', () => {
    expect(rangeDates('today', '2026-03-01')).toEqual({ from: '2026-03-01', to: '2026-03-01' });
    expect(rangeDates('7d', '2026-03-01')).toEqual({ from: '2026-02-23', to: '2026-03-01' });
    expect(rangeDates('30d', '2026-03-01')).toEqual({ from: '2026-01-31', to: '2026-03-01' });
    expect(rangeDates('custom', '2026-03-01', { from: '2026-01-01', to: '2026-01-10' })).toEqual({
      from: '2026-01-01',
      to: '2026-01-10',
    });
    expect(rangeDates('custom', '2026-03-01', { from: '2026-01-10', to: '2026-01-01' }).from).toBe('2026-01-31');
  });

  it('previous period has the same length and ends the day before', () => {
    const r = { from: '2026-02-23', to: '2026-03-01' };
    expect(daysIn(r)).toBe(7);
    expect(previousRange(r)).toEqual({ from: '2026-02-16', to: '2026-02-22' });
    expect(datesOf(r)).toHaveLength(7);
    expect(addDays('2024-02-28', 1)).toBe('2024-02-29');
  });

  it("today is the project's time zone's date", () => {
    const t = Date.parse('2026-01-01T23:30:00Z');
    expect(todayIn('UTC', t)).toBe('2026-01-01');
    expect(todayIn('Europe/Berlin', t)).toBe('2026-01-02');
    expect(todayIn('Not/AZone', t)).toBe('2026-01-01');
  });
});

describe('route in the URL hash', () => {
  it('round-trips a view with its filters and drops defaults', () => {
    const r = withRoute(DEFAULT_ROUTE, { view: 'sessions', range: '7d', status: 'ended', session: 's_1' });
    expect(formatHash(r)).toBe('#/sessions?range=7d&session=s_1&status=ended');
    expect(parseHash(formatHash(r))).toEqual(r);
    expect(formatHash(DEFAULT_ROUTE)).toBe('#/overview');
    expect(withRoute(r, { session: undefined }).session).toBeUndefined();
  });

  it('falls back to defaults for anything unknown or malformed', () => {
    expect(parseHash('')).toEqual(DEFAULT_ROUTE);
    expect(parseHash('#/nope?range=year&from=yesterday')).toEqual(DEFAULT_ROUTE);
    expect(parseHash('#/users?project=p_2&user=u%201')).toEqual({
      ...DEFAULT_ROUTE,
      view: 'users',
      project: 'p_2',
      user: 'u 1',
    });
  });
});

describe('retention window', () => {
  it('8 to 12 weeks ending with the range', () => {
    expect(retentionWindow({ from: '2026-11-20', to: '2026-11-26' })).toEqual({ from: '2026-10-02', to: '2026-11-26' });
    expect(retentionWindow({ from: '2026-09-10', to: '2026-11-26' })).toEqual({ from: '2026-09-10', to: '2026-11-26' });
    expect(retentionWindow({ from: '2025-01-01', to: '2026-11-26' })).toEqual({ from: '2026-09-04', to: '2026-11-26' });
  });
});

describe('fmtMs', () => {
  it('shows latencies with the precision they need', () => {
    expect(fmtMs(0.424)).toBe('0.42 ms');
    expect(fmtMs(8.34)).toBe('8.3 ms');
    expect(fmtMs(120.4)).toBe('120 ms');
    expect(fmtMs(2400)).toBe('2.4 s');
    expect(fmtMs(31_000)).toBe('31 s');
    expect(fmtMs(null)).toBe('—');
  });
});
