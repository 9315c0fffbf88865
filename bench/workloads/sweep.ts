/** The concurrency sweep: W1 and W2 at 1 … 1024 reads in flight, medians per depth. */
import type { Access } from "../contenders.ts";
import type { SweepLine, SweepResult } from "../results.ts";
import { interleave } from "../run.ts";
import { median } from "../stats.ts";
import type { BenchEnv } from "./env.ts";
import { directUnsupported, kiops, randomReadRows } from "./random-read.ts";
import { READ_SYNC_LABEL } from "./sync-reference.ts";

async function sweep(env: BenchEnv, access: Access): Promise<SweepResult> {
  const workload = access === "direct" ? "w2" : "w1";
  const depths = env.options.sweepDepths;
  const title = `${workload.toUpperCase()} sweep: ${access === "direct" ? "O_DIRECT" : "cached"} 4 KiB random reads by reads in flight`;
  const skipped = access === "direct" ? directUnsupported(env.files.readPath) : undefined;
  if (skipped) return { workload, title, depths, lines: [], skipped };
  const lines = new Map<string, SweepLine>();
  for (const [index, depth] of depths.entries()) {
    const rows = randomReadRows(`sweep ${workload.toUpperCase()} depth ${depth}`, env, access, depth, env.options.sweepSeconds, { peers: false, variants: false })
      .filter((row) => row.label !== READ_SYNC_LABEL);
    const samples = await interleave(`sweep ${workload.toUpperCase()} depth ${depth}`, env.options.runs, rows, kiops);
    for (const row of rows) {
      const line = lines.get(row.label) ?? { label: row.label, role: row.role, medians: depths.map(() => undefined) };
      const values = samples.get(row.label)!;
      line.medians[index] = values.length > 0 ? median(values) : undefined;
      lines.set(row.label, line);
    }
  }
  return { workload, title, depths, lines: [...lines.values()] };
}

export async function sweeps(env: BenchEnv): Promise<SweepResult[]> {
  return [await sweep(env, "cached"), await sweep(env, "direct")];
}
