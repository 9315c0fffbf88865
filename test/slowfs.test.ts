/**
 * Issue 14, "Never block the event loop": the JavaScript thread never waits for a file
 * server or a device. A FUSE file system whose reads take 5 ms each (test/support/slowfs.py)
 * and cold buffered reads from the disk show whether a backend sleeps inside its submitting
 * system call: a 1 ms interval timer keeps firing on a backend that does not, and stalls for
 * the whole batch on one that does. The same mount shows EIO, short reads and a read that
 * never answers arriving as they should.
 *
 * The gap is judged on a typical round, the median of several: on a 2-core machine shared
 * with the daemon, the scheduler now and then keeps the JavaScript thread off a core for a
 * few milliseconds at random, while a backend that reads inline stalls in every round (64
 * reads × 5 ms ≈ 320 ms). Reads go into buffers allocated once, so the rounds measure
 * waiting for the file system, not allocating and freeing 8 MiB of results.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { accessSync, closeSync, constants, fsyncSync, openSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { allocAligned, Context, open as openFile, type BackendName } from "../src/index.ts";
import { backends, isRoot, reportSkip, tempDir } from "./helpers.ts";
import {
  indexedBytes,
  MiB,
  mountSlowFs,
  SHORT_READ,
  SLOW_FILE_SIZE,
  slowFsUnavailable,
  unmountLeftovers,
} from "./support/slowfs.ts";
import { underTicker } from "./support/ticker.ts";

/** The issue's bound: no timer callback waits as long as one 5 ms read. */
const MAX_GAP_MS = 5;
const READ_SIZE = 128 * 1024;
const READS_IN_FLIGHT = 64;
const ROUNDS = 7;
const ATTEMPTS = 3;
/** An abort must reject long before the read could answer (the hang's safety net). */
const ABORT_WITHIN_MS = 200;
const HANG_LIMIT_MS = 1500;
const CLOSE_AFTER_RELEASE_WITHIN_MS = 1000;

if (slowFsUnavailable) console.log(`[skip] slowfs tests: ${slowFsUnavailable}`);
else unmountLeftovers();

/** Fills buffers[i] from offsets[i], all issued in one tick. */
function readAllInto(ctx: Context, fd: number, buffers: Buffer[], offsets: number[]): Promise<number[]> {
  return Promise.all(offsets.map((offset, i) => ctx.readInto(buffers[i]!, fd, offset)));
}

/** Offsets whose read is not the file's bytes there (wrong length or contents). */
function wrongReads(results: Buffer[], offsets: number[]): number[] {
  return offsets.filter((offset, i) => !results[i]!.equals(indexedBytes(offset, results[i]!.length)));
}

/** A read-only descriptor that closes itself. */
function openOn(path: string): { fd: number } & Disposable {
  const fd = openSync(path, "r");
  return { fd, [Symbol.dispose]: () => closeSync(fd) };
}

function median(values: number[]): number {
  return [...values].sort((a, b) => a - b)[values.length >> 1]!;
}

const ms = (values: number[]) => values.map((v) => v.toFixed(1)).join(" ");

interface Rounds {
  offsetsOf: (round: number) => number[];
  readSize: number;
  /** Runs before each round, outside the timed window (dropping the page cache, for one). */
  beforeRound?: () => void;
}

/**
 * Up to ATTEMPTS measurements of ROUNDS rounds each, stopping at the first whose median
 * gap is under MAX_GAP_MS. On 2 cores shared with the FUSE daemon (and, in development,
 * other work) an unrelated stall can push one attempt over; a backend that blocks fails
 * every attempt, by 20-350 ms here. Each attempt is printed.
 */
async function bestOfAttempts(
  label: string,
  measure: () => Promise<{ gaps: number[]; totals: number[]; wrong: number[] }>,
): Promise<{ medianGap: number; wrong: number[] }> {
  let best = Infinity;
  const wrong: number[] = [];
  for (let attempt = 1; attempt <= ATTEMPTS && best >= MAX_GAP_MS; attempt++) {
    const { gaps, totals, wrong: bad } = await measure();
    wrong.push(...bad);
    best = Math.min(best, median(gaps));
    console.log(`${label}, attempt ${attempt}: median max gap ${median(gaps).toFixed(1)} ms (rounds: ${ms(gaps)}), round time ${ms(totals)} ms`);
  }
  return { medianGap: best, wrong };
}

