/**
 * Synchronous pread loops on the JavaScript thread: no promise, no thread hop. For
 * cached reads this is the single-core ceiling an asynchronous API can approach.
 */
import { closeSync, openSync, readSync } from "node:fs";
import { warmPageCache, type BenchFiles } from "../files.ts";
import type { Row } from "../run.ts";
import { checkRead, latencySummary, randomBlocks, type Latency } from "../shared/loops.mjs";

/** Reads between clock checks: the clock costs about as much as a cached read. */
const BETWEEN_CLOCK_CHECKS = 256;

function withCachedFile<T>(files: BenchFiles, body: (fd: number) => T): T {
  warmPageCache(files.readPath);
  const fd = openSync(files.readPath, "r");
  try {
    return body(fd);
  } finally {
    closeSync(fd);
  }
}

/** Random `block` reads per second. */
function randomThroughput(files: BenchFiles, block: number, seconds: number): number {
  return withCachedFile(files, (fd) => {
    const sequence = randomBlocks(files.bytes / block);
    const buffer = Buffer.alloc(block);
    const started = performance.now();
    const deadline = started + seconds * 1000;
    let count = 0;
    while (performance.now() < deadline) {
      for (let i = 0; i < BETWEEN_CLOCK_CHECKS; i++, count++) {
        const offset = sequence[count & (sequence.length - 1)]! * block;
        checkRead(buffer, readSync(fd, buffer, 0, block, offset), offset, block);
      }
    }
    return count / ((performance.now() - started) / 1000);
  });
}

/** Each random read timed alone, as the asynchronous latency loop times an awaited read. */
function randomLatency(files: BenchFiles, block: number, seconds: number): Latency {
  return withCachedFile(files, (fd) => {
    const sequence = randomBlocks(files.bytes / block);
    const buffer = Buffer.alloc(block);
    const nanoseconds: number[] = [];
    const deadline = performance.now() + seconds * 1000;
    for (let i = 0; ; i++) {
      const offset = sequence[i & (sequence.length - 1)]! * block;
      const started = performance.now();
      if (started >= deadline) break;
      const bytesRead = readSync(fd, buffer, 0, block, offset);
      nanoseconds.push((performance.now() - started) * 1e6);
      checkRead(buffer, bytesRead, offset, block);
    }
    return latencySummary(nanoseconds);
  });
}

/** The file's `block`-sized chunks in order, wrapping; bytes per second. */
function sequentialThroughput(files: BenchFiles, block: number, seconds: number): number {
  return withCachedFile(files, (fd) => {
    const buffer = Buffer.alloc(block);
    const chunks = files.bytes / block;
    const started = performance.now();
    const deadline = started + seconds * 1000;
    let count = 0;
    for (; performance.now() < deadline; count++) {
      const offset = (count % chunks) * block;
      checkRead(buffer, readSync(fd, buffer, 0, block, offset), offset, block);
    }
    return (count * block) / ((performance.now() - started) / 1000);
  });
}

export const READ_SYNC_LABEL = "readSync loop";

export function readSyncRow<T>(measure: () => T): Row<T> {
  return { label: READ_SYNC_LABEL, role: "ceiling", sample: async () => measure() };
}

export const readSyncReference = { randomThroughput, randomLatency, sequentialThroughput };
