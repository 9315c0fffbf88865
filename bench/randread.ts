/**
 * 4 KiB random reads from a 256 MiB file: caio's backends against Bun's
 * node:fs/promises FileHandle.read, measured in the same run. Three sections:
 *
 *   cached  64 workers each reusing one buffer, page cache warm; ceiling: a readSync loop
 *   direct  the same with O_DIRECT; ceilings: fio with io_uring and with libaio
 *   qd1     one read at a time, page cache warm: p50/p99 latency; floor: readSync
 *
 * Contenders are interleaved within every run so that drift (other load, thermal,
 * the page cache) hits all of them alike; tables report medians over runs.
 *
 *   bun run bench                          # defaults
 *   bun bench/randread.ts --runs 7 --seconds 3 --depth 64
 *   bun bench/randread.ts --only qd1       # rerun one section (cached,direct,qd1)
 */
import { closeSync, constants, existsSync, mkdirSync, openSync, readSync, statSync, writeSync } from "node:fs";
import { open as openHandle } from "node:fs/promises";
import { cpus, release } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { allocAligned, availableBackends, Context, type BackendName } from "../src/index.ts";
import { ensureFio, FIO_HINT, fioRandRead, type FioEngine } from "./fio.ts";
import { latencySummary, median, type Latency } from "./stats.ts";

const SECTIONS = ["cached", "direct", "qd1"] as const;
type Section = (typeof SECTIONS)[number];

const { values: args } = parseArgs({
  options: {
    runs: { type: "string", default: "5" },
    seconds: { type: "string", default: "2" },
    depth: { type: "string", default: "64" },
    "file-mib": { type: "string", default: "256" },
    dir: { type: "string", default: join(import.meta.dir, ".data") },
    only: { type: "string", default: SECTIONS.join(",") },
  },
});
const RUNS = Number(args.runs);
const SECONDS = Number(args.seconds);
const DEPTH = Number(args.depth);
const FILE_BYTES = Number(args["file-mib"]) * 1024 * 1024;
const BLOCK = 4096;
const BLOCKS = FILE_BYTES / BLOCK;
const ONLY = parseSections(args.only!);

function parseSections(list: string): Set<Section> {
  const names = list.split(",").map((name) => name.trim()).filter((name) => name !== "");
  const unknown = names.filter((name) => !(SECTIONS as readonly string[]).includes(name));
  if (unknown.length > 0 || names.length === 0) {
    console.error(`--only takes a comma-separated list of ${SECTIONS.join(", ")}; got "${list}"`);
    process.exit(2);
  }
  return new Set(names as Section[]);
}

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
const blockAt = (i: number) => SEQUENCE[i & (SEQUENCE.length - 1)]!;

/** Every word of the file holds its own index, so a read's first word proves it read the right block. */
function verify(buffer: Buffer, bytesRead: number, block: number): void {
  if (bytesRead !== BLOCK || buffer.readUInt32LE(0) !== (block * BLOCK) >>> 2) throw new Error(`bad read at block ${block}`);
}

type ReadFn = (buffer: Buffer, offset: number) => Promise<number>;

/** Runs DEPTH workers for SECONDS and returns reads per second. */
async function measureThroughput(read: ReadFn): Promise<number> {
  const deadline = performance.now() + SECONDS * 1000;
  let next = 0;
  let completed = 0;
  const worker = async () => {
    const buffer = allocAligned(BLOCK);
    while (performance.now() < deadline) {
      const block = blockAt(next++);
      verify(buffer, await read(buffer, block * BLOCK), block);
      completed++;
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: DEPTH }, worker));
  return completed / ((performance.now() - started) / 1000);
}

