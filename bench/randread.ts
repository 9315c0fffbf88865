/**
 * 4 KiB random reads from a 256 MiB file, 64 concurrent workers each reusing one
 * buffer: caio's backends against Bun's node:fs/promises FileHandle.read, measured
 * in the same run, buffered (page cache) and O_DIRECT. Reports medians of several
 * interleaved runs and the ratio to Bun's fs.
 *
 *   bun run bench                          # defaults
 *   bun bench/randread.ts --runs 7 --seconds 3 --depth 64
 */
import { closeSync, constants, existsSync, mkdirSync, openSync, readSync, statSync, writeSync } from "node:fs";
import { open as openHandle } from "node:fs/promises";
import { cpus, release } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { BACKEND_NAMES } from "../src/backends/index.ts";
import { allocAligned, Context, type BackendName } from "../src/index.ts";

const { values: args } = parseArgs({
  options: {
    runs: { type: "string", default: "5" },
    seconds: { type: "string", default: "2" },
    depth: { type: "string", default: "64" },
    "file-mib": { type: "string", default: "256" },
    dir: { type: "string", default: join(import.meta.dir, ".data") },
  },
});
const RUNS = Number(args.runs);
const SECONDS = Number(args.seconds);
const DEPTH = Number(args.depth);
const FILE_BYTES = Number(args["file-mib"]) * 1024 * 1024;
const BLOCK = 4096;
const BLOCKS = FILE_BYTES / BLOCK;

function prepareFile(): string {
  mkdirSync(args.dir!, { recursive: true });
  const path = join(args.dir!, `randread-${FILE_BYTES}.bin`);
  if (existsSync(path) && statSync(path).size === FILE_BYTES) return path;
  process.stdout.write(`writing ${FILE_BYTES >> 20} MiB test file ${path} ... `);
  const fd = openSync(path, "w");
  const chunk = Buffer.alloc(1 << 20);
  for (let offset = 0; offset < FILE_BYTES; offset += chunk.length) {
    for (let i = 0; i < chunk.length; i += 4) chunk.writeUInt32LE((offset + i) >>> 2, i);
    writeSync(fd, chunk, 0, chunk.length, offset);
  }
  closeSync(fd);
  console.log("done");
  return path;
}

function warmPageCache(path: string): void {
  const fd = openSync(path, "r");
  const chunk = Buffer.alloc(1 << 20);
  for (let offset = 0; offset < FILE_BYTES; offset += chunk.length) readSync(fd, chunk, 0, chunk.length, offset);
  closeSync(fd);
}

/** xorshift32: the same block sequence for every contender. */
function randomBlocks(count: number, seed: number): Uint32Array {
  const out = new Uint32Array(count);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < count; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x % BLOCKS;
  }
  return out;
}
const SEQUENCE = randomBlocks(1 << 20, 0x9e3779b9);

type ReadFn = (buffer: Buffer, offset: number) => Promise<number>;

/** Runs DEPTH workers for SECONDS and returns reads per second; every read's first word is checked. */
async function measure(read: ReadFn): Promise<number> {
  const deadline = performance.now() + SECONDS * 1000;
  let next = 0;
  let completed = 0;
  const worker = async () => {
    const buffer = allocAligned(BLOCK);
    while (performance.now() < deadline) {
      const block = SEQUENCE[next++ & (SEQUENCE.length - 1)]!;
      const n = await read(buffer, block * BLOCK);
      if (n !== BLOCK || buffer.readUInt32LE(0) !== (block * BLOCK) >>> 2) throw new Error(`bad read at block ${block}`);
      completed++;
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: DEPTH }, worker));
  return completed / ((performance.now() - started) / 1000);
}

interface Contender {
  label: string;
  setup(direct: boolean): Promise<{ read: ReadFn; teardown(): Promise<void> }>;
}

const bunFs: Contender = {
  label: "Bun node:fs/promises",
  async setup(direct) {
    const handle = await openHandle(filePath, direct ? constants.O_RDONLY | constants.O_DIRECT : "r");
    return {
      read: async (buffer, offset) => (await handle.read(buffer, 0, BLOCK, offset)).bytesRead,
      teardown: () => handle.close(),
    };
  },
};

function caio(backend: BackendName): Contender {
  return {
    label: `caio ${backend}`,
    async setup(direct) {
      const fd = openSync(filePath, direct ? constants.O_RDONLY | constants.O_DIRECT : constants.O_RDONLY);
      const ctx = new Context({ backend, maxRequests: DEPTH });
      return {
        read: (buffer, offset) => ctx.readInto(buffer, fd, offset),
        teardown: async () => {
          await ctx.close();
          closeSync(fd);
        },
      };
    },
  };
}

