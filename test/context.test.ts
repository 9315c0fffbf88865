/** The shared suite: every behaviour of Context, run once per backend. */
import { describe, expect, test } from "bun:test";
import { closeSync, fstatSync, openSync, readFileSync } from "node:fs";
import { Context, type BackendName } from "../src/index.ts";
import { backends, record, recordBytes, reportSkip, tempFile, unusedFd } from "./helpers.ts";

const IOPRIO_CLASS_BE = 2;
/**
 * Backends whose page-cache hits complete inside the submitting call; thread and js complete
 * later, and so does linux, whose buffered reads go to its thread pool.
 */
const COMPLETES_INLINE = new Set(["uring"]);

describe.each(backends.map((b) => [b.name, b] as const))("%s backend", (name, backend) => {
  reportSkip(backend);
  const it = test.skipIf(!backend.available);
  const open = (maxRequests?: number) => new Context({ backend: name as BackendName, maxRequests });

  it("runs the seed example: write, read, gathered writes", async () => {
    using file = tempFile();
    await using ctx = open();
    expect(ctx.backend).toBe(name);
    expect(ctx.maxRequests).toBe(128);
    expect(await ctx.write("Hello world", file.fd, 0)).toBe(11);
    expect((await ctx.read(32, file.fd, 0)).toString()).toBe("Hello world");
    await ctx.fdsync(file.fd);
    await Promise.all([ctx.write("Hello from ", file.fd, 0), ctx.write("async world", file.fd, 11)]);
    expect((await ctx.read(32, file.fd, 0)).toString()).toBe("Hello from async world");
  });

  it("write accepts strings (UTF-8), Buffers, typed arrays, DataViews and ArrayBuffers", async () => {
    using file = tempFile();
    await using ctx = open();
    const floats = new Float64Array([1.5, -2]);
    const backing = new Uint8Array([9, 8, 7, 6, 5, 4, 3, 2]);
    const written = await Promise.all([
      ctx.write("héllo", file.fd, 0),
      ctx.write(Buffer.from("AB"), file.fd, 6),
      ctx.write(floats, file.fd, 8),
      ctx.write(new DataView(backing.buffer, 2, 3), file.fd, 24),
      ctx.write(new Uint8Array([1, 2]).buffer, file.fd, 27),
      ctx.write(new Uint16Array([0x0102, 0x0304]).subarray(1), file.fd, 29),
    ]);
    expect(written).toEqual([6, 2, 16, 3, 2, 2]);
    const expected = Buffer.concat([
      Buffer.from("héllo"),
      Buffer.from("AB"),
      Buffer.from(floats.buffer),
      Buffer.from([7, 6, 5, 1, 2, 0x04, 0x03]),
    ]);
    expect(readFileSync(file.path)).toEqual(expected);
  });

  it("read returns exactly the bytes read: short at EOF, empty past it, never stale bytes", async () => {
    using file = tempFile("0123456789");
    await using ctx = open();
    const short = await ctx.read(4096, file.fd, 4);
    expect(Buffer.isBuffer(short)).toBe(true);
    expect(short.toString()).toBe("456789");
    // Only the bytes read are reachable: no rest of the allocation, so no leftovers of earlier reads or other memory.
    expect(short.buffer.byteLength).toBe(6);
    expect((await ctx.read(16, file.fd, 10)).length).toBe(0);
    expect((await ctx.read(16, file.fd, 1 << 30)).length).toBe(0);
    expect((await ctx.read(0, file.fd, 0)).length).toBe(0);
  });

  it("readInto fills the view at its byteOffset and returns the count", async () => {
    using file = tempFile("abcdefgh");
    await using ctx = open();
    const whole = new Uint8Array(12).fill(0x2e);
    const window = whole.subarray(2, 7);
    expect(await ctx.readInto(window, file.fd, 1)).toBe(5);
    expect(Buffer.from(whole).toString()).toBe("..bcdef.....");
    const tail = new Uint8Array(8).fill(0x2e);
    expect(await ctx.readInto(tail, file.fd, 6)).toBe(2);
    expect(Buffer.from(tail).toString()).toBe("gh......");
  });

  it("writev writes its buffers in order as one operation; readv scatters the bytes back", async () => {
    using file = tempFile();
    await using ctx = open();
    const parts = [Buffer.from("head-"), new Uint8Array(0), new Uint16Array([0x4241]), Buffer.from("-tail")];
    expect(await ctx.writev(parts, file.fd, 3)).toBe(12);
    expect(readFileSync(file.path).subarray(3).toString()).toBe("head-AB-tail");
    const a = Buffer.alloc(4);
    const b = new Uint8Array(new ArrayBuffer(16), 8, 6);
    const c = Buffer.alloc(8);
    // Short at end of file: 12 bytes fill a, b and the first 2 bytes of c.
    expect(await ctx.readv([a, b, c], file.fd, 3)).toBe(12);
    expect([a.toString(), Buffer.from(b).toString(), c.toString("latin1", 0, 2)]).toEqual(["head", "-AB-ta", "il"]);
    expect(c.subarray(2).every((byte) => byte === 0)).toBe(true);
    expect(await ctx.readv([Buffer.alloc(4)], file.fd, 1000)).toBe(0);
    expect(ctx.stats).toMatchObject({ submitted: 3, completed: 3 });
  });

  it("vectored operations keep every buffer alive across Bun.gc(true) and report errors as readv/writev", async () => {
    using file = tempFile(recordBytes(64));
    await using ctx = open(8);
    const reads = Array.from({ length: 32 }, (_, i) => {
      const views = [new Uint8Array(8), new Uint8Array(8)];
      return ctx.readv(views, file.fd, i * 16).then((n) => [n, Buffer.concat(views).toString()]);
    });
    Bun.gc(true);
    expect(await Promise.all(reads)).toEqual(Array.from({ length: 32 }, (_, i) => [16, record(i)]));
    const bad = unusedFd();
    expect(await ctx.writev([Buffer.from("x")], bad, 0).catch((e) => [e.code, e.syscall])).toEqual(["EBADF", "writev"]);
    expect(await ctx.readv([Buffer.alloc(1)], bad, 0).catch((e) => [e.code, e.syscall])).toEqual(["EBADF", "readv"]);
  });

  it("fsync and fdsync resolve with undefined", async () => {
    using file = tempFile("data");
    await using ctx = open();
    expect(await ctx.fsync(file.fd)).toBeUndefined();
    expect(await ctx.fdsync(file.fd)).toBeUndefined();
  });

  it("accepts bigint offsets and offsets far beyond 2^32", async () => {
    using file = tempFile();
    await using ctx = open();
    const far = 2 ** 40 + 3;
    expect(await ctx.write("far", file.fd, far)).toBe(3);
    expect((await ctx.read(3, file.fd, BigInt(far))).toString()).toBe("far");
    expect(fstatSync(file.fd).size).toBe(far + 3);
  });

  it("submits 64 reads issued in one tick with exactly one submitting syscall", async () => {
    using file = tempFile(recordBytes(64));
    await using ctx = open();
    await ctx.read(1, file.fd, 0);
    const before = ctx.stats.submitCalls;
    const reads = Array.from({ length: 64 }, (_, i) => ctx.read(16, file.fd, i * 16));
    expect(ctx.stats.queued).toBe(64);
    const results = await Promise.all(reads);
    expect(ctx.stats.submitCalls - before).toBe(1);
    expect(results.map((b) => b.toString("latin1"))).toEqual(
      Array.from({ length: 64 }, (_, i) => record(i)),
    );
  });

  it("each submission fills every free slot (64 cached reads through maxRequests 16)", async () => {
    using file = tempFile(recordBytes(64));
    await using ctx = open(16);
    const before = ctx.stats.submitCalls;
    const reads = Array.from({ length: 64 }, (_, i) => ctx.read(16, file.fd, i * 16));
    await Promise.resolve(); // this tick's flush
    if (COMPLETES_INLINE.has(name)) {
      // Cached reads complete inside the submitting call, so one flush runs four full batches.
      expect({ submitted: ctx.stats.submitted, calls: ctx.stats.submitCalls - before }).toEqual({ submitted: 64, calls: 4 });
    } else if (name === "js") {
      // Completions only arrive on later turns of the event loop: exactly one full batch.
      expect({ submitted: ctx.stats.submitted, calls: ctx.stats.submitCalls - before }).toEqual({ submitted: 16, calls: 1 });
    } else {
      // Pool workers (thread's, linux's) on the other core may finish some reads before the flush reaps, and the
      // flush then refills exactly the slots those freed; it never submits past a free slot.
      const { submitted, completed } = ctx.stats;
      expect(submitted).toBeGreaterThanOrEqual(16);
      expect(submitted - 16).toBeLessThanOrEqual(completed);
    }
    const results = await Promise.all(reads);
    expect(results.map((b) => b.toString("latin1"))).toEqual(Array.from({ length: 64 }, (_, i) => record(i)));
  });

  it("queues beyond maxRequests in FIFO order: 10,000 reads with maxRequests 32 all complete correctly", async () => {
    const count = 10_000;
    using file = tempFile(recordBytes(count));
    await using ctx = open(32);
    const order: number[] = [];
    const reads = Array.from({ length: count }, (_, i) =>
      ctx.read(16, file.fd, i * 16).then((bytes) => {
        order.push(i);
        return bytes.toString("latin1");
      }),
    );
    expect(ctx.stats).toMatchObject({ queued: count, inFlight: 0 });
    const results = await Promise.all(reads);
    for (let i = 0; i < count; i++) expect(results[i]).toBe(record(i));
    expect(ctx.stats).toMatchObject({ submitted: count, completed: count, inFlight: 0, queued: 0 });
    // Submission is FIFO: op i starts only after i - 31 others have finished, so it cannot finish further ahead.
    expect(order.every((op, position) => op - position < 32)).toBe(true);
  });

  it("keeps buffers alive and their addresses stable across Bun.gc(true)", async () => {
    using file = tempFile();
    await using ctx = open(4);
    // Small fresh typed arrays start with storage inside the GC heap; the pointer must not go stale.
    const writes = [];
    for (let i = 0; i < 200; i++) writes.push(ctx.write(new Uint8Array([i & 0xff, (i >> 8) & 0xff]), file.fd, i * 2));
    Bun.gc(true);
    await Promise.all(writes);
    const views = Array.from({ length: 200 }, () => new Uint8Array(2));
    const reads = views.map((view, i) => ctx.readInto(view, file.fd, i * 2));
    Bun.gc(true);
    await Promise.all(reads);
    Bun.gc(true);
    expect(views.map((v) => v[0]! | (v[1]! << 8))).toEqual(Array.from({ length: 200 }, (_, i) => i));
  });

  it("reports system errors with code, negative errno, syscall and the caller's stack", async () => {
    using file = tempFile("x");
    await using ctx = open();
    const closedFd = unusedFd();
    const readOnly = openSync(file.path, "r");
    try {
      // Created where the awaiting method resumes, so the async frames lead back here, as with node:fs/promises.
      async function readClosedDescriptor() {
        try {
          await ctx.read(1, closedFd, 0);
        } catch (e) {
          return e as any;
        }
      }
      const error = await readClosedDescriptor();
      expect(error).toBeInstanceOf(Error);
      expect({ code: error.code, errno: error.errno, syscall: error.syscall, message: error.message }).toEqual({
        code: "EBADF",
        errno: -9,
        syscall: "read",
        message: "EBADF: bad file descriptor, read",
      });
      expect(error.stack).toContain("readClosedDescriptor");
      expect(error.stack).toContain("context.test.ts");
      await expect(ctx.write("x", readOnly, 0)).rejects.toMatchObject({ code: "EBADF", syscall: "write" });
      await expect(ctx.fsync(closedFd)).rejects.toMatchObject({ code: "EBADF", errno: -9, syscall: "fsync" });
      await expect(ctx.fdsync(closedFd)).rejects.toMatchObject({ code: "EBADF", syscall: "fdatasync" });
    } finally {
      closeSync(readOnly);
    }
  });

  it("one failing operation in a batch does not disturb the others", async () => {
    using file = tempFile(recordBytes(8));
    await using ctx = open();
    const closedFd = unusedFd();
    const results = await Promise.allSettled([
      ctx.read(16, file.fd, 0),
      ctx.read(16, closedFd, 0),
      ctx.read(16, file.fd, 16),
    ]);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    expect((results[2] as PromiseFulfilledResult<Buffer>).value.toString("latin1")).toBe(record(1));
  });

  it("passes priority through as ioprio; a class the kernel does not know (4-7) is refused up front", async () => {
    using file = tempFile("prio");
    await using ctx = open();
    expect((await ctx.read(4, file.fd, 0, { priority: (IOPRIO_CLASS_BE << 13) | 4 })).toString()).toBe("prio");
    for (const ioprioClass of [4, 5, 6, 7]) {
      const error = await ctx.read(4, file.fd, 0, { priority: ioprioClass << 13 }).catch((e) => e);
      expect(error).toBeInstanceOf(RangeError);
      expect(error).toMatchObject({ code: "ERR_OUT_OF_RANGE" });
    }
    expect(ctx.stats.submitted).toBe(1);
    // Flushes accept a priority on every backend too (io_uring must not pass it to IORING_OP_FSYNC).
    const priority = (IOPRIO_CLASS_BE << 13) | 4;
    expect(await Promise.all([ctx.fsync(file.fd, { priority }), ctx.fdsync(file.fd, { priority })])).toEqual([undefined, undefined]);
  });

  it("rejects an already aborted signal without submitting anything", async () => {
    using file = tempFile("x");
    await using ctx = open();
    const reason = new Error("stop");
    const error = await ctx.read(1, file.fd, 0, { signal: AbortSignal.abort(reason) }).catch((e) => e);
    expect({ name: error.name, code: error.code, cause: error.cause }).toEqual({
      name: "AbortError",
      code: "ABORT_ERR",
      cause: reason,
    });
    expect(ctx.stats).toMatchObject({ submitted: 0, queued: 0 });
  });

  it("drops operations aborted while still queued", async () => {
    using file = tempFile(recordBytes(64));
    await using ctx = open(4);
    const controller = new AbortController();
    const reads = Array.from({ length: 64 }, (_, i) => ctx.read(16, file.fd, i * 16, { signal: controller.signal }));
    controller.abort();
    const results = await Promise.allSettled(reads);
    expect(results.every((r) => r.status === "rejected" && r.reason.name === "AbortError")).toBe(true);
    expect(ctx.stats).toMatchObject({ submitted: 0, queued: 0, inFlight: 0 });
  });

  it("close() lets issued operations finish, then rejects new ones with ERR_CONTEXT_CLOSED", async () => {
    using file = tempFile(recordBytes(1000));
    const ctx = open(8);
    const reads = Array.from({ length: 1000 }, (_, i) => ctx.read(16, file.fd, i * 16));
    const closing = ctx.close();
    expect(ctx.close()).toBe(closing);
    await expect(ctx.read(1, file.fd, 0)).rejects.toMatchObject({ code: "ERR_CONTEXT_CLOSED" });
    const results = await Promise.allSettled(reads);
    await closing;
    expect(results.every((r) => r.status === "fulfilled")).toBe(true);
    expect(ctx.stats).toMatchObject({ submitted: 1000, completed: 1000, inFlight: 0, queued: 0 });
    for (const call of [
      () => ctx.write("x", file.fd, 0),
      () => ctx.readInto(new Uint8Array(1), file.fd, 0),
      () => ctx.fsync(file.fd),
      () => ctx.fdsync(file.fd),
    ]) {
      await expect(call()).rejects.toMatchObject({ code: "ERR_CONTEXT_CLOSED" });
    }
    await ctx.close();
  });

  it("await using closes the context at the end of the scope", async () => {
    using file = tempFile("x");
    let escaped: Context;
    {
      await using ctx = open();
      escaped = ctx;
      await ctx.read(1, file.fd, 0);
    }
    await expect(escaped.read(1, file.fd, 0)).rejects.toMatchObject({ code: "ERR_CONTEXT_CLOSED" });
  });
});
