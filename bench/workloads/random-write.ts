/** W5: rounds of 64 buffered 4 KiB random writes, each round made durable by one fdatasync. */
import type { WorkloadResult } from "../results.ts";
import { interleave, type Row } from "../run.ts";
import { syncedRandomWrites } from "../shared/loops.mjs";
import { contenderRow, fioRow, nodeRow, seriesOf, standardContenders, type BenchEnv } from "./env.ts";
import { BLOCK, DEPTH } from "./random-read.ts";

const perSecond = (writes: number) => `${(writes / 1000).toFixed(1)}K writes/s`;

export async function w5(env: BenchEnv): Promise<WorkloadResult> {
  const shape = { depth: DEPTH, seconds: env.options.seconds, fileBytes: env.files.bytes, block: BLOCK };
  const rows: Row<number>[] = [
    ...standardContenders(env).map((c) => contenderRow("W5", env, c, "write", shape, (file, s) => syncedRandomWrites(file.write, file.sync, s))),
    nodeRow("W5", env, { loop: "writes", direct: false, ...shape }, (value) => value as number),
    fioRow("W5", env, { pattern: "randwrite", direct: false, fdatasyncEvery: DEPTH, ...shape }, (result) => result.iops),
  ];
  const samples = await interleave("W5", env.options.runs, rows, perSecond);
  return {
    id: "w5",
    title: "W5 4 KiB random writes + fdatasync",
    detail: `${DEPTH} in flight, one fdatasync per ${DEPTH} writes`,
    unit: "writes/s",
    series: seriesOf(rows, samples, (v) => v),
  };
}
