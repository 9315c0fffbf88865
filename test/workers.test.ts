/**
 * Bun Workers terminated while their operations are in flight. terminate() frees the
 * Worker's JavaScript heap with no hook caio could run first, while the kernel or a
 * pool thread still writes into the memory of its reads. Before caio's memory was
 * native (c/memory.c), that memory was the Worker's ArrayBuffers, and this crashed
 * Bun ("Segmentation fault at address 0x8") in most runs of the thread backend.
 *
 * The termination runs happen in a child process (test/fixtures/worker-terminate.ts),
 * so a crash fails one test rather than taking the runner down.
 */
import { describe, expect, test } from "bun:test";
import { constants, closeSync, openSync } from "node:fs";
import { join } from "node:path";
import { addressOf, nativeMemoryCache, nativeMemoryCounts } from "../src/bounce.ts";
import { allocAligned, Context, type BackendName } from "../src/index.ts";
import { backends, recordBytes, repoRoot, reportSkip, tempDir, tempFile } from "./helpers.ts";

const TERMINATE = join(repoRoot, "test", "fixtures", "worker-terminate.ts");
const ALLOC = join(repoRoot, "test", "fixtures", "worker-alloc.ts");
const WORKERS = 20;
const ROUNDS = 5;
const READS = 256;
/** A loaded machine makes 100 Worker start-ups slow: a hang is still killed, but not a slow pass. */
const CHILD_TIMEOUT_MS = 150_000;

interface TerminateResult {
  backend: BackendName;
  inFlightAtTerminate: number;
  before: { threads: number; descriptors: number };
  after: { threads: number; descriptors: number };
  memory: { blocks: number; bytes: number; holds: number; wrapped: number };
}

interface ChildRun {
  /** null when the child was killed (a hang) */
  exitCode: number | null;
  /** The signal that ended it: SIGSEGV, SIGABRT, or SIGTERM after CHILD_TIMEOUT_MS. */
  signal: string | null;
  stderr: string;
  result: TerminateResult | undefined;
}

async function terminateWorkers(backend: BackendName): Promise<ChildRun> {
  using dir = tempDir();
  const child = Bun.spawn([process.execPath, TERMINATE], {
    stdout: "pipe",
    stderr: "pipe",
    timeout: CHILD_TIMEOUT_MS,
    env: {
      ...process.env,
      CAIO_IMPL: backend,
      CAIO_WORKERS_DIR: dir,
      CAIO_WORKERS_COUNT: String(WORKERS),
      CAIO_WORKERS_ROUNDS: String(ROUNDS),
      CAIO_WORKER_READS: String(READS),
      // One pool thread per Worker: its reads finish long after the Worker is gone.
      CAIO_WORKER_THREADS: "1",
    },
  });
  const [exitCode, stdout, stderr] = await Promise.all([child.exited, new Response(child.stdout).text(), new Response(child.stderr).text()]);
  const line = stdout.split("\n").find((l) => l.startsWith("WORKERS_RESULT "));
  const result = line ? (JSON.parse(line.slice("WORKERS_RESULT ".length)) as TerminateResult) : undefined;
  return { exitCode: child.signalCode ? null : exitCode, signal: child.signalCode ? String(child.signalCode) : null, stderr, result };
}

/** The panic line of a crashed Bun, if any ("panic: Segmentation fault at address 0x8"). */
function panicOf(stderr: string): string | undefined {
  return stderr.split("\n").find((line) => line.includes("panic"));
}

const nativeBackends = backends.filter((b) => b.name !== "js");

