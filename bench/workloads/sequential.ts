/** W4: 1 MiB reads through the page-cached file in order (wrapping at its end). */
import type { WorkloadResult } from "../results.ts";
import { interleave, type Row } from "../run.ts";
import { sequentialReads } from "../shared/loops.mjs";
import { contenderRow, fioRow, nodeRow, seriesOf, standardContenders, type BenchEnv } from "./env.ts";
import { readSyncReference, readSyncRow } from "./sync-reference.ts";

const CHUNK = 1 << 20;
/** A reader that keeps the next chunks requested while it consumes one, as a stream with read-ahead does. */
export const SEQUENTIAL_DEPTH = 4;

export const mibPerSecond = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB/s`;

export async function w4(env: BenchEnv): Promise<WorkloadResult> {
  const shape = { depth: SEQUENTIAL_DEPTH, seconds: env.options.seconds, fileBytes: env.files.bytes, block: CHUNK };
  const rows: Row<number>[] = [
    ...standardContenders(env).map((c) => contenderRow("W4", env, c, "cached", shape, (file, s) => sequentialReads(file.read, s))),
    nodeRow("W4", env, { loop: "sequential", direct: false, ...shape }, (value) => value as number),
    fioRow("W4", env, { pattern: "read", direct: false, ...shape }, (result) => result.bytesPerSecond),
    readSyncRow(() => readSyncReference.sequentialThroughput(env.files, CHUNK, shape.seconds)),
  ];
  const samples = await interleave("W4", env.options.runs, rows, mibPerSecond);
  return {
    id: "w4",
    title: "W4 cached 1 MiB sequential reads",
    detail: `${SEQUENTIAL_DEPTH} in flight; readSync one at a time`,
    unit: "MiB/s",
    series: seriesOf(rows, samples, (v) => v),
  };
}
