/**
 * One RSS measurement in a fresh process, so that nothing the other workloads
 * allocated blurs it: warm up, collect garbage, note RSS, run the measured reads
 * (cached 4 KiB random, 64 in flight), collect garbage, note RSS again.
 *
 *   bun bench/workloads/rss-probe.ts <uring|linux|thread|js|bunfs> <operations> <file>
 * prints { startMiB, endMiB, peakMiB, warmupOperations } as JSON.
 */
import { statSync } from "node:fs";
import type { BackendName } from "../../src/index.ts";
import { bunFs, caio, type Contender } from "../contenders.ts";
import { checkRead, randomBlocks, type ReadFn } from "../shared/loops.mjs";

const DEPTH = 64;
const BLOCK = 4096;
/** Enough for every lazy allocation (JIT tiers, pools, the slot table) to have happened. */
const WARMUP_OPERATIONS = 100_000;
const PEAK_SAMPLE_EVERY = 10_000;

const mib = (bytes: number) => bytes / 2 ** 20;

async function readCount(read: ReadFn, allocate: (size: number) => Buffer, count: number, blocks: Uint32Array, onProgress: (done: number) => void) {
  let next = 0;
  const worker = async () => {
    const buffer = allocate(BLOCK);
    while (next < count) {
      const index = next++;
      const offset = blocks[index & (blocks.length - 1)]! * BLOCK;
      checkRead(buffer, await read(buffer, offset), offset, BLOCK);
      if (index % PEAK_SAMPLE_EVERY === 0) onProgress(index);
    }
  };
  await Promise.all(Array.from({ length: DEPTH }, worker));
}

async function probe(contender: Contender, operations: number, path: string) {
  const blocks = randomBlocks(statSync(path).size / BLOCK);
  const file = await contender.open(path, "cached", DEPTH);
  let peak = 0;
  const notePeak = () => (peak = Math.max(peak, process.memoryUsage.rss()));
  try {
    await readCount(file.read, contender.allocate, WARMUP_OPERATIONS, blocks, () => {});
    Bun.gc(true);
    const start = process.memoryUsage.rss();
    await readCount(file.read, contender.allocate, operations, blocks, notePeak);
    Bun.gc(true);
    const end = process.memoryUsage.rss();
    return { startMiB: mib(start), endMiB: mib(end), peakMiB: mib(Math.max(peak, end)), warmupOperations: WARMUP_OPERATIONS };
  } finally {
    await file.close();
  }
}

const [name, operations, path] = process.argv.slice(2);
const contender = name === "bunfs" ? bunFs : caio(name as BackendName);
console.log(JSON.stringify(await probe(contender, Number(operations), path!)));
