/**
 * A/B of `sqpoll: true` against an ordinary ring on W1 (cached 4 KiB random reads,
 * 64 in flight) and W3 (the same one at a time, p50/p99), interleaved run by run in
 * one process with the bench's own loops and file. Prints medians.
 *
 *   bun bench/sqpoll.ts [runs=5] [seconds=2]
 */
import { closeSync, openSync } from "node:fs";
import { join } from "node:path";
import { allocAligned, Context } from "../src/index.ts";
import { readLatencies, randomReads } from "./shared/loops.mjs";

const runs = Number(process.argv[2] ?? 5);
const seconds = Number(process.argv[3] ?? 2);
const path = join(import.meta.dir, ".data", "read-268435456.bin");
const fileBytes = 256 * 1024 * 1024;
const shape = { seconds, fileBytes, block: 4096, allocate: (size: number) => allocAligned(size) };
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function sample(sqpoll: boolean, depth: number) {
  const fd = openSync(path, "r");
  const ctx = new Context({ backend: "uring", maxRequests: depth, sqpoll });
  if (ctx.sqpoll !== sqpoll) throw new Error(`sqpoll asked ${sqpoll}, got ${ctx.sqpoll}`);
  const read = (buffer: Buffer, offset: number) => ctx.readInto(buffer, fd, offset);
  const cpu = process.cpuUsage();
  const result = depth === 1 ? await readLatencies(read, shape) : await randomReads(read, { ...shape, depth });
  const used = process.cpuUsage(cpu);
  const calls = ctx.stats.submitCalls;
  await ctx.close();
  closeSync(fd);
  return { result, cpu: (used.user + used.system) / 1e6 / seconds, calls };
}

const rows: Record<string, { w1: number[]; p50: number[]; p99: number[]; cpu1: number[]; cpu3: number[] }> = {};
for (let run = 0; run < runs; run++) {
  for (const sqpoll of run % 2 ? [true, false] : [false, true]) {
    const label = sqpoll ? "sqpoll" : "ring";
    const row = (rows[label] ??= { w1: [], p50: [], p99: [], cpu1: [], cpu3: [] });
    const w1 = await sample(sqpoll, 64);
    const w3 = await sample(sqpoll, 1);
    const lat = w3.result as { p50: number; p99: number };
    row.w1.push(w1.result as number);
    row.cpu1.push(w1.cpu);
    row.p50.push(lat.p50 / 1000);
    row.p99.push(lat.p99 / 1000);
    row.cpu3.push(w3.cpu);
    console.log(`run ${run} ${label}: W1 ${((w1.result as number) / 1000).toFixed(1)}K IOPS (calls ${w1.calls}), W3 p50 ${(lat.p50 / 1000).toFixed(2)} µs p99 ${(lat.p99 / 1000).toFixed(2)} µs`);
  }
}
for (const [label, r] of Object.entries(rows)) {
  console.log(
    `${label.padEnd(7)} W1 median ${(median(r.w1) / 1000).toFixed(1)}K IOPS (process CPU ${median(r.cpu1).toFixed(2)}) · ` +
      `W3 p50 ${median(r.p50).toFixed(2)} µs, p99 ${median(r.p99).toFixed(2)} µs (process CPU ${median(r.cpu3).toFixed(2)})`,
  );
}
