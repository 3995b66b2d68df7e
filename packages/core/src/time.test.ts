import { describe, expect, it } from 'vitest';
import { addDays, dateRange, dayStart, localDate, localWeekdayHour, zoneClock } from './time.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const at = (iso: string): number => Date.parse(iso);

describe('dayStart', () => {
  it('is UTC midnight in UTC', () => {
    expect(dayStart('2025-03-10', 'UTC')).toBe(at('2025-03-10T00:00:00Z'));
    expect(dayStart('2024-02-29', 'UTC')).toBe(at('2024-02-29T00:00:00Z'));
  });

  it('is local midnight, with the offset in force on that day', () => {
    expect(dayStart('2025-01-15', 'Europe/Berlin')).toBe(at('2025-01-14T23:00:00Z'));
    expect(dayStart('2025-07-15', 'Europe/Berlin')).toBe(at('2025-07-14T22:00:00Z'));
    expect(dayStart('2025-01-01', 'Asia/Kolkata')).toBe(at('2024-12-31T18:30:00Z'));
    expect(dayStart('2025-01-01', 'America/Los_Angeles')).toBe(at('2025-01-01T08:00:00Z'));
    expect(dayStart('2025-01-01', 'Pacific/Kiritimati')).toBe(at('2024-12-31T10:00:00Z'));
    expect(dayStart('2025-01-01', 'Pacific/Chatham')).toBe(at('2024-12-31T10:15:00Z'));
  });

  it('gives DST days 23 and 25 hours', () => {
    const ny = 'America/New_York';
    expect(dayStart('2025-03-09', ny)).toBe(at('2025-03-09T05:00:00Z'));
    expect(dayStart('2025-03-10', ny)).toBe(at('2025-03-10T04:00:00Z'));
    expect(dayStart('2025-03-10', ny) - dayStart('2025-03-09', ny)).toBe(23 * HOUR);
    expect(dayStart('2025-11-03', ny) - dayStart('2025-11-02', ny)).toBe(25 * HOUR);
    const berlin = 'Europe/Berlin';
    expect(dayStart('2025-03-31', berlin) - dayStart('2025-03-30', berlin)).toBe(23 * HOUR);
    expect(dayStart('2025-10-27', berlin) - dayStart('2025-10-26', berlin)).toBe(25 * HOUR);
  });

  it('starts a day whose midnight was skipped at the end of the gap (Santiago, clocks forward at 00:00)', () => {
    // 2024-09-08 00:00 -04 became 01:00 -03: the first instant of that date is 01:00 -03.
    expect(dayStart('2024-09-08', 'America/Santiago')).toBe(at('2024-09-08T04:00:00Z'));
    expect(localDate(at('2024-09-08T04:00:00Z') - 1, 'America/Santiago')).toBe('2024-09-07');
  });

  it('starts a day after a repeated hour before midnight (Santiago, clocks back at 24:00)', () => {
    // At 2025-04-06 00:00 -03 clocks went back to 2025-04-05 23:00 -04: the 5th's last hour came twice.
    expect(dayStart('2025-04-06', 'America/Santiago')).toBe(at('2025-04-06T04:00:00Z'));
    expect(localDate(at('2025-04-06T03:30:00Z'), 'America/Santiago')).toBe('2025-04-05');
  });

  it('starts a day whose midnight happened twice at the first one (Havana, clocks back at 01:00)', () => {
    // 2024-11-03 01:00 -04 went back to 00:00 -05, so 00:00 on the 3rd came at 04:00Z and at 05:00Z.
    expect(dayStart('2024-11-03', 'America/Havana')).toBe(at('2024-11-03T04:00:00Z'));
    expect(dayStart('2024-11-04', 'America/Havana') - dayStart('2024-11-03', 'America/Havana')).toBe(25 * HOUR);
  });

  it('gives a date a zone skipped an empty day (Samoa dropped 2011-12-30)', () => {
    const apia = 'Pacific/Apia';
    expect(dayStart('2011-12-30', apia)).toBe(dayStart('2011-12-31', apia));
    expect(dayStart('2011-12-31', apia) - dayStart('2011-12-29', apia)).toBe(DAY);
    expect(dateRange({ from: '2011-12-30', to: '2011-12-30' }, apia, 0)).toEqual({
      from: dayStart('2011-12-31', apia),
      to: dayStart('2011-12-31', apia),
    });
  });

  it('is the first instant of its date, for every day of a year, in zones with and without DST', () => {
    for (const tz of [
      'UTC',
      'Europe/London',
      'America/Sao_Paulo',
      'Australia/Lord_Howe',
      'America/Santiago',
      'America/Havana',
    ]) {
      let date = '2024-01-01';
      for (let i = 0; i < 366; i++) {
        const start = dayStart(date, tz);
        expect(localDate(start, tz), `${tz} ${date}`).toBe(date);
        expect(localDate(start - 1, tz), `${tz} ${date}`).toBe(addDays(date, -1));
        date = addDays(date, 1);
      }
    }
  });

  it('rejects malformed dates and unknown zones with a RangeError', () => {
    for (const bad of ['2025-02-30', '2025-13-01', '2025-1-01', '20250101', '2025-01-01T00:00:00Z', '']) {
      expect(() => dayStart(bad, 'UTC'), bad).toThrow(RangeError);
    }
    expect(() => dayStart('2025-01-01', 'Mars/Olympus_Mons')).toThrow(RangeError);
  });
});

