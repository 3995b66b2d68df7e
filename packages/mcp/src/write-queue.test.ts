import { describe, expect, it } from 'vitest';
import { silentLogger } from './sink.js';
import { WriteQueue, type WriteQueueOptions } from './write-queue.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Waits for timers to have run, however loaded the machine is. */
const until = async (cond: () => boolean, ms = 5000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await sleep(5);
  }
};

function queue(over: Partial<WriteQueueOptions<number>> = {}) {
  const written: number[][] = [];
  const warnings: string[] = [];
  const q = new WriteQueue<number>({
    drain: async (self) => {
      written.push(self.items.splice(0));
    },
    intervalMs: 5,
    maxBuffered: 100,
    retryMs: () => 5,
    log: { ...silentLogger, warn: (_: Record<string, unknown>, msg: string) => warnings.push(msg) },
    what: 'write',
    ...over,
  });
  return { q, written, warnings };
}

describe('WriteQueue', () => {
  it('writes a burst of pushes as one drain, a short while after the first', async () => {
    const { q, written } = queue();
    for (let i = 1; i <= 3; i++) q.push(i);
    expect(written).toEqual([]);
    await until(() => written.length > 0);
    expect(written).toEqual([[1, 2, 3]]);
  });

  it('drops the oldest items past maxBuffered, counts and logs them', async () => {
    const { q, written, warnings } = queue({ maxBuffered: 2 });
    for (let i = 1; i <= 5; i++) q.push(i);
    expect(q.dropped).toBe(3);
    expect(warnings).toEqual(['sessiontrack: write queue full']);
    await q.flush();
    expect(written).toEqual([[4, 5]]);
  });

  it('runs one drain at a time; flush waits for the running one and drains what came meanwhile', async () => {
    let running = 0;
    let most = 0;
    const drained: number[][] = [];
    const { q } = queue({
      drain: async (self) => {
        most = Math.max(most, ++running);
        const batch = self.items.splice(0);
        await sleep(20);
        drained.push(batch);
        running--;
      },
    });
    q.push(1);
    const first = q.flush();
    q.push(2);
    await Promise.all([first, q.flush(), q.flush()]);
    expect(most).toBe(1);
    expect(drained).toEqual([[1], [2]]);
  });

  it('tries again after retryMs when a drain leaves items behind', async () => {
    let attempts = 0;
    const done: number[] = [];
    const { q } = queue({
      drain: async (self) => {
        if (++attempts < 3) return; // the destination is down: everything stays queued
        done.push(...self.items.splice(0));
      },
    });
    q.push(7);
    await until(() => done.length > 0);
    expect(attempts).toBe(3);
    expect(done).toEqual([7]);
  });

  it('on close: no more timers, one last drain, the rest dropped and logged', async () => {
    let attempts = 0;
    const { q, warnings } = queue({
      drain: async () => {
        attempts++;
      },
    });
    q.push(1);
    q.push(2);
    await q.close();
    expect(attempts).toBe(1);
    expect(q.dropped).toBe(2);
    expect(q.items).toEqual([]);
    expect(warnings).toEqual(['sessiontrack: writes dropped at shutdown']);
    q.push(3); // after close: queued, but no timer drains it
    await sleep(30);
    expect(attempts).toBe(1);
  });
});
