/**
 * Where a W1 read's time goes: cached 4 KiB random reads, 64 in flight, on `uring`,
 * beside the C ceiling (bench/ceiling-reads.c) on the same file and sequence, with the
 * CPU each spends per read split into user and system time. The kernel's part of a
 * read (system time) is the same for both; what caio adds is user time: JavaScript,
 * JavaScriptCore's runtime and garbage collection.
 *
 * Two rows add one thing per read to the readInto loop, to price what the remaining
 * targets of issue 18 would need removed:
 * - a 4 KiB Buffer of its own (what read() and readMany must allocate per result, so
 *   that a result keeps only its own bytes alive);
 * - one more operation record (the most that pooling caio's records could save).
 *
 * W3 (one cached read at a time) is taken apart the same way, by p50 of each awaited
 * read: the C ceiling; caio's native path alone (the record staged, submitted and
 * reaped through the backend, no scheduler); the scheduler's own round trip on top of
 * it (Scheduler.enqueue awaited); and File.readInto, the public call.
 *
 * Contenders interleave run by run in one process (the ceiling as a subprocess);
 * prints medians of `runs` runs of `seconds` each.
 *
 *   bun bench/overhead.ts [runs=5] [seconds=2]
 */
import { closeSync, openSync } from "node:fs";
import { join } from "node:path";
import { ptr } from "bun:ffi";
import { OP_READ, STAGE_WORDS } from "../src/backends/backend.ts";
import { DEFAULT_AVOIDED_SETUP_FLAGS, openUringBackend } from "../src/backends/uring.ts";
import { allocAligned, Context, open } from "../src/index.ts";
import { Scheduler } from "../src/scheduler.ts";
import { OP_F_NATIVE, OP_F_OWNED } from "../src/scheduler/memory.ts";
import { Operation } from "../src/scheduler/operation.ts";
import { NO_OPTIONS, toOwnView } from "../src/validate.ts";
import type { OwnView } from "../src/views.ts";
import { ceilingReadsArgv, prepareCeilings } from "./ceiling.ts";
import { prepareFiles, warmPageCache } from "./files.ts";
import { randomBlocks, randomReads, readLatencies, type ReadFn } from "./shared/loops.mjs";
import { median } from "./stats.ts";

const runs = Number(process.argv[2] ?? 5);
const seconds = Number(process.argv[3] ?? 2);
const DEPTH = 64;
const BLOCK = 4096;
const dataDir = join(import.meta.dir, ".data");
const files = prepareFiles(dataDir, 256 * 1024 * 1024);
const shape = { depth: DEPTH, seconds, fileBytes: files.bytes, block: BLOCK, allocate: (size: number) => allocAligned(size) };

interface Sample {
  iops: number;
  /** CPU microseconds per read. */
  user: number;
  system: number;
}

/** Keeps what the priced rows allocate reachable until the next read, as a caller holding a result would. */
let kept: unknown;

async function caioSample(read: (ctx: Context, fd: number) => (buffer: Buffer, offset: number) => Promise<number>): Promise<Sample> {
  const fd = openSync(files.readPath, "r");
  const ctx = new Context({ backend: "uring", maxRequests: DEPTH });
  const before = process.cpuUsage();
  const iops = await randomReads(read(ctx, fd), shape);
  const used = process.cpuUsage(before);
  await ctx.close();
  closeSync(fd);
  const reads = iops * seconds;
  return { iops, user: used.user / reads, system: used.system / reads };
}

async function ceilingSample(): Promise<Sample | string> {
  const child = Bun.spawn(ceilingReadsArgv({ file: files.readPath, block: BLOCK, depth: DEPTH, seconds, direct: false }), { stdout: "pipe" });
  const [out, code] = await Promise.all([new Response(child.stdout).text(), child.exited]);
  if (code !== 0) return `ceiling-reads exited with ${code}`;
  const { iops, reads } = JSON.parse(out.trim().split("\n").at(-1)!) as { iops: number; reads: number };
  const cpu = child.resourceUsage()!.cpuTime;
  return { iops, user: Number(cpu.user) / reads, system: Number(cpu.system) / reads };
}

