import { SqliteStore } from '@sessiontrack/store';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { DAY_MS, MINUTE_MS } from '../clock.js';
import { every, type Job, msUntilUtc, runJob, startJobs } from './runner.js';

// The runner with real timers, a real (in-memory) SQLite store for the locks and a real pino
// logger writing into an array.

const store = new SqliteStore({ filename: ':memory:' });
const lines: { msg: string; err?: string }[] = [];
const logger = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s)) });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let stops: (() => void)[] = [];
afterEach(() => {
  for (const stop of stops) stop();
  stops = [];
  lines.length = 0;
});

describe('background job runner', () => {
  it('runs each job on its schedule with the clock it was given, and stops', async () => {
    const seen: number[] = [];
    const job: Job = { name: 'tick', lock: 'tick', next: every(20), run: (now) => void seen.push(now) };
    const never: Job = { name: 'never', lock: null, next: every(0), run: () => void seen.push(-1) };
    const jobs = startJobs([job, never], { store, logger, now: () => 42 });
    stops.push(jobs.stop);
    await sleep(150);
    jobs.stop();
    const runs = seen.length;
    expect(runs).toBeGreaterThanOrEqual(3);
    expect(new Set(seen)).toEqual(new Set([42]));
    await sleep(60);
    expect(seen.length).toBe(runs);
  });

  it('logs a failure once per run as "<name> failed; will retry" and runs the job again', async () => {
    let calls = 0;
    const job: Job = {
      name: 'flaky',
      lock: 'flaky',
      next: every(10),
      run: () => {
        calls++;
        throw new Error(`boom ${calls}`);
      },
    };
    await runJob(job, { store, logger, now: Date.now });
    expect(lines).toEqual([expect.objectContaining({ msg: 'flaky failed; will retry', err: 'boom 1' })]);
    const jobs = startJobs([job], { store, logger, now: Date.now });
    stops.push(jobs.stop);
    await sleep(100);
    expect(calls).toBeGreaterThan(2);
    expect(lines.length).toBe(calls);
  });

  it('never starts a run while the last one is still going', async () => {
    let running = 0;
    let most = 0;
    let runs = 0;
    const slow: Job = {
      name: 'slow',
      lock: null,
      next: every(5),
      run: async () => {
        running++;
        runs++;
        most = Math.max(most, running);
        await sleep(30);
        running--;
      },
    };
    const jobs = startJobs([slow], { store, logger, now: Date.now });
    stops.push(jobs.stop);
    await sleep(200);
    expect(runs).toBeGreaterThanOrEqual(3);
    expect(most).toBe(1);
  });
});

describe('schedules', () => {
  it('the daily retention time is the next HH:MM UTC', () => {
    const at = Date.parse('2025-06-01T02:00:00Z');
    expect(msUntilUtc('02:30', at)).toBe(30 * MINUTE_MS);
    expect(msUntilUtc('02:00', at)).toBe(DAY_MS);
    expect(msUntilUtc('00:15', at)).toBe(DAY_MS - 105 * MINUTE_MS);
    expect(() => msUntilUtc('2:30', at)).toThrow(RangeError);
    expect(() => msUntilUtc('24:00', at)).toThrow(RangeError);
  });
});
