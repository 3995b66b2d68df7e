import { describe, expect, it } from 'vitest';
import { LATENCY_RELATIVE_ERROR, latencyBucket, latencyBucketValue, latencyPercentile } from './latency.js';

describe('latency histogram', () => {
  it('puts every duration within the relative error of its bucket value', () => {
    expect(LATENCY_RELATIVE_ERROR).toBeCloseTo(0.0433, 4);
    for (let ms = 0.001; ms < 1e7; ms *= 1.037) {
      const v = latencyBucketValue(latencyBucket(ms) as number);
      expect(Math.abs(v - ms) / ms).toBeLessThanOrEqual(LATENCY_RELATIVE_ERROR + 1e-12);
    }
    // Powers of two close their bucket (floating point must not push them into the next one).
    expect(latencyBucket(1)).toBe(0);
    expect(latencyBucket(1024)).toBe(80);
    expect(latencyBucket(0)).toBe(latencyBucket(0.001));
    for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY, '5', null, undefined])
      expect(latencyBucket(bad)).toBeNull();
  });

  it('answers the nearest-rank percentile of a merged histogram', () => {
    const hist = new Map<number, number>();
    const add = (ms: number, n = 1) => {
      const b = latencyBucket(ms) as number;
      hist.set(b, (hist.get(b) ?? 0) + n);
    };
    add(10, 9);
    add(1000, 1);
    expect(latencyPercentile(hist, 0.5)).toBeCloseTo(latencyBucketValue(latencyBucket(10) as number), 2);
    // 9 of 10 at 10 ms: the 90th percentile is still 10 ms, the 95th is the slow call.
    expect(latencyPercentile(hist, 0.9)).toBeCloseTo(latencyBucketValue(latencyBucket(10) as number), 2);
    expect(Math.abs((latencyPercentile(hist, 0.95) as number) - 1000) / 1000).toBeLessThanOrEqual(
      LATENCY_RELATIVE_ERROR,
    );
    expect(latencyPercentile(new Map(), 0.5)).toBeNull();
  });
});
