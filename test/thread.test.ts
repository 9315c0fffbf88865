/**
 * The thread backend's own promises: the pool has the size asked for, close()
 * settles everything queued and joins every worker, workers never outlive it.
 */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { Context } from "../src/index.ts";
import { backends, namedThreads, namedThreadsAfterJoin, recordBytes, record, reportSkip, tempFile } from "./helpers.ts";

const thread = backends.find((b) => b.name === "thread")!;
reportSkip(thread);
const it = test.skipIf(!thread.available);

/** The pool's workers in this process, found by the name they give themselves. */
const poolWorkers = () => namedThreads("caio-pool");
const poolWorkersAfterJoin = (expected: number) => namedThreadsAfterJoin("caio-pool", expected);

describe("thread backend", () => {
  it("starts exactly `threads` workers and joins them all in close()", async () => {
    const before = poolWorkers();
    const ctx = new Context({ backend: "thread", threads: 3 });
    expect(poolWorkers() - before).toBe(3);
    using file = tempFile(recordBytes(4));
    expect((await ctx.read(16, file.fd, 16)).toString()).toBe(record(1));
    await ctx.close();
    expect(await poolWorkersAfterJoin(before)).toBe(before);
  });

  it("close() with 10,000 operations queued settles every promise and stops every worker", async () => {
    const baseline = poolWorkers();
    using file = tempFile();
    const ctx = new Context({ backend: "thread", threads: 2, maxRequests: 64 });
    const writes = Array.from({ length: 10_000 }, (_, i) => ctx.write(record(i), file.fd, i * 16));
    const closed = ctx.close();
    const late = ctx.write("late", file.fd, 0).catch((error) => error.code);
    const settled = await Promise.allSettled(writes);
    await closed;
    expect(settled.filter((r) => r.status === "fulfilled" && r.value === 16)).toHaveLength(10_000);
    expect(await late).toBe("ERR_CONTEXT_CLOSED");
    expect(ctx.stats).toMatchObject({ submitted: 10_000, completed: 10_000, inFlight: 0, queued: 0 });
    expect(readFileSync(file.path).equals(recordBytes(10_000))).toBe(true);
    expect(await poolWorkersAfterJoin(baseline)).toBe(baseline);
  });

  it("a default pool is sized for the machine and capped by maxRequests", async () => {
    const before = poolWorkers();
    await using small = new Context({ backend: "thread", maxRequests: 2 });
    expect(poolWorkers() - before).toBe(2);
    await using large = new Context({ backend: "thread", maxRequests: 4096 });
    expect(poolWorkers() - before - 2).toBe(Math.min(64, Math.max(4, 2 * availableParallelism())));
  });
});
