/** The few statistics the benchmarks report: medians across runs, latency percentiles within a run. */

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Nearest-rank percentile (0 < p <= 1) of ascending values: always a value that was observed. */
function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
}

export interface Latency {
  p50: number;
  p99: number;
}

/** p50 and p99 of one run's per-operation latencies, in the unit they were recorded in. */
export function latencySummary(samples: readonly number[]): Latency {
  // A typed array sorts numerically and much faster than number[] for millions of samples.
  const sorted = Float64Array.from(samples).sort();
  return { p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99) };
}
