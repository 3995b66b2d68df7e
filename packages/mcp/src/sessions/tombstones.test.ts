import { describe, expect, it } from 'vitest';
import { Tombstones } from './tombstones.js';

describe('Tombstones', () => {
  it('remembers why an id ended, keeps at most `max` (the oldest go first), and re-burying makes an id young', () => {
    const t = new Tombstones(2, 1000);
    t.bury('a', 'logout', 1);
    t.bury('b', 'expired', 2);
    t.bury('a', 'unrecoverable', 3); // a is now the youngest
    t.bury('c', 'expired', 4);
    expect(t.has('b')).toBe(false);
    expect(t.get('a')).toEqual({ reason: 'unrecoverable', at: 3 });
    expect(t.get('c')).toEqual({ reason: 'expired', at: 4 });
    expect(t.size).toBe(2);
  });

  it('forgets ids older than the TTL, and only those', () => {
    const t = new Tombstones(10, 1000);
    t.bury('old', 'logout', 0);
    t.bury('edge', 'logout', 500);
    t.bury('young', 'logout', 900);
    t.prune(1500);
    expect([t.has('old'), t.has('edge'), t.has('young')]).toEqual([false, false, true]);
    t.prune(1899);
    expect(t.has('young')).toBe(true);
  });
});