/** One read at a time for SECONDS, timing each awaited read; nothing else is in flight. */
async function measureLatency(read: ReadFn): Promise<Latency> {
  const buffer = allocAligned(BLOCK);
  const nanoseconds: number[] = [];
  const deadline = Bun.nanoseconds() + SECONDS * 1e9;
  for (let i = 0; ; i++) {
    const block = blockAt(i);
    const started = Bun.nanoseconds();
    if (started >= deadline) break;
    const bytesRead = await read(buffer, block * BLOCK);
    nanoseconds.push(Bun.nanoseconds() - started);
    verify(buffer, bytesRead, block);
  }
  return latencySummary(nanoseconds);
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

/** Opens the contender, warming the page cache first for buffered reads, and measures one run. */
async function runContender<T>(contender: Contender, direct: boolean, measure: (read: ReadFn) => Promise<T>): Promise<T> {
  if (!direct) warmPageCache(filePath);
  const { read, teardown } = await contender.setup(direct);
  try {
    return await measure(read);
  } finally {
    await teardown();
  }
}

/** The single-core ceiling for cached reads: a synchronous pread loop, no promises at all. */
function readSyncThroughput(): number {
  warmPageCache(filePath);
  const fd = openSync(filePath, "r");
  const buffer = Buffer.alloc(BLOCK);
  const deadline = performance.now() + SECONDS * 1000;
  const started = performance.now();
  let count = 0;
  while (performance.now() < deadline) {
    for (let i = 0; i < 1024; i++) readSync(fd, buffer, 0, BLOCK, blockAt(count++) * BLOCK);
  }
  closeSync(fd);
  return count / ((performance.now() - started) / 1000);
}

/** The latency floor for cached reads: the same timing as measureLatency around a synchronous pread. */
function readSyncLatency(): Latency {
  warmPageCache(filePath);
  const fd = openSync(filePath, "r");
  const buffer = allocAligned(BLOCK);
  const nanoseconds: number[] = [];
  const deadline = Bun.nanoseconds() + SECONDS * 1e9;
  for (let i = 0; ; i++) {
    const block = blockAt(i);
    const started = Bun.nanoseconds();
    if (started >= deadline) break;
    const bytesRead = readSync(fd, buffer, 0, BLOCK, block * BLOCK);
    nanoseconds.push(Bun.nanoseconds() - started);
    verify(buffer, bytesRead, block);
  }
  closeSync(fd);
  return latencySummary(nanoseconds);
}

/** One line of a table: a label and how to take one sample (undefined: this run failed, already reported). */
interface Row<T> {
  label: string;
  sample(): T | undefined | Promise<T | undefined>;
}

/** RUNS rounds over all rows, in order, so every row sees the same drift; prints a progress line per sample. */
async function interleave<T>(mode: string, rows: Row<T>[], show: (value: T) => string): Promise<Map<string, T[]>> {
  const samples = new Map<string, T[]>(rows.map((row) => [row.label, []]));
  for (let run = 1; run <= RUNS; run++) {
    for (const row of rows) {
      const value = await row.sample();
      if (value === undefined) continue;
      samples.get(row.label)!.push(value);
      process.stdout.write(`  ${mode} run ${run}/${RUNS} ${row.label}: ${show(value)}\n`);
    }
  }
  return samples;
}

function fioRow(engine: FioEngine): Row<number> {
  const label = `fio ${engine} (device ceiling)`;
  return {
    label,
    sample() {
      const result = fioRandRead({ file: filePath, engine, block: BLOCK, depth: DEPTH, seconds: SECONDS });
      if ("iops" in result) return result.iops;
      process.stdout.write(`  O_DIRECT ${label}: failed: ${result.error}\n`);
      return undefined;
    },
  };
}

function printTable(headers: string[], rows: string[][]): void {
  console.log(`| ${headers.join(" | ")} |`);
  console.log(`|${headers.map((_, i) => (i === 0 ? "---" : "---:")).join("|")}|`);
  for (const row of rows) console.log(`| ${row.join(" | ")} |`);
}

const kiops = (v: number) => `${(v / 1000).toFixed(1)}K`;
const micros = (ns: number) => (ns / 1000).toFixed(2);
const percent = (ratio: number) => `${(ratio * 100).toFixed(1)}%`;

/** Sections cached and direct: IOPS with DEPTH reads in flight. */
async function throughputSection(direct: boolean): Promise<void> {
  const mode = direct ? "O_DIRECT" : "cached";
  const haveFio = direct && ensureFio();
  const ceilings: Row<number>[] = !direct
    ? [{ label: "readSync loop (single-core ceiling)", sample: readSyncThroughput }]
    : haveFio
      ? [fioRow("io_uring"), fioRow("libaio")]
      : [];
  const measured = contenders.map((c): Row<number> => ({
    label: c.label,
    sample: () => runContender(c, direct, measureThroughput),
  }));
  const samples = await interleave(mode, [...ceilings, ...measured], (v) => `${kiops(v)} IOPS`);

  const mid = (label: string) => median(samples.get(label)!);
  const base = mid(bunFs.label);
  console.log(`\n### ${mode} 4 KiB random reads, ${DEPTH} in flight (median of ${RUNS})\n`);
  printTable(
    ["contender", "IOPS median", "min – max", "vs Bun fs"],
    [...measured, ...ceilings].map(({ label }) => {
      const values = samples.get(label)!;
      if (values.length === 0) return [label, "failed", "", ""];
      return [label, kiops(mid(label)), `${kiops(Math.min(...values))} – ${kiops(Math.max(...values))}`, `${(mid(label) / base).toFixed(2)}×`];
    }),
  );
  if (direct && !haveFio) console.log(`\n${FIO_HINT}`);
  if (direct && haveFio) console.log(`\n${uringVersusFio(samples)}`);
  console.log("");
}

/** The primary O_DIRECT target: caio's io_uring backend within 90% of fio's io_uring engine. */
function uringVersusFio(samples: Map<string, number[]>): string {
  const caioUring = samples.get("caio uring") ?? [];
  const fio = samples.get("fio io_uring (device ceiling)") ?? [];
  if (caioUring.length === 0) return `caio uring / fio io_uring: n/a (caio uring: ${unavailable.get("uring") ?? "no sample"})`;
  if (fio.length === 0) return "caio uring / fio io_uring: n/a (fio io_uring failed every run)";
  const ratio = median(caioUring) / median(fio);
  return `caio uring / fio io_uring = ${percent(ratio)} (medians; target ≥ 90%: ${ratio >= 0.9 ? "met" : "NOT met"})`;
}

/** Section qd1: per-operation latency of cached reads issued one at a time. */
async function latencySection(): Promise<void> {
  const floor: Row<Latency> = { label: "readSync (floor)", sample: readSyncLatency };
  const measured = contenders.map((c): Row<Latency> => ({
    label: c.label,
    sample: () => runContender(c, false, measureLatency),
  }));
  const samples = await interleave("qd1", [floor, ...measured], (l) => `p50 ${micros(l.p50)} µs, p99 ${micros(l.p99)} µs`);

  const p50s = (label: string) => samples.get(label)!.map((l) => l.p50);
  const base = median(p50s(bunFs.label));
  console.log(`\n### cached 4 KiB random reads one at a time (queue depth 1), latency in µs (median of ${RUNS})\n`);
  printTable(
    ["contender", "p50 µs", "p50 min – max", "p99 µs", "p50 vs Bun fs"],
    [...measured, floor].map(({ label }) => {
      const p50 = p50s(label);
      const p99 = median(samples.get(label)!.map((l) => l.p99));
      const range = `${micros(Math.min(...p50))} – ${micros(Math.max(...p50))}`;
      return [label, micros(median(p50)), range, micros(p99), `${(median(p50) / base).toFixed(2)}×`];
    }),
  );
  console.log(`\n(p50 vs Bun fs ≤ 1.00× means caio is at least as fast; p99 is the median of each run's p99)\n`);
}

const filePath = prepareFile();
const backends = availableBackends();
/** Backends that cannot run here, with the reason, for the header and the uring target line. */
const unavailable = new Map(backends.filter((b) => !b.available).map((b) => [b.name, b.reason ?? "unavailable"]));
const contenders = [bunFs, ...backends.filter((b) => b.available).map((b) => caio(b.name))];

console.log(
  `randread: ${BLOCK} B random reads, ${FILE_BYTES >> 20} MiB file, ${DEPTH} in flight (qd1: 1), ` +
    `${RUNS} runs x ${SECONDS} s per contender; sections: ${[...ONLY].join(", ")}\n` +
    `machine: ${cpus()[0]?.model ?? "?"} x${cpus().length}, Linux ${release()}, Bun ${Bun.version}`,
);
for (const [name, reason] of unavailable) console.log(`caio ${name}: unavailable (${reason})`);
console.log("");

if (ONLY.has("cached")) await throughputSection(false);
if (ONLY.has("direct")) await throughputSection(true);
if (ONLY.has("qd1")) await latencySection();
