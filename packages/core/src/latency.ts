// Tool-call latency as a mergeable summary (docs/metrics.md, "Tool latency"): a log-scale
// histogram per tool whose buckets are the same everywhere, so a session's, a day's and a range's
// histograms are sums of counts — the maintained aggregates keep them like any other count, and a
// percentile costs the tool's occupied buckets, never its calls.
//
// Bucket i holds the durations in (γ^(i−1), γ^i] ms with γ = 2^(1/8) (8 buckets per doubling). A
// percentile answers the bucket's value 2γ^i / (γ + 1), which is within (γ − 1) / (γ + 1) ≈ 4.3 %
// of every duration in the bucket, so of the exact percentile (nearest rank) too.

/** Buckets per doubling of the duration. */
const PER_DOUBLING = 8;
const GAMMA = 2 ** (1 / PER_DOUBLING);
/** The relative error of a percentile: (γ − 1) / (γ + 1). */
export const LATENCY_RELATIVE_ERROR = (GAMMA - 1) / (GAMMA + 1);
/** Durations are clamped to [1 µs, ~28 h]: the MCP integration measures in µs. */
const MIN_MS = 0.001;
const MAX_MS = 1e8;

/** The bucket of a duration in ms (a finite number ≥ 0), or null when it is not one. */
export function latencyBucket(ms: unknown): number | null {
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) return null;
  const x = Math.min(Math.max(ms, MIN_MS), MAX_MS);
  // A duration that is an exact power of γ belongs to the bucket it closes; the epsilon keeps
  // floating point from pushing 2^k into the next one.
  return Math.ceil(Math.log2(x) * PER_DOUBLING - 1e-9) + 0; // + 0: never -0
}

/** The value a bucket answers for: within LATENCY_RELATIVE_ERROR of anything in it. */
export function latencyBucketValue(i: number): number {
  return (2 * GAMMA ** i) / (GAMMA + 1);
}

/**
 * The q-quantile (0 < q ≤ 1, nearest rank: the smallest duration with at least q of the calls at
 * or below it) of a histogram given as bucket → calls; null for an empty one. Rounded to 0.01 ms.
 */
export function latencyPercentile(hist: ReadonlyMap<number, number>, q: number): number | null {
  let total = 0;
  for (const n of hist.values()) if (n > 0) total += n;
  if (total === 0) return null;
  const rank = Math.max(1, Math.ceil(q * total - 1e-9));
  let seen = 0;
  for (const i of [...hist.keys()].sort((a, b) => a - b)) {
    const n = hist.get(i) ?? 0;
    if (n <= 0) continue;
    seen += n;
    if (seen >= rank) return Math.round(latencyBucketValue(i) * 100) / 100;
  }
  return null;
}