describe.each(nativeBackends.map((b) => [b.name, b] as const))("%s backend: Workers terminated with reads in flight", (name, backend) => {
  reportSkip(backend);
  const it = test.skipIf(!backend.available);
  let run: Promise<ChildRun> | undefined;
  const once = () => (run ??= terminateWorkers(name as BackendName));

  it(
    `${WORKERS} Workers × ${ROUNDS} rounds, each terminated with ${READS} O_DIRECT reads in flight (allocAligned, plain buffers, read()): the process survives`,
    async () => {
      const { exitCode, signal, stderr, result } = await once();
      expect({ exitCode, signal, panic: panicOf(stderr) }).toEqual({ exitCode: 0, signal: null, panic: undefined });
      // Not vacuous: the Workers really were terminated with reads in flight.
      expect(result!.inFlightAtTerminate).toBeGreaterThan(0);
      console.log(`[workers] ${name}: ${result!.inFlightAtTerminate} reads in flight at termination; native memory left: ${JSON.stringify(result!.memory)}`);
    },
    CHILD_TIMEOUT_MS + 30_000,
  );

  it(
    "no caio thread or descriptor outlives the terminated Workers (their orphaned contexts close once their reads complete)",
    async () => {
      const { exitCode, result } = await once();
      expect(exitCode).toBe(0);
      expect(result!.after).toEqual(result!.before);
    },
    CHILD_TIMEOUT_MS + 30_000,
  );

  // The backends hold each flagged op's block from submit until the op is done or drained
  // (CAIO_OP_F_NATIVE, c/memory.h), so the orphaned contexts' close releases the blocks of
  // the reads in flight at termination.
  it(
    `${name}: no native block outlives the terminated Workers`,
    async () => {
      const { exitCode, result } = await once();
      expect(exitCode).toBe(0);
      expect(result!.memory).toEqual({ blocks: 0, bytes: 0, holds: 0, wrapped: 0 });
    },
    CHILD_TIMEOUT_MS + 30_000,
  );

  it("a buffer transferred while its read is in flight: the read lands in the moved memory, which is then copied through, never used in place", async () => {
    const data = recordBytes(1024);
    using file = tempFile(data);
    const fd = openSync(file.path, constants.O_RDONLY | constants.O_DIRECT);
    try {
      await using ctx = new Context({ backend: name as BackendName });
      const buffer = allocAligned(4096);
      const read = ctx.readInto(buffer, fd, 4096);
      await Promise.resolve(); // flushed: submitted, maybe completed
      const moved = new Uint8Array((buffer.buffer as ArrayBuffer).transfer());
      expect(buffer.length).toBe(0);
      expect(await read).toBe(4096);
      expect(Buffer.from(moved).equals(data.subarray(4096, 8192))).toBe(true);
      const bounced = ctx.stats.bounced;
      expect(await ctx.readInto(moved, fd, 0)).toBe(4096);
      expect(ctx.stats.bounced).toBe(bounced + 1);
      expect(Buffer.from(moved).equals(data.subarray(0, 4096))).toBe(true);
    } finally {
      closeSync(fd);
    }
  });
});

describe("caio's native memory", () => {
  const counts = () => nativeMemoryCounts()!;

  test.skipIf(nativeMemoryCounts() === undefined)(
    "is freed when the GC collects its buffers, and when the Worker that holds them is terminated",
    async () => {
      Bun.gc(true);
      const base = counts();
      let buffers: Buffer[] = Array.from({ length: 100 }, () => allocAligned(4096));
      expect(counts()).toEqual({ ...base, blocks: base.blocks + 100, bytes: base.bytes + 100 * 4096, wrapped: base.wrapped + 100 });
      buffers = [];
      Bun.gc(true);
      expect({ kept: buffers.length, counts: counts() }).toEqual({ kept: 0, counts: base });

      const worker = new Worker(ALLOC, { workerData: { count: 100 } } as WorkerOptions);
      const closed = new Promise<void>((resolve) => worker.addEventListener("close", () => resolve()));
      expect(await new Promise((resolve) => worker.addEventListener("message", (event) => resolve(event.data)))).toBe(100);
      expect(counts().blocks).toBe(base.blocks + 100);
      worker.terminate();
      await closed;
      expect(counts()).toEqual(base);
    },
  );

  test.skipIf(nativeMemoryCounts() === undefined)(
    "a collected mapping is cached, not live, and reused by the next block of its size; the cache stays bounded",
    () => {
      Bun.gc(true);
      const base = counts();
      let block: Buffer | null = allocAligned(128 * 1024);
      const address = addressOf(block);
      block = null;
      Bun.gc(true);
      const cached = nativeMemoryCache()!;
      expect(counts()).toEqual(base);
      expect(cached.blocks).toBeGreaterThan(0);
      const again = allocAligned(128 * 1024);
      expect({ reused: addressOf(again) === address, cached: nativeMemoryCache()!.blocks }).toEqual({ reused: true, cached: cached.blocks - 1 });

      let many: Buffer[] = Array.from({ length: 300 }, () => allocAligned(1 << 20));
      many = [];
      Bun.gc(true);
      const after = nativeMemoryCache()!;
      expect({ kept: many.length, live: counts().blocks }).toEqual({ kept: 0, live: base.blocks + 1 });
      expect(after.blocks).toBeLessThan(300);
      expect(after.bytes).toBeLessThanOrEqual(64 << 20);
    },
  );
});
