/** RSS growth over many operations after warm-up, per caio backend and for Bun's fs, each in its own process. */
import { join } from "node:path";
import { warmPageCache } from "../files.ts";
import type { RssResult } from "../results.ts";
import { progress } from "../run.ts";
import type { BenchEnv } from "./env.ts";

const PROBE = join(import.meta.dir, "rss-probe.ts");

async function runProbe(name: string, label: string, operations: number, path: string): Promise<RssResult> {
  const child = Bun.spawn([process.execPath, PROBE, name, String(operations), path], { stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  const empty = { label, operations, warmupOperations: 0, startMiB: NaN, endMiB: NaN, peakMiB: NaN };
  try {
    return { ...empty, ...JSON.parse(stdout.trim().split("\n").at(-1)!) };
  } catch {
    return { ...empty, error: stderr.trim().split("\n").slice(-3).join(" ").slice(0, 300) || "no output" };
  }
}

export async function rss(env: BenchEnv): Promise<RssResult[]> {
  const operations = env.options.rssOperations;
  const probes = env.contenders
    .filter((c) => c.role === "baseline" || (c.backend && !c.variant))
    .map((c) => ({ name: c.backend ?? "bunfs", label: c.label }));
  warmPageCache(env.files.readPath);
  const results: RssResult[] = [];
  for (const { name, label } of probes) {
    const result = await runProbe(name, label, operations, env.files.readPath);
    const growth = (result.endMiB - result.startMiB).toFixed(1);
    progress(`RSS ${label}: ${result.error ? `failed (${result.error})` : `${growth} MiB growth over ${operations} reads (peak ${result.peakMiB.toFixed(0)} MiB)`}`);
    results.push(result);
  }
  return results;
}
