import { describe, expect, it } from 'vitest';
import { ProjectOptions, type SqlProgram } from './aggregates-sql.js';

// ProjectOptions.load reads the projects' zone and bounce rule unless the projects version the
// transaction read is the one they were read at. Driven here without a database: each statement
// the program yields is answered with the rows given, and counted.

type Row = Record<string, unknown>;
const row = (id: string, timeZone: string): Row => ({
  id,
  time_zone: timeZone,
  bounce_seconds: null,
  bounce_max_actions: null,
});

/** Runs a load, answering its one possible statement with `rows`; answers how many it ran. */
function run(program: SqlProgram<void>, rows: Row[]): number {
  let reads = 0;
  let step = program.next();
  while (!step.done) {
    reads++;
    step = program.next(rows);
  }
  return reads;
}

describe('ProjectOptions', () => {
  it('reads again only when the version moved or a project is new to it', () => {
    const o = new ProjectOptions();
    expect(run(o.load(['p1'], 7), [row('p1', 'Europe/Paris')])).toBe(1);
    expect(o.of('p1').opts.timeZone).toBe('Europe/Paris');
    expect(run(o.load(['p1'], 7), [])).toBe(0);
    // A project it has not read: read, even at the same version.
    expect(run(o.load(['p1', 'p2'], 7), [row('p1', 'Europe/Paris'), row('p2', 'Asia/Tokyo')])).toBe(1);
    expect(run(o.load(['p2'], 7), [])).toBe(0);
    // Any project may have changed: all of them are read again, and forgotten where gone.
    expect(run(o.load(['p1'], 8), [row('p1', 'America/New_York')])).toBe(1);
    expect(o.of('p1').opts.timeZone).toBe('America/New_York');
    expect(run(o.load(['p2'], 8), [])).toBe(1);
    expect(o.of('p2').opts.timeZone).toBe('UTC');
  });

  it('remembers a project without a row as absent, until the version moves', () => {
    const o = new ProjectOptions();
    expect(run(o.load(['ghost'], 1), [])).toBe(1);
    expect(run(o.load(['ghost'], 1), [])).toBe(0);
    expect(o.of('ghost').opts.timeZone).toBe('UTC');
    expect(run(o.load(['ghost'], 2), [row('ghost', 'Asia/Kolkata')])).toBe(1);
    expect(o.of('ghost').opts.timeZone).toBe('Asia/Kolkata');
  });

  it('reads without a version every time, and a caller-held project makes the next versioned load read', () => {
    const o = new ProjectOptions();
    expect(run(o.load(['p1']), [row('p1', 'UTC')])).toBe(1);
    expect(run(o.load(['p1']), [row('p1', 'UTC')])).toBe(1);
    expect(run(o.load(['p1'], 3), [row('p1', 'Europe/Berlin')])).toBe(1);
    expect(run(o.load(['p1'], 3), [])).toBe(0);
    // A rebuild's copy of the project may be older than version 3: not trusted past it.
    o.remember({ id: 'p1', timeZone: 'Europe/Lisbon' } as Parameters<ProjectOptions['remember']>[0]);
    expect(o.of('p1').opts.timeZone).toBe('Europe/Lisbon');
    expect(run(o.load(['p1'], 3), [row('p1', 'Europe/Berlin')])).toBe(1);
    expect(o.of('p1').opts.timeZone).toBe('Europe/Berlin');
  });
});