/** W1's pattern as readMany calls of 64 offsets (one call in flight), counted per read. */
async function readManySample(): Promise<Sample> {
  const fd = openSync(files.readPath, "r");
  const ctx = new Context({ backend: "uring", maxRequests: DEPTH });
  const sequence = randomBlocks(files.bytes / BLOCK);
  const offsets = new Float64Array(DEPTH);
  const before = process.cpuUsage();
  const started = performance.now();
  let next = 0;
  let reads = 0;
  while (performance.now() - started < seconds * 1000) {
    for (let i = 0; i < DEPTH; i++) offsets[i] = sequence[next++ & (sequence.length - 1)]! * BLOCK;
    const results = await ctx.readMany(fd, { offsets, length: BLOCK });
    if (results[0]!.readUInt32LE(0) !== offsets[0]! / 4) throw new Error("readMany read the wrong bytes");
    kept = results;
    reads += DEPTH;
  }
  const elapsed = (performance.now() - started) / 1000;
  const used = process.cpuUsage(before);
  await ctx.close();
  closeSync(fd);
  return { iops: reads / elapsed, user: used.user / reads, system: used.system / reads };
}

const contenders: Record<string, () => Promise<Sample | string>> = {
  "C io_uring ceiling": ceilingSample,
  "caio readInto": () => caioSample((ctx, fd) => (buffer, offset) => ctx.readInto(buffer, fd, offset)),
  "caio readInto + a 4 KiB Buffer per read": () =>
    caioSample((ctx, fd) => async (buffer, offset) => {
      const got = await ctx.readInto(buffer, fd, offset);
      kept = Buffer.allocUnsafeSlow(BLOCK);
      return got;
    }),
  "caio readInto + an operation record per read": () =>
    caioSample((ctx, fd) => async (buffer, offset) => {
      const got = await ctx.readInto(buffer, fd, offset);
      kept = new Operation(0, fd, offset, buffer, BLOCK, 0, undefined);
      return got;
    }),
  "caio read()": () =>
    caioSample((ctx, fd) => async (buffer, offset) => {
      const bytes = await ctx.read(BLOCK, fd, offset);
      bytes.copy(buffer, 0, 0, 4); // the loop checks the first word
      kept = bytes;
      return bytes.length;
    }),
  "caio readMany (64 per call)": readManySample,
};

/** W3 latency rows: p50 of each awaited read, in nanoseconds. */
type LatencyRow = () => Promise<number | string>;

async function ceilingLatency(): Promise<number | string> {
  const child = Bun.spawn(ceilingReadsArgv({ file: files.readPath, block: BLOCK, depth: 1, seconds, direct: false, latency: true }), { stdout: "pipe" });
  const [out, code] = await Promise.all([new Response(child.stdout).text(), child.exited]);
  if (code !== 0) return `ceiling-reads exited with ${code}`;
  return (JSON.parse(out.trim().split("\n").at(-1)!) as { p50: number }).p50;
}

/** The backend driven by hand: one record staged (flagged like a File's read into caio's memory), submitted, reaped. */
async function nativePathLatency(): Promise<number> {
  const fd = openSync(files.readPath, "r");
  const backend = openUringBackend(4, DEFAULT_AVOIDED_SETUP_FLAGS, {});
  const read = (buffer: Buffer, offset: number): number => {
    const address = ptr(buffer);
    const stage = backend.stage;
    stage.fill(0, 0, STAGE_WORDS);
    stage[0] = address >>> 0;
    stage[1] = Math.floor(address / 2 ** 32);
    stage[2] = offset >>> 0;
    stage[3] = Math.floor(offset / 2 ** 32);
    stage[4] = BLOCK;
    stage[5] = fd;
    stage[7] = OP_READ | OP_F_NATIVE | OP_F_OWNED;
    if (backend.submit(1) !== 1) throw new Error("the backend did not take the read");
    while (backend.reap() === 0);
    return backend.done[1]!;
  };
  // The loop awaits the number itself: one microtask, no promise made.
  const { p50 } = await readLatencies(read as unknown as ReadFn, { seconds, fileBytes: files.bytes, block: BLOCK, allocate: allocAligned });
  backend.close();
  closeSync(fd);
  return p50;
}

