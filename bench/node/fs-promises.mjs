/**
 * Node's fs.promises under the same loops as the in-process contenders. Run by
 * bench/node.ts as `node fs-promises.mjs '<job JSON>'`; prints one JSON result line.
 *
 * Job: { loop: "random" | "latency" | "sequential" | "writes", file, direct,
 *        depth, seconds, fileBytes, block }
 */
import { constants } from "node:fs";
import { open } from "node:fs/promises";
import { randomReads, readLatencies, sequentialReads, syncedRandomWrites } from "../shared/loops.mjs";

/** O_DIRECT wants the buffer's address aligned to the device's logical block; a page covers every device. */
const DIRECT_ALIGNMENT = 4096;
/** Node cannot tell a buffer's address; malloc aligns to at least this, so probing these shifts finds the aligned one. */
const MALLOC_ALIGNMENT = 16;

/**
 * Node cannot ask for aligned memory, so for O_DIRECT one slab is allocated and the
 * shift that makes a test read succeed (the aligned one) is found by trying them all.
 */
async function alignedAllocator(handle, job) {
  const slab = Buffer.alloc(job.block * (job.depth + 1) + DIRECT_ALIGNMENT);
  for (let shift = 0; shift < DIRECT_ALIGNMENT; shift += MALLOC_ALIGNMENT) {
    try {
      await handle.read(slab, shift, job.block, 0);
    } catch (error) {
      if (error.code === "EINVAL") continue;
      throw error;
    }
    let used = shift;
    return (size) => {
      if (used + size > slab.length) throw new Error("aligned slab exhausted");
      const view = slab.subarray(used, used + size);
      used += size;
      return view;
    };
  }
  throw new Error("no aligned shift accepted an O_DIRECT read");
}

function openFlags(job) {
  const base = job.loop === "writes" ? constants.O_RDWR : constants.O_RDONLY;
  return job.direct ? base | constants.O_DIRECT : base;
}

async function run(job) {
  const handle = await open(job.file, openFlags(job));
  try {
    const allocate = job.direct ? await alignedAllocator(handle, job) : (size) => Buffer.alloc(size);
    const shape = { ...job, allocate };
    const read = async (buffer, offset) => (await handle.read(buffer, 0, buffer.length, offset)).bytesRead;
    switch (job.loop) {
      case "random":
        return { value: await randomReads(read, shape) };
      case "latency":
        return { value: await readLatencies(read, shape) };
      case "sequential":
        return { value: await sequentialReads(read, shape) };
      case "writes": {
        const write = async (buffer, offset) => (await handle.write(buffer, 0, buffer.length, offset)).bytesWritten;
        return { value: await syncedRandomWrites(write, () => handle.datasync(), shape) };
      }
      default:
        throw new Error(`unknown loop ${job.loop}`);
    }
  } finally {
    await handle.close();
  }
}

try {
  console.log(JSON.stringify(await run(JSON.parse(process.argv[2]))));
} catch (error) {
  console.log(JSON.stringify({ error: `${error.code ?? ""} ${error.message}`.trim() }));
}
