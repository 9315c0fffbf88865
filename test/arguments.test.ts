/** Bad input never throws synchronously and never reaches C: it rejects with a typed, coded error. */
import { describe, expect, test } from "bun:test";
import { allocAligned, Context, type BackendName } from "../src/index.ts";
import { backends, reportSkip, tempFile } from "./helpers.ts";

type Call = (ctx: Context, fd: number) => Promise<unknown>;

const outOfRange: [string, Call][] = [
  ["negative nbytes", (c, fd) => c.read(-1, fd, 0)],
  ["fractional nbytes", (c, fd) => c.read(1.5, fd, 0)],
  ["nbytes above 2^31-1", (c, fd) => c.read(2 ** 31, fd, 0)],
  ["NaN nbytes", (c, fd) => c.read(NaN, fd, 0)],
  ["negative fd", (c) => c.read(1, -1, 0)],
  ["fractional fd", (c) => c.write("x", 0.5, 0)],
  ["fd above 2^31-1", (c) => c.fsync(2 ** 31)],
  ["negative offset", (c, fd) => c.read(1, fd, -1)],
  ["fractional offset", (c, fd) => c.write("x", fd, 1.25)],
  ["offset beyond 2^53-1", (c, fd) => c.read(1, fd, 2 ** 53)],
  ["bigint offset beyond 2^53-1", (c, fd) => c.read(1, fd, 2n ** 53n)],
  ["negative bigint offset", (c, fd) => c.readInto(new Uint8Array(1), fd, -1n)],
  ["Infinity offset", (c, fd) => c.read(1, fd, Infinity)],
  ["priority above 0xffff", (c, fd) => c.read(1, fd, 0, { priority: 0x10000 })],
  ["negative priority", (c, fd) => c.fdsync(fd, { priority: -1 })],
  ["empty buffers list for readv", (c, fd) => c.readv([], fd, 0)],
  ["1025 buffers for writev", (c, fd) => c.writev(Array.from({ length: 1025 }, () => Buffer.alloc(1)), fd, 0)],
  ["negative offset for writev", (c, fd) => c.writev([Buffer.alloc(1)], fd, -1)],
];

const wrongType: [string, Call][] = [
  ["string nbytes", (c, fd) => c.read("1" as never, fd, 0)],
  ["string fd", (c) => c.read(1, "3" as never, 0)],
  ["null fd", (c) => c.fsync(null as never)],
  ["object offset", (c, fd) => c.read(1, fd, {} as never)],
  ["undefined offset", (c, fd) => c.write("x", fd, undefined as never)],
  ["number payload", (c, fd) => c.write(42 as never, fd, 0)],
  ["plain array payload", (c, fd) => c.write([1, 2] as never, fd, 0)],
  ["ArrayBuffer for readInto", (c, fd) => c.readInto(new ArrayBuffer(4) as never, fd, 0)],
  ["options that are not an object", (c, fd) => c.read(1, fd, 0, 5 as never)],
  ["signal that is not an AbortSignal", (c, fd) => c.read(1, fd, 0, { signal: {} as never })],
  ["string priority", (c, fd) => c.read(1, fd, 0, { priority: "high" as never })],
  ["a single Buffer for readv", (c, fd) => c.readv(Buffer.alloc(4) as never, fd, 0)],
  ["a string among writev buffers", (c, fd) => c.writev([Buffer.alloc(1), "x" as never], fd, 0)],
];

/** Runs call and returns what its promise rejects with; a synchronous throw fails the test. */
async function callWithoutThrowing(call: () => Promise<unknown>): Promise<any> {
  let promise: Promise<unknown>;
  try {
    promise = call();
  } catch (error) {
    throw new Error(`threw synchronously instead of rejecting: ${error}`);
  }
  return promise.then(
    (value) => ({ resolvedWith: value }),
    (error) => error,
  );
}