/** The single-core ceiling for cached reads: a synchronous pread loop, no promises at all. */
function readSyncCeiling(): number {
  const fd = openSync(filePath, "r");
  const buffer = Buffer.alloc(BLOCK);
  const deadline = performance.now() + SECONDS * 1000;
  const started = performance.now();
  let count = 0;
  while (performance.now() < deadline) {
    for (let i = 0; i < 1024; i++) readSync(fd, buffer, 0, BLOCK, SEQUENCE[count++ & (SEQUENCE.length - 1)]! * BLOCK);
  }
  closeSync(fd);
  return count / ((performance.now() - started) / 1000);
}

/** The device's ceiling for O_DIRECT: fio with the same block size, depth and file, when fio is installed. */
function fioCeiling(): number | undefined {
  if (!Bun.which("fio")) return undefined;
  const result = Bun.spawnSync([
    "fio", "--name=caio", `--filename=${filePath}`, "--rw=randread", `--bs=${BLOCK}`, "--direct=1",
    "--ioengine=libaio", `--iodepth=${DEPTH}`, `--runtime=${SECONDS}`, "--time_based", "--output-format=json",
  ]);
  if (result.exitCode !== 0) return undefined;
  return JSON.parse(result.stdout.toString()).jobs[0].read.iops as number;
}

function availableCaioBackends(): BackendName[] {
  return BACKEND_NAMES.filter((name) => {
    try {
      void new Context({ backend: name, maxRequests: 1 }).close();
      return true;
    } catch {
      return false;
    }
  });
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const kiops = (v: number) => `${(v / 1000).toFixed(1)}K`;

const filePath = prepareFile();
const contenders = [bunFs, ...availableCaioBackends().map(caio)];
console.log(
  `randread: ${BLOCK} B random reads, ${DEPTH} in flight, ${FILE_BYTES >> 20} MiB file, ` +
    `${RUNS} runs x ${SECONDS} s per contender\n` +
    `machine: ${cpus()[0]?.model ?? "?"} x${cpus().length}, Linux ${release()}, Bun ${Bun.version}\n`,
);

for (const direct of [false, true]) {
  const mode = direct ? "O_DIRECT" : "cached";
  const samples = new Map<string, number[]>(contenders.map((c) => [c.label, []]));
  const ceilingLabel = direct ? "fio libaio (device ceiling)" : "readSync loop (single-core ceiling)";
  const ceiling: number[] = [];
  for (let run = 1; run <= RUNS; run++) {
    const limit = direct ? fioCeiling() : readSyncCeiling();
    if (limit !== undefined) {
      ceiling.push(limit);
      process.stdout.write(`  ${mode} run ${run}/${RUNS} ${ceilingLabel}: ${kiops(limit)} IOPS\n`);
    }
    for (const contender of contenders) {
      if (!direct) warmPageCache(filePath);
      const { read, teardown } = await contender.setup(direct);
      const rate = await measure(read);
      await teardown();
      samples.get(contender.label)!.push(rate);
      process.stdout.write(`  ${mode} run ${run}/${RUNS} ${contender.label}: ${kiops(rate)} IOPS\n`);
    }
  }
  const base = median(samples.get(bunFs.label)!);
  console.log(`\n### ${mode} 4 KiB random reads, ${DEPTH} in flight (median of ${RUNS})\n`);
  console.log("| contender | IOPS median | min – max | vs Bun fs |");
  console.log("|---|---:|---:|---:|");
  for (const contender of contenders) {
    const values = samples.get(contender.label)!;
    const mid = median(values);
    console.log(
      `| ${contender.label} | ${kiops(mid)} | ${kiops(Math.min(...values))} – ${kiops(Math.max(...values))} | ${(mid / base).toFixed(2)}× |`,
    );
  }
  if (ceiling.length > 0) {
    const mid = median(ceiling);
    console.log(
      `| ${ceilingLabel} | ${kiops(mid)} | ${kiops(Math.min(...ceiling))} – ${kiops(Math.max(...ceiling))} | ${(mid / base).toFixed(2)}× |`,
    );
  } else {
    console.log(`\n(fio is not installed: "apt-get install fio" adds the device's ceiling to this table)`);
  }
  console.log("");
}
