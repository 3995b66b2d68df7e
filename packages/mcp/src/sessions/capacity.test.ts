import { describe, expect, it } from 'vitest';
import { Capacity } from './capacity.js';

describe('Capacity', () => {
  it('counts what is held and what is being built against the one limit', async () => {
    let held = 1;
    const c = new Capacity(3, () => held);
    expect(c.hasRoom()).toBe(true);
    let finish: (v: string) => void = () => {};
    const building = c.holding(() => new Promise<string>((r) => (finish = r)));
    expect(c.hasRoom()).toBe(true); // 1 held + 1 building < 3
    held = 2;
    expect(c.hasRoom()).toBe(false); // 2 + 1: full while the build runs
    finish('built');
    expect(await building).toBe('built');
    expect(c.hasRoom()).toBe(true);
  });

  it('gives the place back when a build fails', async () => {
    const c = new Capacity(1, () => 0);
    await expect(c.holding(() => Promise.reject(new Error('refused')))).rejects.toThrow('refused');
    expect(c.hasRoom()).toBe(true);
    const never = c.holding(() => new Promise(() => {}));
    expect(c.hasRoom()).toBe(false);
    void never;
  });
});
