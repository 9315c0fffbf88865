/**
 * The wake-path workload shared by the test suite (50,000 completions) and the soak
 * script (1,000,000): O_DIRECT reads, whose completions arrive after the submitting
 * call, so every one comes back through the backend's wake mechanism.
 */
import { closeSync, constants, openSync, writeSync } from "node:fs";
import { allocAligned, type Context } from "../../src/index.ts";

const BLOCK = 4096;
export const WAKE_FILE_BLOCKS = 1024;

/** A 4 MiB file where every 4-byte word holds its own index. */
export function writeIndexedFile(path: string): void {
  const fd = openSync(path, "w");
  const data = Buffer.alloc(WAKE_FILE_BLOCKS * BLOCK);
  for (let i = 0; i < data.length; i += 4) data.writeUInt32LE(i / 4, i);
  writeSync(fd, data, 0, data.length, 0);
  closeSync(fd);
}

export interface WakeResult {
  completed: number;
  /** Reads that returned a wrong count or the wrong block. */
  wrong: number;
  /** O_DIRECT was refused (e.g. tmpfs): the run used buffered reads instead. */
  buffered: boolean;
}

/** `completions` O_DIRECT block reads of `path` from `workers` concurrent loops, each checked. */
export async function runWakeSoak(ctx: Context, path: string, completions: number, workers = 64): Promise<WakeResult> {
  let fd: number;
  let buffered = false;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_DIRECT);
  } catch {
    fd = openSync(path, "r");
    buffered = true;
  }
  let issued = 0;
  let completed = 0;
  let wrong = 0;
  const worker = async (seed: number) => {
    const buffer = allocAligned(BLOCK);
    let block = seed;
    while (issued < completions) {
      issued++;
      block = (block * 1103515245 + 12345) % WAKE_FILE_BLOCKS;
      const n = await ctx.readInto(buffer, fd, block * BLOCK);
      completed++;
      if (n !== BLOCK || buffer.readUInt32LE(0) !== (block * BLOCK) / 4 || buffer.readUInt32LE(BLOCK - 4) !== (block * BLOCK + BLOCK - 4) / 4) {
        wrong++;
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: workers }, (_, i) => worker(i + 1)));
  } finally {
    closeSync(fd);
  }
  return { completed, wrong, buffered };
}
