/**
 * Buffer lifetime while operations are in flight: callers may drop, collect or
 * transfer (detach) their ArrayBuffers at any moment, and the kernel must never
 * read or write memory that has been given to someone else or freed.
 */
import { ptr } from "bun:ffi";
import { describe, expect, test } from "bun:test";
import { closeSync, constants, openSync, readFileSync } from "node:fs";
import { allocAligned, Context, type BackendName } from "../src/index.ts";
import { COPY_READS_UP_TO } from "../src/readbuffers.ts";
import { backends, reportSkip, tempFile } from "./helpers.ts";

const BLOCK = 4096;
const ROUNDS = 64;

function pattern(bytes: number, seed: number): Buffer {
  const out = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i += 4) out.writeUInt32LE((i / 4 + seed * 7919) >>> 0, i);
  return out;
}

/** A page-aligned view on an ordinary (detachable) ArrayBuffer, as O_DIRECT needs. */
function alignedPlain(bytes: number): Uint8Array {
  const backing = new Uint8Array(bytes + BLOCK);
  void backing.buffer;
  const shift = (BLOCK - (ptr(backing) % BLOCK)) % BLOCK;
  return backing.subarray(shift, shift + bytes);
}

function openDirect(path: string): { fd: number } & Disposable {
  const fd = openSync(path, constants.O_RDWR | constants.O_DIRECT);
  return { fd, [Symbol.dispose]: () => closeSync(fd) };
}

/** Lets the per-tick flush (a microtask queued by the tick's first operation) submit. */
async function afterFlush(): Promise<void> {
  await Promise.resolve();
}

/** Churns the allocator so freed memory is reused: a stray kernel write would land in live objects. */
function churn(): void {
  Bun.gc(true);
  const junk: Uint8Array[] = [];
  for (let i = 0; i < 64; i++) junk.push(new Uint8Array(BLOCK * 2).fill(0xee));
  Bun.gc(true);
}