/** ROUNDS batches of reads under the ticker; afterwards, the offsets whose read was short or wrong. */
async function timedRounds(
  ctx: Context,
  fd: number,
  { offsetsOf, readSize, beforeRound = () => {} }: Rounds,
): Promise<{ gaps: number[]; totals: number[]; wrong: number[] }> {
  const buffers = offsetsOf(0).map(() => allocAligned(readSize));
  const gaps: number[] = [];
  const totals: number[] = [];
  const wrong: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const offsets = offsetsOf(round);
    beforeRound();
    const timed = await underTicker(() => readAllInto(ctx, fd, buffers, offsets));
    gaps.push(timed.maxGapMs);
    totals.push(timed.totalMs);
    const counts = timed.value;
    wrong.push(...offsets.filter((offset, i) => counts[i] !== readSize || !buffers[i]!.equals(indexedBytes(offset, readSize))));
  }
  return { gaps, totals, wrong };
}

describe.each(backends.map((b) => [b.name, b] as const))("%s backend on a slow FUSE file system", (name, backend) => {
  reportSkip(backend);
  const runs = backend.available && !slowFsUnavailable;
  const open = () => new Context({ backend: name as BackendName });

  test.skipIf(!runs)(
    `while ${READS_IN_FLIGHT} reads of a 5 ms-per-read FUSE file are in flight, the longest gap between 1 ms timer callbacks stays under ${MAX_GAP_MS} ms (median of ${ROUNDS} rounds, best of ${ATTEMPTS} attempts)`,
    async () => {
      await using fs = await mountSlowFs({ delayMs: 5 });
      await using ctx = open();
      using file = openOn(join(fs.dir, "slow"));
      // Alternate halves of the 16 MiB file: every offset in a round distinct, nothing cached (direct_io).
      const halves = SLOW_FILE_SIZE / (READS_IN_FLIGHT * READ_SIZE);
      const offsetsOf = (round: number) =>
        Array.from({ length: READS_IN_FLIGHT }, (_, i) => ((round % halves) * READS_IN_FLIGHT + i) * READ_SIZE);
      // One untimed batch first: the daemon's and the backend's threads start, the code paths warm up.
      const warmUp = offsetsOf(0).map(() => allocAligned(READ_SIZE));
      await readAllInto(ctx, file.fd, warmUp, offsetsOf(0));
      expect(wrongReads(warmUp, offsetsOf(0))).toEqual([]);

      const { medianGap, wrong } = await bestOfAttempts(
        `[slowfs] ${name}: ${READS_IN_FLIGHT} × 128 KiB reads at 5 ms each, ${ROUNDS} rounds`,
        () => timedRounds(ctx, file.fd, { offsetsOf, readSize: READ_SIZE }),
      );
      expect(wrong).toEqual([]);
      expect(medianGap).toBeLessThan(MAX_GAP_MS);
    },
  );

  test.skipIf(!runs)("EIO from the file system arrives as a system error with code, errno and syscall", async () => {
    await using fs = await mountSlowFs();
    await using ctx = open();
    using file = openOn(join(fs.dir, "eio"));
    const error = await ctx.read(READ_SIZE, file.fd, 0).catch((e: Error) => e);
    expect(error).toMatchObject({ code: "EIO", errno: -5, syscall: "read" });
    expect((error as Error).message).toStartWith("EIO: ");
  });

  // The file system answers at most 1000 bytes a call. io_uring may read on (it retries a short
  // read of a regular file), so the length can be longer; every byte returned must be the file's.
  test.skipIf(!runs)("a short read returns the bytes the file system gave and nothing else, never stale ones", async () => {
    await using fs = await mountSlowFs();
    await using ctx = open();
    using file = openOn(join(fs.dir, "short"));
    const offsets = [0, 4096, 12_345, 512 * 1024];
    const results = await Promise.all(offsets.map((offset) => ctx.read(READ_SIZE, file.fd, offset)));
    const lengths = results.map((r) => r.length);
    console.log(`[slowfs] ${name}: 128 KiB reads of a file system answering 1000 bytes a call returned ${lengths.join(", ")} bytes`);
    for (const length of lengths) expect(length).toBeWithin(SHORT_READ, READ_SIZE);
    expect(wrongReads(results, offsets)).toEqual([]);

    const stale = Buffer.alloc(READ_SIZE, 0xaa);
    const count = await ctx.readInto(stale, file.fd, 8192);
    expect(count).toBeWithin(SHORT_READ, READ_SIZE);
    expect(stale.subarray(0, count).equals(indexedBytes(8192, count))).toBe(true);
    expect(stale.subarray(count).every((b) => b === 0xaa)).toBe(true);
  });

  // A backend keeps what it learnt about a File's descriptor until caio closes it (OP_F_OWNED).
  // The number then comes back for a File on FUSE: it must be looked at afresh, or uring would
  // read the FUSE file on the ring (blocking, and wrong bytes for a short read).
  test.skipIf(!runs)("a File's descriptor number reused by a File on FUSE is looked at afresh: short reads stay exact", async () => {
    await using fs = await mountSlowFs();
    await using ctx = open();
    using dir = tempDir();
    const localPath = join(dir, "local");
    writeFileSync(localPath, indexedBytes(0, 64 * 1024));
    const local = await openFile(localPath, "r", { context: ctx });
    const localBytes = Buffer.alloc(4096);
    expect(await local.readInto(localBytes, 0)).toBe(4096);
    const reused = local.fd;
    await local.close();
    // The kernel gives the lowest free number, and a descriptor closed elsewhere in the process meanwhile
    // (a collected File of an earlier test) may be lower: the Files holding those stay open until the number comes back.
    const fillers: Awaited<ReturnType<typeof openFile>>[] = [];
    let remote = await openFile(join(fs.dir, "short"), "r", { context: ctx });
    while (remote.fd !== reused && remote.fd < reused && fillers.length < 64) {
      fillers.push(remote);
      remote = await openFile(join(fs.dir, "short"), "r", { context: ctx });
    }
    try {
      expect(remote.fd).toBe(reused);
      const stale = Buffer.alloc(READ_SIZE, 0xaa);
      const count = await remote.readInto(stale, 8192);
      expect(count).toBeWithin(SHORT_READ, READ_SIZE);
      expect(stale.subarray(0, count).equals(indexedBytes(8192, count))).toBe(true);
    } finally {
      for (const file of [remote, ...fillers]) await file.close();
    }
  });

  // readFile on a mounted FUSE file system: uring leaves its chains for the pool while one is
  // mounted (the ring returns wrong bytes for a short FUSE read), and every backend reads a
  // file system answering 1000 bytes a call to its end.
  test.skipIf(!runs)("readFile of FUSE files: whole and exact when every read is short, EIO as a read error, ENOENT from open", async () => {
    await using fs = await mountSlowFs();
    await using ctx = open();
    const whole = (await ctx.readFile(join(fs.dir, "short"))) as Buffer;
    expect({ length: whole.length, exact: whole.equals(indexedBytes(0, MiB)) }).toEqual({ length: MiB, exact: true });
    const failed = await ctx.readFile(join(fs.dir, "eio")).catch((e: Error) => e);
    expect(failed).toMatchObject({ code: "EIO", syscall: "read" });
    const missing = await ctx.readFile(join(fs.dir, "none")).catch((e: Error) => e);
    expect(missing).toMatchObject({ code: "ENOENT", syscall: "open" });
  });

  test.skipIf(!runs)(
    "a read that never answers rejects with AbortError as soon as it is aborted; close() settles once the file system answers",
    async () => {
      await using fs = await mountSlowFs({ hangLimitMs: HANG_LIMIT_MS });
      const ctx = open();
      try {
        using file = openOn(join(fs.dir, "hang"));
        const controller = new AbortController();
        const started = performance.now();
        const read = ctx.read(4096, file.fd, 0, { signal: controller.signal });
        setTimeout(() => controller.abort(), 10); // a later macrotask: the read has been submitted by then
        const outcome = await read.then(
          (bytes) => ({ resolvedWith: bytes.length }),
          (error: Error) => ({ rejectedWith: error.name }),
        );
        const abortMs = performance.now() - started;
        let closed = false;
        const closing = ctx.close().then(() => (closed = true));
        await Promise.resolve();
        const closedBeforeAnswer = closed;
        const released = performance.now();
        fs.release();
        await closing;
        const closeMs = performance.now() - released;
        console.log(
          `[slowfs] ${name}: hung read ${JSON.stringify(outcome)} after ${abortMs.toFixed(1)} ms; ` +
            `close() ${closedBeforeAnswer ? "settled before" : `settled ${closeMs.toFixed(1)} ms after`} the file system answered`,
        );
        expect(outcome).toEqual({ rejectedWith: "AbortError" });
        expect(abortMs).toBeLessThan(ABORT_WITHIN_MS);
        expect(closeMs).toBeLessThan(CLOSE_AFTER_RELEASE_WITHIN_MS);
      } finally {
        fs.release();
        await ctx.close();
      }
    },
  );
});

