/**
 * Cached reads complete inside the submitting call, so a caller that awaits them one
 * after another runs on microtasks alone. The scheduler hands the event loop a turn at
 * least every couple of milliseconds all the same: timers (and sockets, and other
 * callbacks) keep being served while such a loop runs.
 */
import { describe, expect, test } from "bun:test";
import { allocAligned, Context } from "../src/index.ts";
import { backends, reportSkip, tempFile } from "./helpers.ts";
import { underTicker } from "./support/ticker.ts";

const LOOP_MS = 150;
/** Generous against a loaded 2-core machine; a loop that never yields shows its whole run, 150 ms. */
const MAX_GAP_MS = 40;

/** Awaits one 4 KiB read after another for `ms`; returns how many completed. */
async function tightLoop(ctx: Context, fd: number, ms: number): Promise<number> {
  const buffer = allocAligned(4096);
  const end = performance.now() + ms;
  let reads = 0;
  while (performance.now() < end) {
    await ctx.readInto(buffer, fd, (reads % 16) * 4096);
    reads++;
  }
  return reads;
}

describe.each(backends.map((b) => [b.name, b] as const))("%s backend: event-loop turns", (name, backend) => {
  reportSkip(backend);
  const it = test.skipIf(!backend.available);

  it(`a loop awaiting cached reads one by one for ${LOOP_MS} ms still lets a 1 ms timer run (longest gap under ${MAX_GAP_MS} ms)`, async () => {
    using file = tempFile(Buffer.alloc(16 * 4096, 1));
    await using ctx = new Context({ backend: name });
    await tightLoop(ctx, file.fd, 20); // warm-up: JIT, first flushes
    const timed = await underTicker(() => tightLoop(ctx, file.fd, LOOP_MS));
    console.log(`[turns] ${name}: ${timed.value} reads in ${timed.totalMs.toFixed(0)} ms, longest timer gap ${timed.maxGapMs.toFixed(1)} ms`);
    expect(timed.value).toBeGreaterThan(0);
    expect(timed.maxGapMs).toBeLessThan(MAX_GAP_MS);
  });
});