describe.each(backends.map((b) => [b.name, b] as const))("%s backend arguments", (name, backend) => {
  reportSkip(backend);
  const it = test.skipIf(!backend.available);

  const rejections = [
    ...outOfRange.map(([label, call]) => [label, "RangeError ERR_OUT_OF_RANGE", call, RangeError] as const),
    ...wrongType.map(([label, call]) => [label, "TypeError ERR_INVALID_ARG_TYPE", call, TypeError] as const),
  ];

  it.each(rejections)("%s rejects with %s", async (_, expected, call, type) => {
    const code = expected.split(" ")[1];
    using file = tempFile("x");
    await using ctx = new Context({ backend: name as BackendName });
    const error = await callWithoutThrowing(() => call(ctx, file.fd));
    expect(error).toBeInstanceOf(type);
    expect(error.code).toBe(code);
    expect(ctx.stats).toMatchObject({ submitted: 0, queued: 0 });
  });

  it("a detached buffer is rejected with ERR_INVALID_STATE", async () => {
    using file = tempFile("xyz");
    await using ctx = new Context({ backend: name as BackendName });
    const view = new Uint8Array(new ArrayBuffer(8));
    view.buffer.transfer();
    await expect(ctx.readInto(view, file.fd, 0)).rejects.toMatchObject({ code: "ERR_INVALID_STATE" });
    await expect(ctx.write(view, file.fd, 0)).rejects.toMatchObject({ code: "ERR_INVALID_STATE" });
    // A detached ArrayBuffer, and a DataView, whose byteLength getter throws once detached.
    const buffer = new ArrayBuffer(8);
    buffer.transfer();
    const dataView = new DataView(new ArrayBuffer(8));
    dataView.buffer.transfer();
    await expect(ctx.write(buffer, file.fd, 0)).rejects.toMatchObject({ code: "ERR_INVALID_STATE" });
    await expect(ctx.readInto(dataView, file.fd, 0)).rejects.toMatchObject({ code: "ERR_INVALID_STATE" });
    await expect(ctx.writev([Buffer.from("a"), dataView], file.fd, 0)).rejects.toMatchObject({ code: "ERR_INVALID_STATE" });
  });

  it("a view used once, then detached, is ERR_INVALID_STATE on its next use (caio's own view of it is not reused)", async () => {
    using file = tempFile("abcdefgh");
    await using ctx = new Context({ backend: name as BackendName });
    for (const view of [new Uint8Array(new ArrayBuffer(8)), new DataView(new ArrayBuffer(8))]) {
      expect(await ctx.readInto(view, file.fd, 0)).toBe(8);
      view.buffer.transfer();
      await expect(ctx.readInto(view, file.fd, 0)).rejects.toMatchObject({ code: "ERR_INVALID_STATE" });
      await expect(ctx.write(view, file.fd, 0)).rejects.toMatchObject({ code: "ERR_INVALID_STATE" });
      await expect(ctx.readv([view], file.fd, 0)).rejects.toMatchObject({ code: "ERR_INVALID_STATE" });
    }
    expect(ctx.stats.submitted).toBe(2);
  });

  it("a buffer detached after the call but before submission is rejected, not written through", async () => {
    using file = tempFile("xyz");
    await using ctx = new Context({ backend: name as BackendName });
    const view = new Uint8Array(new ArrayBuffer(8));
    const dataView = new DataView(new ArrayBuffer(8));
    const vectorView = new DataView(new ArrayBuffer(8));
    const pending = [
      ctx.readInto(view, file.fd, 0),
      ctx.readInto(dataView, file.fd, 0),
      ctx.readv([Buffer.alloc(2), vectorView], file.fd, 0),
      ctx.read(3, file.fd, 0),
    ];
    view.buffer.transfer();
    dataView.buffer.transfer();
    vectorView.buffer.transfer();
    const outcomes = await Promise.allSettled(pending);
    expect(outcomes.slice(0, 3).map((o) => o.status === "rejected" && o.reason.code)).toEqual(Array(3).fill("ERR_INVALID_STATE"));
    // The rest of the tick's batch is not disturbed.
    expect(outcomes[3]).toMatchObject({ status: "fulfilled", value: Buffer.from("xyz") });
    expect(ctx.stats).toMatchObject({ queued: 0, inFlight: 0 });
  });
});

describe("Context options", () => {
  test.each([
    [{ maxRequests: 0 }, RangeError, "ERR_OUT_OF_RANGE"],
    [{ maxRequests: 1.5 }, RangeError, "ERR_OUT_OF_RANGE"],
    [{ maxRequests: 65537 }, RangeError, "ERR_OUT_OF_RANGE"],
    [{ maxRequests: "8" }, TypeError, "ERR_INVALID_ARG_TYPE"],
    [{ backend: "posix" }, TypeError, "ERR_INVALID_ARG_TYPE"],
    [{ backend: "thread", threads: 0 }, RangeError, "ERR_OUT_OF_RANGE"],
    [{ backend: "thread", threads: 1025 }, RangeError, "ERR_OUT_OF_RANGE"],
    [{ threads: 2.5 }, RangeError, "ERR_OUT_OF_RANGE"],
    [{ threads: "4" }, TypeError, "ERR_INVALID_ARG_TYPE"],
    ["fast", TypeError, "ERR_INVALID_ARG_TYPE"],
  ] as const)("new Context(%p) throws %p", (options, type, code) => {
    let error: unknown;
    try {
      new Context(options as never);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(type);
    expect((error as { code: string }).code).toBe(code);
  });

  test("allocAligned returns zeroed buffers aligned as asked", async () => {
    const { ptr } = await import("bun:ffi");
    for (const alignment of [512, 4096, 65536]) {
      const buffer = allocAligned(8192, alignment);
      expect(buffer.length).toBe(8192);
      expect(ptr(buffer) % alignment).toBe(0);
      expect(buffer.every((b) => b === 0)).toBe(true);
    }
    expect(() => allocAligned(10, 3)).toThrow(RangeError);
  });
});