describe.each(backends.map((b) => [b.name, b] as const))("%s backend: buffer lifetime", (name, backend) => {
  reportSkip(backend);
  const it = test.skipIf(!backend.available);
  const open = (maxRequests?: number) => new Context({ backend: name as BackendName, maxRequests });

  /**
   * ROUNDS O_DIRECT reads, each followed right after submission by `detach` on its
   * buffer and allocator churn. A read still in flight must reject with
   * ERR_INVALID_STATE and leave the memory `detach` returns (if any) untouched; one
   * that completed inside the submitting call resolves normally.
   */
  async function readsDetachedInFlight(seed: number, detach: (buffer: ArrayBuffer) => Uint8Array | undefined) {
    using file = tempFile(pattern(ROUNDS * BLOCK, seed));
    using direct = openDirect(file.path);
    await using ctx = open();
    let inFlightRounds = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const view = alignedPlain(BLOCK);
      const read = ctx.readInto(view, direct.fd, round * BLOCK);
      await afterFlush();
      const wasInFlight = ctx.stats.inFlight === 1;
      const moved = detach(view.buffer as ArrayBuffer);
      churn();
      const outcome = await read.then((n) => n, (error) => error);
      if (!wasInFlight) {
        expect(outcome).toBe(BLOCK);
        continue;
      }
      inFlightRounds++;
      expect(outcome).toMatchObject({ code: "ERR_INVALID_STATE" });
      expect((outcome as Error).message).toContain("detached while the read was in flight");
      // The memory now owned by the new ArrayBuffer was never written by the kernel.
      if (moved) expect(moved.every((byte) => byte === 0)).toBe(true);
    }
    // O_DIRECT reads take ~0.1 ms here; the check must really have run on in-flight reads.
    expect(inFlightRounds).toBeGreaterThan(ROUNDS / 2);
  }

  it("a read whose buffer is transferred in flight rejects with ERR_INVALID_STATE and never writes the moved memory", async () => {
    await readsDetachedInFlight(1, (buffer) => new Uint8Array(buffer.transfer()));
  });

  it("a buffer transferred to a larger size (old memory freed at once) in flight never receives the read", async () => {
    await readsDetachedInFlight(2, (buffer) => {
      buffer.transfer(BLOCK * 64);
      return undefined;
    });
  });

  it("a write whose buffer is transferred and overwritten in flight writes the bytes as they were at submission", async () => {
    using file = tempFile(Buffer.alloc(ROUNDS * BLOCK));
    using direct = openDirect(file.path);
    await using ctx = open();
    const writes: Promise<number>[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const view = alignedPlain(BLOCK);
      view.set(pattern(BLOCK, round));
      writes.push(ctx.write(view, direct.fd, round * BLOCK));
      await afterFlush();
      new Uint8Array((view.buffer as ArrayBuffer).transfer()).fill(0xab);
    }
    expect(await Promise.all(writes)).toEqual(Array(ROUNDS).fill(BLOCK));
    const written = readFileSync(file.path);
    for (let round = 0; round < ROUNDS; round++) {
      expect(written.subarray(round * BLOCK, (round + 1) * BLOCK).equals(pattern(BLOCK, round))).toBe(true);
    }
  });

  it("readv with a transferred view rejects; the other views' memory is untouched by later completions", async () => {
    const data = pattern(2 * BLOCK, 3);
    using file = tempFile(data);
    using direct = openDirect(file.path);
    await using ctx = open();
    const first = alignedPlain(BLOCK);
    const second = alignedPlain(BLOCK);
    const read = ctx.readv([first, second], direct.fd, 0);
    await afterFlush();
    const wasInFlight = ctx.stats.inFlight === 1;
    const moved = new Uint8Array((second.buffer as ArrayBuffer).transfer());
    churn();
    const outcome = await read.then((n) => n, (error) => error);
    if (wasInFlight) {
      expect(outcome).toMatchObject({ code: "ERR_INVALID_STATE" });
      expect(moved.every((byte) => byte === 0)).toBe(true);
    } else {
      expect(outcome).toBe(2 * BLOCK);
    }
  });

  it("buffers created inline and dropped at once survive Bun.gc(true) until their completions", async () => {
    using file = tempFile(Buffer.alloc(256 * BLOCK));
    using direct = openDirect(file.path);
    await using ctx = open(32);
    const writes: Promise<number>[] = [];
    for (let i = 0; i < 256; i++) writes.push(ctx.write(alignedPlain(BLOCK).fill(i), direct.fd, i * BLOCK));
    churn();
    expect(await Promise.all(writes)).toEqual(Array(256).fill(BLOCK));
    const reads: Promise<number>[] = [];
    const views = Array.from({ length: 256 }, () => allocAligned(BLOCK));
    for (let i = 0; i < 256; i++) reads.push(ctx.readInto(views[i]!, direct.fd, i * BLOCK));
    churn();
    expect(await Promise.all(reads)).toEqual(Array(256).fill(BLOCK));
    views.forEach((view, i) => expect(view.every((byte) => byte === (i & 0xff))).toBe(true));
  });

  it("caio's own memory (allocAligned, large read() buffers) is never copied; any other memory is, small read() results, SharedArrayBuffers and encoded strings included", async () => {
    const large = COPY_READS_UP_TO + BLOCK;
    using file = tempFile(pattern(4 * BLOCK + large, 4));
    await using ctx = open();
    const own = allocAligned(BLOCK);
    expect(own.buffer).toBeInstanceOf(ArrayBuffer);
    await ctx.readInto(own, file.fd, 0);
    const fromRead = await ctx.read(large, file.fd, 4 * BLOCK);
    expect(fromRead.length).toBe(large);
    await ctx.readv([allocAligned(16), own.subarray(16, 32)], file.fd, 0);
    await ctx.write(own, file.fd, 2 * BLOCK);
    await ctx.write(fromRead, file.fd, 4 * BLOCK);
    expect(ctx.stats.bounced).toBe(0);
    // Small reads are copied out of pooled native memory: cheaper than wrapping a native block per read.
    expect((await ctx.read(BLOCK, file.fd, 0)).equals(own)).toBe(true);
    expect(ctx.stats.bounced).toBe(1);
    const plain = new Uint8Array(BLOCK);
    expect(await ctx.readInto(plain, file.fd, 0)).toBe(BLOCK);
    expect(Buffer.from(plain).equals(own)).toBe(true);
    await ctx.write(plain, file.fd, 3 * BLOCK);
    await ctx.readv([allocAligned(16), new Uint8Array(16)], file.fd, 0);
    // A SharedArrayBuffer dies with the last thread that references it, and a Worker can die at any time.
    const shared = new Uint8Array(new SharedArrayBuffer(BLOCK));
    expect(await ctx.readInto(shared, file.fd, 0)).toBe(BLOCK);
    expect(Buffer.from(shared).equals(own)).toBe(true);
    await ctx.write("a string's UTF-8 bytes are copied too", file.fd, 2 * BLOCK);
    expect(ctx.stats.bounced).toBe(6);
  });
});