describe('localDate', () => {
  it('is the calendar date in the zone, not in UTC', () => {
    expect(localDate(at('2025-01-01T03:00:00Z'), 'UTC')).toBe('2025-01-01');
    expect(localDate(at('2025-01-01T03:00:00Z'), 'America/New_York')).toBe('2024-12-31');
    expect(localDate(at('2024-12-31T20:00:00Z'), 'Asia/Tokyo')).toBe('2025-01-01');
    expect(localDate(at('2025-06-30T23:59:59.999Z'), 'UTC')).toBe('2025-06-30');
  });

  it('handles instants before 1970 and years below 1000', () => {
    expect(localDate(-1, 'UTC')).toBe('1969-12-31');
    expect(localDate(Date.UTC(1969, 6, 20, 20, 17), 'UTC')).toBe('1969-07-20');
    const d = new Date(0);
    d.setUTCFullYear(812, 11, 25);
    expect(localDate(d.getTime(), 'UTC')).toBe('0812-12-25');
    expect(dayStart('0812-12-25', 'UTC')).toBe(d.getTime());
  });
});

describe('addDays', () => {
  it('moves across months, leap days and years', () => {
    expect(addDays('2024-02-28', 1)).toBe('2024-02-29');
    expect(addDays('2025-02-28', 1)).toBe('2025-03-01');
    expect(addDays('2025-01-01', -1)).toBe('2024-12-31');
    expect(addDays('2025-03-30', 0)).toBe('2025-03-30');
  });
});