/** Why the page cache cannot be dropped here, or undefined when it can. */
function cannotDropPageCache(): string | undefined {
  if (!isRoot()) return "dropping the page cache needs root";
  try {
    accessSync("/proc/sys/vm/drop_caches", constants.W_OK);
    return undefined;
  } catch (error) {
    return `/proc/sys/vm/drop_caches is not writable (${(error as NodeJS.ErrnoException).code})`;
  }
}
const noColdCache = cannotDropPageCache();
if (noColdCache) console.log(`[skip] cold page cache tests: ${noColdCache}`);

describe.skipIf(noColdCache !== undefined)("cold page cache on the repository's disk", () => {
  const FILE_SIZE = 128 * MiB;
  const COLD_READS = 32;
  /**
   * 1 MiB: this machine's disk answers a 128 KiB miss in about 0.25 ms (the host caches it),
   * so a batch read inline would stall the loop for only ~8 ms, too close to the bound to tell.
   */
  const COLD_READ_SIZE = MiB;
  /** 4 MiB apart: a 1 MiB miss reads ahead to 2 MiB, so no read warms another. */
  const offsets = Array.from({ length: COLD_READS }, (_, i) => i * (FILE_SIZE / COLD_READS));
  const dropPageCache = () => writeFileSync("/proc/sys/vm/drop_caches", "1");
  let dir: string & Disposable;
  let path: string;

  beforeAll(() => {
    dir = tempDir();
    path = join(dir, "cold");
    const fd = openSync(path, "w");
    for (let at = 0; at < FILE_SIZE; at += 4 * MiB) writeSync(fd, indexedBytes(at, 4 * MiB), 0, 4 * MiB, at);
    fsyncSync(fd); // only clean pages are dropped
    closeSync(fd);
  });
  afterAll(() => dir?.[Symbol.dispose]());

  describe.each(backends.map((b) => [b.name, b] as const))("%s backend", (name, backend) => {
    test.skipIf(!backend.available)(
      `${COLD_READS} cold buffered 1 MiB reads in flight: the longest gap between 1 ms timer callbacks stays under ${MAX_GAP_MS} ms (median of ${ROUNDS} rounds, best of ${ATTEMPTS} attempts)`,
      async () => {
        await using ctx = new Context({ backend: name as BackendName });
        using file = openOn(path);
        // The same reads from the page cache first: threads start and code paths warm up outside the timed window.
        const warmUp = offsets.map(() => allocAligned(COLD_READ_SIZE));
        await readAllInto(ctx, file.fd, warmUp, offsets);
        expect(wrongReads(warmUp, offsets)).toEqual([]);

        const rounds = { offsetsOf: () => offsets, readSize: COLD_READ_SIZE, beforeRound: dropPageCache };
        const { medianGap, wrong } = await bestOfAttempts(
          `[cold] ${name}: ${COLD_READS} × 1 MiB after drop_caches, ${ROUNDS} rounds`,
          () => timedRounds(ctx, file.fd, rounds),
        );
        expect(wrong).toEqual([]);
        expect(medianGap).toBeLessThan(MAX_GAP_MS);
      },
    );
  });
});
