import { buildSession, normalizeEvent, type Project } from '@sessiontrack/core';
import { SqliteStore, type Store, type WriteOp, type WriteResult } from '@sessiontrack/store';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ApiError } from './errors.js';
import { WriteBuffer } from './write-buffer.js';

// The group commit against a real SQLite store. A thin wrapper records each transaction and can
// hold it open (to fill the buffer) or fail it (to see the fallback) — the store itself is real.

const project: Project = {
  id: 'p',
  name: 'p',
  writeKey: 'wk_p',
  allowedOrigins: [],
  timeZone: 'UTC',
  idleTimeoutMs: null,
  absoluteTimeoutMs: null,
  retentionDays: 30,
  rateLimitPerMinute: 0,
  createdAt: 0,
};

class RecordingStore {
  commits: number[] = [];
  gate: Promise<void> | null = null;
  failNext = 0;
  constructor(readonly inner: SqliteStore) {}
  async commit(ops: readonly WriteOp[], now: number): Promise<WriteResult[]> {
    this.commits.push(ops.length);
    if (this.gate) await this.gate;
    if (this.failNext > 0) {
      this.failNext--;
      throw new Error('disk I/O error');
    }
    return this.inner.commit(ops, now);
  }
}

let inner: SqliteStore;
let store: RecordingStore;
let sessionId: string;
beforeEach(async () => {
  inner = new SqliteStore({ filename: ':memory:' });
  store = new RecordingStore(inner);
  await inner.createProject(project);
  const s = buildSession(
    { kind: 'api', anonymousId: 'a' },
    { project, now: Date.now(), origin: null, userAgent: null, geo: { country: null, region: null, continent: null } },
  );
  sessionId = s.id;
  await inner.commit([{ op: 'start', session: s }], Date.now());
});
afterEach(async () => {
  await inner.close();
});

const eventsOp = (ids: string[]): WriteOp => ({
  op: 'events',
  projectId: 'p',
  sessionId,
  events: ids.map((id) => normalizeEvent({ id, type: 'action' }, Date.now())),
});

const buffer = (maxPending = 1000, maxBatch = 1000, maxConcurrent = 1) =>
  new WriteBuffer(store as unknown as Store, { maxPending, maxBatch, maxConcurrent });

describe('WriteBuffer', () => {
  it('commits requests that arrive together in one transaction and answers each after it', async () => {
    const b = buffer();
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => b.submit(eventsOp([`e${i}`]))));
    expect(store.commits).toEqual([40]);
    expect(results.every((r) => r.ok && r.accepted === 1)).toBe(true);
    expect((await inner.getSession('p', sessionId))?.actions).toBe(40);
  });

  it('gathers requests while a commit runs and sends them together the moment it ends', async () => {
    const b = buffer();
    let open!: () => void;
    store.gate = new Promise((r) => {
      open = r;
    });
    const first = b.submit(eventsOp(['first']));
    await new Promise((r) => setImmediate(r)); // the first commit is now running (held at the gate)
    const later = Array.from({ length: 10 }, (_, i) => b.submit(eventsOp([`later${i}`])));
    store.gate = null;
    open();
    await Promise.all([first, ...later]);
    expect(store.commits).toEqual([1, 10]);
  });

  it('runs up to maxConcurrent transactions at once when the store allows it (PostgreSQL)', async () => {
    const b = buffer(1000, 1000, 2);
    let open!: () => void;
    store.gate = new Promise((r) => {
      open = r;
    });
    const first = b.submit(eventsOp(['c1']));
    await new Promise((r) => setImmediate(r));
    const second = b.submit(eventsOp(['c2']));
    await new Promise((r) => setImmediate(r));
    const third = b.submit(eventsOp(['c3']));
    await new Promise((r) => setImmediate(r));
    // two transactions are in flight (both held at the gate); the third waits for a free lane
    expect(store.commits).toEqual([1, 1]);
    store.gate = null;
    open();
    await Promise.all([first, second, third]);
    expect(store.commits).toEqual([1, 1, 1]);
    expect((await inner.getSession('p', sessionId))?.actions).toBe(3);
  });

  it('caps a transaction at maxBatch events', async () => {
    const b = buffer(10_000, 25);
    await Promise.all(
      Array.from({ length: 10 }, (_, i) => b.submit(eventsOp(Array.from({ length: 9 }, (_, j) => `b${i}-${j}`)))),
    );
    // each operation weighs 10 (9 events + 1): two per transaction
    expect(store.commits).toEqual([2, 2, 2, 2, 2]);
  });

  it('is bounded: a full buffer answers 503 with Retry-After instead of growing', async () => {
    const b = buffer(20);
    let open!: () => void;
    store.gate = new Promise((r) => {
      open = r;
    });
    const accepted = [b.submit(eventsOp(['a1', 'a2', 'a3'])), b.submit(eventsOp(['b1', 'b2', 'b3']))];
    const many = Array.from({ length: 20 }, (_, i) => `c${i}`);
    const refused = b.submit(eventsOp(many));
    await expect(refused).rejects.toMatchObject({ code: 'unavailable', status: 503, retryAfter: 1 });
    expect(b.pending).toBe(8);
    open();
    await Promise.all(accepted);
    expect(b.pending).toBe(0);
    // nothing of the refused request was written
    const events = await inner.getEvents('p', sessionId);
    expect(events.map((e) => e.id).sort()).toEqual(['a1', 'a2', 'a3', 'b1', 'b2', 'b3']);
  });

  it('when a shared transaction fails, retries each operation alone so only the broken one fails', async () => {
    const b = buffer();
    store.failNext = 1;
    const results = await Promise.all([b.submit(eventsOp(['x1'])), b.submit(eventsOp(['x2']))]);
    expect(results.map((r) => r.ok)).toEqual([true, true]);
    expect(store.commits).toEqual([2, 1, 1]);

    store.failNext = 1;
    const alone = b.submit(eventsOp(['y1']));
    await expect(alone).rejects.toBeInstanceOf(ApiError);
    await expect(alone).rejects.toMatchObject({ code: 'unavailable' });
    expect((await inner.getEvents('p', sessionId)).map((e) => e.id)).toEqual(['x1', 'x2']);
  });

  it('drain waits for everything accepted, then refuses new work', async () => {
    const b = buffer();
    let open!: () => void;
    store.gate = new Promise((r) => {
      open = r;
    });
    const pending = Array.from({ length: 5 }, (_, i) => b.submit(eventsOp([`d${i}`])));
    let drained = false;
    const drain = b.drain().then(() => {
      drained = true;
    });
    await new Promise((r) => setTimeout(r, 20));
    expect(drained).toBe(false);
    await expect(b.submit(eventsOp(['late']))).rejects.toMatchObject({ code: 'unavailable' });
    open();
    await drain;
    await Promise.all(pending);
    expect((await inner.getEvents('p', sessionId)).map((e) => e.id)).toEqual(['d0', 'd1', 'd2', 'd3', 'd4']);
  });
});
