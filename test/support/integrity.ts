/**
 * The data-integrity workload shared by the test suite (10,000 operations) and the
 * soak script (100,000): random-offset, random-size writes of random data and reads,
 * many in flight at once, checked against an in-memory model of the file.
 */
import { ftruncateSync } from "node:fs";
import type { Context } from "../../src/index.ts";

export interface IntegrityResult {
  operations: number;
  bytesWritten: number;
  bytesRead: number;
  /** Reads (during the run and in the final read-back) whose bytes differed from the model. */
  mismatches: string[];
  /** What the file must contain now. */
  model: Uint8Array;
}

/** xorshift32: reproducible from the seed printed with a failure. */
export function random(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 4294967296;
  };
}

interface Planned {
  write: boolean;
  offset: number;
  length: number;
}

const MAX_OP = 256 * 1024;

/** 1 B … 256 KiB, log-uniform: mostly small operations, some large ones. */
function randomLength(rand: () => number): number {
  return Math.max(1, Math.floor(2 ** (rand() * 18)));
}

function overlaps(a: Planned, b: Planned): boolean {
  return a.offset < b.offset + b.length && b.offset < a.offset + a.length;
}

/**
 * One wave: operations that may run concurrently, so no write overlaps anything
 * else in the wave (the model then knows every byte's value without ordering).
 */
function planWave(rand: () => number, count: number, fileSpan: number): Planned[] {
  const wave: Planned[] = [];
  for (let attempts = 0; wave.length < count && attempts < count * 8; attempts++) {
    const op = { write: rand() < 0.5, offset: Math.floor(rand() * fileSpan), length: randomLength(rand) };
    if (wave.some((other) => (op.write || other.write) && overlaps(op, other))) continue;
    wave.push(op);
  }
  return wave;
}

/** Splits `bytes` into 1 … 4 views for readv/writev. */
function split(bytes: Uint8Array, rand: () => number): Uint8Array[] {
  const parts = 1 + Math.floor(rand() * 4);
  const views: Uint8Array[] = [];
  let start = 0;
  for (let i = 1; i < parts; i++) {
    const end = start + Math.floor(rand() * (bytes.length - start));
    views.push(bytes.subarray(start, end));
    start = end;
  }
  views.push(bytes.subarray(start));
  return views;
}

export async function runIntegrity(
  ctx: Context,
  fd: number,
  options: { operations: number; seed: number; fileSpan?: number; wave?: number },
): Promise<IntegrityResult> {
  const rand = random(options.seed);
  const fileSpan = options.fileSpan ?? 8 * 1024 * 1024;
  const model = new Uint8Array(fileSpan + MAX_OP);
  // A fixed size: a write that extended the file could otherwise change what a concurrent read past the old end sees.
  ftruncateSync(fd, model.length);
  const size = model.length;
  const result: IntegrityResult = { operations: 0, bytesWritten: 0, bytesRead: 0, mismatches: [], model };
  const noise = crypto.getRandomValues(new Uint8Array(1 << 20));

  while (result.operations < options.operations) {
    const wave = planWave(rand, Math.min(options.wave ?? 96, options.operations - result.operations), fileSpan);
    const pending = wave.map(async (op) => {
      if (op.write) {
        // A fresh buffer per write, dropped by the caller as soon as the call is made.
        const start = Math.floor(rand() * (noise.length - op.length));
        const bytes = freshBuffer(op.length, rand);
        bytes.set(noise.subarray(start, start + op.length));
        const vectored = rand() < 0.25;
        const written = vectored ? await ctx.writev(split(bytes, rand), fd, op.offset) : await ctx.write(bytes, fd, op.offset);
        if (written !== op.length) result.mismatches.push(`short write ${written}/${op.length} at ${op.offset}`);
        return { op, bytes };
      }
      const expected = model.slice(op.offset, op.offset + op.length);
      let got: Uint8Array;
      const kind = rand();
      if (kind < 0.25) {
        const into = freshBuffer(op.length, rand);
        const n = await ctx.readv(split(into, rand), fd, op.offset);
        got = into.subarray(0, n);
      } else if (kind < 0.5) {
        const into = freshBuffer(op.length, rand);
        got = into.subarray(0, await ctx.readInto(into, fd, op.offset));
      } else {
        got = await ctx.read(op.length, fd, op.offset);
      }
      result.bytesRead += got.length;
      if (!Buffer.from(got.buffer, got.byteOffset, got.length).equals(expected)) {
        result.mismatches.push(`read of ${op.length} at ${op.offset}: ${got.length} bytes differ from the model`);
      }
      return undefined;
    });
    for (const done of await Promise.all(pending)) {
      if (!done) continue;
      model.set(done.bytes, done.op.offset);
      result.bytesWritten += done.op.length;
    }
    result.operations += wave.length;
  }

  await ctx.fsync(fd);
  for (let offset = 0; offset < size; offset += MAX_OP) {
    const chunk = await ctx.read(MAX_OP, fd, offset);
    const expected = model.subarray(offset, Math.min(offset + MAX_OP, size));
    if (!chunk.equals(expected)) result.mismatches.push(`final read-back differs at ${offset}`);
  }
  return result;
}

/** Half on ordinary ArrayBuffers (copied through caio's bounce memory), half on SharedArrayBuffers (zero-copy). */
function freshBuffer(length: number, rand: () => number): Uint8Array {
  return rand() < 0.5 ? new Uint8Array(length) : new Uint8Array(new SharedArrayBuffer(length));
}
