import { describe, expect, it } from 'vitest';
import { periodStart, retentionOf, type UserDay } from './retention.js';

// Retention cohorts on hand-written user-days (docs/metrics.md, "Retention").

const days = (user: string, ...list: string[]): UserDay[] => list.map((day) => ({ user, day }));

describe('periodStart', () => {
  it('weeks start on Monday (ISO 8601), across months and years', () => {
    expect(periodStart('2026-11-02', 'week')).toBe('2026-11-02'); // a Monday
    expect(periodStart('2026-11-08', 'week')).toBe('2026-11-02'); // its Sunday
    expect(periodStart('2026-11-09', 'week')).toBe('2026-11-09');
    expect(periodStart('2027-01-01', 'week')).toBe('2026-12-28'); // a Friday
    expect(periodStart('1969-12-31', 'week')).toBe('1969-12-29'); // before the epoch
    expect(periodStart('2026-11-05', 'day')).toBe('2026-11-05');
  });
});

describe('retentionOf', () => {
  it('weekly: cohorts by first week, retained per later week, every week listed', () => {
    const input = [
      ...days('a', '2026-11-02', '2026-11-04', '2026-11-10', '2026-11-24'), // weeks 0, 1, 3
      ...days('b', '2026-11-08', '2026-11-16'), // weeks 0, 2
      ...days('c', '2026-11-11'), // week 1
      ...days('d', '2026-11-25', '2026-11-26'), // week 3
    ];
    expect(retentionOf(input, '2026-11-04', '2026-11-26', 'week')).toEqual({
      period: 'week',
      cohorts: [
        { cohort: '2026-11-02', users: 2, retained: [2, 1, 1, 1] },
        { cohort: '2026-11-09', users: 1, retained: [1, 0, 0] },
        { cohort: '2026-11-16', users: 0, retained: [0, 0] },
        { cohort: '2026-11-23', users: 1, retained: [1] },
      ],
    });
  });

  it('daily: a session k days later, several the same day count once', () => {
    const input = [...days('a', '2026-11-01', '2026-11-01', '2026-11-03'), ...days('b', '2026-11-02', '2026-11-03')];
    expect(retentionOf(input, '2026-11-01', '2026-11-03', 'day').cohorts).toEqual([
      { cohort: '2026-11-01', users: 1, retained: [1, 0, 1] },
      { cohort: '2026-11-02', users: 1, retained: [1, 1] },
      { cohort: '2026-11-03', users: 0, retained: [0] },
    ]);
  });

  it('days outside the (widened) range are ignored; an empty range lists empty cohorts', () => {
    const input = [...days('a', '2026-10-30', '2026-11-03'), ...days('b', '2026-11-20')];
    expect(retentionOf(input, '2026-11-03', '2026-11-09', 'week').cohorts).toEqual([
      { cohort: '2026-11-02', users: 1, retained: [1, 0] },
      { cohort: '2026-11-09', users: 0, retained: [0] },
    ]);
    expect(retentionOf([], '2026-11-03', '2026-11-03', 'day').cohorts).toEqual([
      { cohort: '2026-11-03', users: 0, retained: [0] },
    ]);
  });
});
