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
 * Contenders interleave run by run in one process (the ceiling as a subprocess);
 * prints medians of `runs` runs of `seconds` each.
 *
 *   bun bench/overhead.ts [runs=5] [seconds=2]
 */
import { closeSync, openSync } from "node:fs";
import { join } from "node:path";
import { allocAligned, Context } from "../src/index.ts";
import { Operation } from "../src/scheduler/operation.ts";
import { ceilingReadsArgv, prepareCeilings } from "./ceiling.ts";
import { prepareFiles, warmPageCache } from "./files.ts";
import { randomBlocks, randomReads } from "./shared/loops.mjs";
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

const skipped = prepareCeilings(dataDir);
if (skipped) delete contenders["C io_uring ceiling"];
warmPageCache(files.readPath);

const samples: Record<string, Sample[]> = {};
const failures: Record<string, string> = {};
const names = Object.keys(contenders);
for (let run = 0; run < runs; run++) {
  // Each run starts one contender later, so none always runs first after another's garbage.
  for (let k = 0; k < names.length; k++) {
    const name = names[(k + run) % names.length]!;
    const sample = await contenders[name]!();
    if (typeof sample === "string") failures[name] = sample;
    else (samples[name] ??= []).push(sample);
  }
}

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
