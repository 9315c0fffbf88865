/** W3: cached 4 KiB random reads one at a time; p50 and p99 of each awaited read. */
import type { WorkloadResult } from "../results.ts";
import { interleave, type Row } from "../run.ts";
import { readLatencies, type Latency } from "../shared/loops.mjs";
import { FILE_VARIANT } from "../contenders.ts";
import { ceilingRow, contenderRow, fioRow, nodeRow, seriesOf, standardContenders, type BenchEnv } from "./env.ts";
import { BLOCK } from "./random-read.ts";
import { readSyncReference, readSyncRow } from "./sync-reference.ts";

const micros = (ns: number) => (ns / 1000).toFixed(2);

/** caio through a File, beside the bare descriptors: at one read in flight the per-call look at a bare fd shows. */
const fileContenders = (env: BenchEnv) => env.contenders.filter((c) => c.variant === FILE_VARIANT);

export async function w3(env: BenchEnv): Promise<WorkloadResult> {
  const shape = { depth: 1, seconds: env.options.seconds, fileBytes: env.files.bytes, block: BLOCK };
  const rows: Row<Latency>[] = [
    ...[...standardContenders(env), ...fileContenders(env)].map((c) =>
      contenderRow("W3", env, c, "cached", shape, (file, s) => readLatencies(file.read, s)),
    ),
    nodeRow("W3", env, { loop: "latency", direct: false, ...shape }, (value) => value as Latency),
    fioRow("W3", env, { pattern: "randread", direct: false, ...shape }, ({ p50, p99 }) => ({ p50, p99 })),
    readSyncRow(() => readSyncReference.randomLatency(env.files, BLOCK, shape.seconds)),
    ceilingRow("W3", env, { direct: false, latency: true, block: BLOCK, depth: 1, seconds: shape.seconds }, ({ p50, p99 }) => ({ p50: p50!, p99: p99! })),
  ];
  const samples = await interleave("W3", env.options.runs, rows, (l) => `p50 ${micros(l.p50)} µs, p99 ${micros(l.p99)} µs`);
  const series = seriesOf(rows, samples, (l) => l.p50).map((s) => ({ ...s, p99: samples.get(s.label)!.map((l) => l.p99) }));
  const note =
    "The C io_uring ceiling (bench/ceiling-reads.c, liburing) times each read from its submission to the moment its completion is seen after io_uring_submit_and_wait(1), one read in flight.";
  return { id: "w3", title: "W3 cached 4 KiB reads, one at a time", detail: "latency of each awaited read", unit: "µs", note, series };
}