/** Scheduler.enqueue awaited, on a descriptor marked as a File's (looked at once, as File.readInto's is). */
async function schedulerLatency(): Promise<number> {
  const fd = openSync(files.readPath, "r");
  const scheduler = new Scheduler(openUringBackend(DEPTH, DEFAULT_AVOIDED_SETUP_FLAGS, {}));
  scheduler.filesFds.add(fd);
  const views = new WeakMap<Buffer, OwnView>();
  const read = (buffer: Buffer, offset: number) => {
    let own = views.get(buffer);
    if (!own) views.set(buffer, (own = toOwnView("buffer", buffer) as OwnView));
    return scheduler.enqueue(OP_READ, fd, offset, own, NO_OPTIONS);
  };
  const { p50 } = await readLatencies(read, { seconds, fileBytes: files.bytes, block: BLOCK, allocate: allocAligned });
  scheduler.filesFds.delete(fd);
  await scheduler.close();
  closeSync(fd);
  return p50;
}

async function fileLatency(): Promise<number> {
  await using ctx = new Context({ backend: "uring", maxRequests: DEPTH });
  await using file = await open(files.readPath, "r", { context: ctx });
  const { p50 } = await readLatencies((buffer: Buffer, offset: number) => file.readInto(buffer, offset), {
    seconds,
    fileBytes: files.bytes,
    block: BLOCK,
    allocate: allocAligned,
  });
  return p50;
}

const latencyRows: Record<string, LatencyRow> = {
  "C io_uring ceiling": ceilingLatency,
  "caio native path alone (backend submit + reap, no scheduler)": nativePathLatency,
  "caio scheduler round trip (Scheduler.enqueue awaited)": schedulerLatency,
  "caio File.readInto": fileLatency,
};

const skipped = prepareCeilings(dataDir);
if (skipped) {
  delete contenders["C io_uring ceiling"];
  delete latencyRows["C io_uring ceiling"];
}
warmPageCache(files.readPath);

const failures: Record<string, string> = {};

/** Runs every row `runs` times, interleaved; each run starts one row later, so none always runs first after another's garbage. */
async function interleaved<T>(rows: Record<string, () => Promise<T | string>>): Promise<Record<string, T[]>> {
  const out: Record<string, T[]> = {};
  const names = Object.keys(rows);
  for (let run = 0; run < runs; run++) {
    for (let k = 0; k < names.length; k++) {
      const name = names[(k + run) % names.length]!;
      const sample = await rows[name]!();
      if (typeof sample === "string") failures[name] = sample;
      else (out[name] ??= []).push(sample);
    }
  }
  return out;
}

const samples = await interleaved(contenders);
const names = Object.keys(contenders);

const base = samples["caio readInto"]!;
const ceiling = samples["C io_uring ceiling"];
const mid = (rows: Sample[], key: keyof Sample) => median(rows.map((row) => row[key]));
console.log(`W1 (4 KiB random cached reads, ${DEPTH} in flight, uring), medians of ${runs} runs of ${seconds} s${skipped ? `; no C ceiling: ${skipped}` : ""}\n`);
console.log("| contender | reads/s | of readInto | of C | user µs/read | system µs/read |");
console.log("|---|---:|---:|---:|---:|---:|");
for (const name of names) {
  const rows = samples[name];
  if (!rows) {
    console.log(`| ${name} | skipped: ${failures[name] ?? "no sample"} | | | | |`);
    continue;
  }
  const iops = mid(rows, "iops");
  const ofInto = `${((iops / mid(base, "iops")) * 100).toFixed(0)}%`;
  const ofC = ceiling ? `${((iops / mid(ceiling, "iops")) * 100).toFixed(0)}%` : "–";
  console.log(`| ${name} | ${(iops / 1000).toFixed(1)}K | ${ofInto} | ${ofC} | ${mid(rows, "user").toFixed(2)} | ${mid(rows, "system").toFixed(2)} |`);
}
void kept;

const latencies = await interleaved(latencyRows);
const latencyNames = Object.keys(latencyRows);
const ceilingP50 = latencies["C io_uring ceiling"] ? median(latencies["C io_uring ceiling"]) : undefined;
console.log(`\nW3 (one cached 4 KiB read at a time, uring), p50 of each awaited read, medians of ${runs} runs of ${seconds} s\n`);
console.log("| contender | p50 µs | × C ceiling |");
console.log("|---|---:|---:|");
for (const name of latencyNames) {
  const rows = latencies[name];
  if (!rows) {
    console.log(`| ${name} | skipped: ${failures[name] ?? "no sample"} | |`);
    continue;
  }
  const p50 = median(rows);
  console.log(`| ${name} | ${(p50 / 1000).toFixed(2)} | ${ceilingP50 ? `${(p50 / ceilingP50).toFixed(2)}×` : "–"} |`);
}
