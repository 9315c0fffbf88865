/**
 * How long the event loop goes without serving a timer while some work runs. A 1 ms
 * interval timer is the cheapest callback the loop has to serve, so the longest wait between
 * two of its callbacks is the longest time the JavaScript thread was busy or blocked (in a
 * system call that sleeps on a file server, say). Shared by test/slowfs.test.ts and the
 * benchmark's FUSE gap workload (bench/workloads/slowfs-gap.ts).
 */

export interface Timed<T> {
  value: T;
  /** Longest wait between two callbacks of a 1 ms interval timer while `work` ran. */
  maxGapMs: number;
  totalMs: number;
}

/** Runs `work` under a 1 ms interval timer and reports how long the event loop went without serving it. */
export async function underTicker<T>(work: () => Promise<T>): Promise<Timed<T>> {
  const started = performance.now();
  let last = started;
  let maxGapMs = 0;
  const ticker = setInterval(() => {
    const now = performance.now();
    maxGapMs = Math.max(maxGapMs, now - last);
    last = now;
  }, 1);
  try {
    const value = await work();
    // The stretch since the last callback counts too: work that never let the timer fire has one gap, its whole run.
    const now = performance.now();
    return { value, maxGapMs: Math.max(maxGapMs, now - last), totalMs: now - started };
  } finally {
    clearInterval(ticker);
  }
}
