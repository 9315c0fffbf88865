/**
 * The measurement loops, in plain JavaScript so that Bun (in process) and Node (as a
 * subprocess, see ../node/fs-promises.mjs) time their own fs with the very same code.
 *
 * Every loop takes the operation as a function and owns nothing else: buffers come
 * from `allocate`, so caio can be measured with aligned or plain memory.
 */

/** Entries in the shared random sequence; a power of two so an index wraps with a mask. */
const SEQUENCE_LENGTH = 1 << 20;
const sequences = new Map();

/** xorshift32 block numbers below `blocks`: every contender reads the same sequence. */
export function randomBlocks(blocks) {
  const cached = sequences.get(blocks);
  if (cached) return cached;
  const out = new Uint32Array(SEQUENCE_LENGTH);
  let x = 0x9e3779b9;
  for (let i = 0; i < SEQUENCE_LENGTH; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x % blocks;
  }
  sequences.set(blocks, out);
  return out;
}

/**
 * The test file holds its own word index in every 32-bit word, so the first word of a
 * read proves that the right bytes arrived (and that the read really happened).
 */
export function checkRead(buffer, bytesRead, offset, length) {
  if (bytesRead !== length || buffer.readUInt32LE(0) !== offset / 4) {
    throw new Error(`bad read at offset ${offset}: ${bytesRead} bytes, first word ${buffer.readUInt32LE(0)}`);
  }
}

const perSecond = (count, startedMs) => count / ((performance.now() - startedMs) / 1000);

/** `depth` workers reading random blocks until `seconds` pass; returns reads per second. */
export async function randomReads(read, { depth, seconds, fileBytes, block, allocate }) {
  const sequence = randomBlocks(fileBytes / block);
  const deadline = performance.now() + seconds * 1000;
  let next = 0;
  let completed = 0;
  const worker = async () => {
    const buffer = allocate(block);
    while (performance.now() < deadline) {
      const offset = sequence[next++ & (SEQUENCE_LENGTH - 1)] * block;
      checkRead(buffer, await read(buffer, offset), offset, block);
      completed++;
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: depth }, worker));
  return perSecond(completed, started);
}

/** One random read at a time for `seconds`; returns each awaited read's latency in nanoseconds. */
export async function readLatencies(read, { seconds, fileBytes, block, allocate }) {
  const sequence = randomBlocks(fileBytes / block);
  const buffer = allocate(block);
  const nanoseconds = [];
  const deadline = performance.now() + seconds * 1000;
  for (let i = 0; ; i++) {
    const offset = sequence[i & (SEQUENCE_LENGTH - 1)] * block;
    const started = performance.now();
    if (started >= deadline) break;
    const bytesRead = await read(buffer, offset);
    nanoseconds.push((performance.now() - started) * 1e6);
    checkRead(buffer, bytesRead, offset, block);
  }
  return latencySummary(nanoseconds);
}

/** `depth` workers taking the file's chunks in order, wrapping at the end; returns bytes per second. */
export async function sequentialReads(read, { depth, seconds, fileBytes, block, allocate }) {
  const chunks = fileBytes / block;
  const deadline = performance.now() + seconds * 1000;
  let next = 0;
  let bytes = 0;
  const worker = async () => {
    const buffer = allocate(block);
    while (performance.now() < deadline) {
      const offset = (next++ % chunks) * block;
      checkRead(buffer, await read(buffer, offset), offset, block);
      bytes += block;
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: depth }, worker));
  return perSecond(bytes, started);
}

/**
 * Rounds of `depth` random block writes issued together, each round followed by one
 * fdatasync (`sync`), until `seconds` pass; returns writes per second. The pattern of a
 * group commit: nothing of a round counts until its sync is done.
 */
export async function syncedRandomWrites(write, sync, { depth, seconds, fileBytes, block, allocate }) {
  const sequence = randomBlocks(fileBytes / block);
  const buffers = Array.from({ length: depth }, (_, i) => allocate(block).fill(i + 1));
  const deadline = performance.now() + seconds * 1000;
  let next = 0;
  let completed = 0;
  const started = performance.now();
  while (performance.now() < deadline) {
    const written = await Promise.all(buffers.map((buffer) => write(buffer, sequence[next++ & (SEQUENCE_LENGTH - 1)] * block)));
    if (written.some((bytes) => bytes !== block)) throw new Error(`short write: ${written.join(",")}`);
    await sync();
    completed += depth;
  }
  return perSecond(completed, started);
}

/** Nearest-rank percentile (0 < p <= 1) of ascending values: always a value that was observed. */
function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
}

/** p50 and p99 of one run's per-operation latencies, in the unit they were recorded in. */
export function latencySummary(samples) {
  // A typed array sorts numerically and much faster than an array for millions of samples.
  const sorted = Float64Array.from(samples).sort();
  return { p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99) };
}