describe('dateRange', () => {
  const now = at('2025-06-15T12:00:00Z');

  it('defaults to the last 30 days, today included, as a half-open range', () => {
    const r = dateRange({}, 'UTC', now);
    expect(r).toEqual({ from: at('2025-05-17T00:00:00Z'), to: at('2025-06-16T00:00:00Z') });
    expect((r.to - r.from) / DAY).toBe(30);
    expect(now).toBeGreaterThanOrEqual(r.from);
    expect(now).toBeLessThan(r.to);
  });

  it('honours another default length', () => {
    expect(dateRange({}, 'UTC', now, 7)).toEqual({ from: at('2025-06-09T00:00:00Z'), to: at('2025-06-16T00:00:00Z') });
    expect(dateRange({}, 'UTC', now, 1)).toEqual({ from: at('2025-06-15T00:00:00Z'), to: at('2025-06-16T00:00:00Z') });
    expect(() => dateRange({}, 'UTC', now, 0)).toThrow(RangeError);
  });

  it("takes 'today' in the project's zone", () => {
    // 02:00 UTC on the 15th is still the 14th in Los Angeles.
    const early = at('2025-06-15T02:00:00Z');
    const r = dateRange({}, 'America/Los_Angeles', early, 1);
    expect(r).toEqual({ from: at('2025-06-14T07:00:00Z'), to: at('2025-06-15T07:00:00Z') });
  });

  it('treats from and to as inclusive dates', () => {
    expect(dateRange({ from: '2025-01-01', to: '2025-01-31' }, 'UTC', now)).toEqual({
      from: at('2025-01-01T00:00:00Z'),
      to: at('2025-02-01T00:00:00Z'),
    });
    expect(dateRange({ from: '2025-03-30', to: '2025-03-30' }, 'Europe/Berlin', now)).toEqual({
      from: at('2025-03-29T23:00:00Z'),
      to: at('2025-03-30T22:00:00Z'),
    });
  });

  it('runs to today without to', () => {
    expect(dateRange({ from: '2025-06-01' }, 'UTC', now)).toEqual({
      from: at('2025-06-01T00:00:00Z'),
      to: at('2025-06-16T00:00:00Z'),
    });
  });

  it('without from, takes the default number of days ending with to', () => {
    expect(dateRange({ to: '2025-01-31' }, 'UTC', now, 7)).toEqual({
      from: at('2025-01-25T00:00:00Z'),
      to: at('2025-02-01T00:00:00Z'),
    });
  });

  it('throws a RangeError when from is after to, or a date is malformed', () => {
    expect(() => dateRange({ from: '2025-02-01', to: '2025-01-31' }, 'UTC', now)).toThrow(RangeError);
    expect(() => dateRange({ from: '2025-06-20' }, 'UTC', now)).toThrow(RangeError);
    expect(() => dateRange({ from: 'yesterday' }, 'UTC', now)).toThrow(RangeError);
    expect(() => dateRange({ to: '2025-02-30' }, 'UTC', now)).toThrow(RangeError);
  });
});

describe('zoneClock', () => {
  it('agrees with localDate and localWeekdayHour, across daylight-saving changes', () => {
    for (const zone of [
      'UTC',
      'Europe/Berlin',
      'America/New_York',
      'Asia/Kolkata',
      'Australia/Lord_Howe',
      'America/Santiago',
    ]) {
      const clock = zoneClock(zone);
      // every 7 minutes 13 seconds over a year: hits every transition's neighbourhood
      for (let t = Date.parse('2025-01-01T00:00:00Z'); t < Date.parse('2026-01-01T00:00:00Z'); t += 433_000) {
        const fast = clock(t);
        const wh = localWeekdayHour(t, zone);
        if (fast.date !== localDate(t, zone) || fast.weekday !== wh.weekday || fast.hour !== wh.hour) {
          throw new Error(
            `${zone} ${new Date(t).toISOString()}: ${JSON.stringify(fast)} vs ${localDate(t, zone)} ${JSON.stringify(wh)}`,
          );
        }
      }
    }
    // Some 440,000 Intl look-ups: seconds on an idle machine, over the default 30 s on a loaded one.
  }, 180_000);

  it('is exact within a quarter hour whose offset is not a whole number of quarters', () => {
    // Monrovia kept −00:44:30 until 1972-01-07 (then UTC): its local hours began inside UTC
    // quarters, so no quarter may share one answer. Kathmandu moved from +05:30 to +05:45 in 1986.
    for (const [zone, from] of [
      ['Africa/Monrovia', '1970-06-01T00:00:00Z'],
      ['Africa/Monrovia', '1972-01-06T12:00:00Z'],
      ['Asia/Kathmandu', '1985-12-31T12:00:00Z'],
    ] as const) {
      const clock = zoneClock(zone);
      for (let t = Date.parse(from); t < Date.parse(from) + 2 * DAY; t += 61_000) {
        const fast = clock(t);
        const wh = localWeekdayHour(t, zone);
        expect([zone, new Date(t).toISOString(), fast.date, fast.weekday, fast.hour]).toEqual([
          zone,
          new Date(t).toISOString(),
          localDate(t, zone),
          wh.weekday,
          wh.hour,
        ]);
      }
    }
  });
});
