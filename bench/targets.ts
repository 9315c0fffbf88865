/** The targets, checked against one run's medians. */
import { BUN_FS_LABEL } from "./contenders.ts";
import { percent, ratio, withUnit, mib } from "./format.ts";
import { lowerIsBetter, type BenchResults, type Series, type WorkloadResult } from "./results.ts";
import { median } from "./stats.ts";
import { FIO_LABEL } from "./workloads/env.ts";
import { READ_SYNC_LABEL } from "./workloads/sync-reference.ts";

export interface TargetCheck {
  target: string;
  /** The figures behind the verdict, or why it could not be judged. */
  figure: string;
  /** undefined: not measured in this run. */
  met?: boolean;
}

/** Largest RSS growth a backend may show over the measured operations. */
export const RSS_LIMIT_MIB = 16;

function medianOf(w: WorkloadResult, label: string): number | undefined {
  const samples = w.series.find((s) => s.label === label)?.samples ?? [];
  return samples.length > 0 ? median(samples) : undefined;
}

/** The caio backend (aligned buffers) with the best median in `w`. */
export function bestCaio(w: WorkloadResult): Series | undefined {
  const sign = lowerIsBetter(w.unit) ? -1 : 1;
  return w.series
    .filter((s) => s.role === "caio" && !s.variant && s.samples.length > 0)
    .sort((a, b) => sign * (median(b.samples) - median(a.samples)))[0];
}

/** best caio / reference (or reference / best for latency), with both figures in words. */
function compare(w: WorkloadResult | undefined, reference: string, goal: number, name: string, asPercent = false): TargetCheck {
  if (!w) return { target: name, figure: "not run" };
  if (w.skipped) return { target: name, figure: `skipped: ${w.skipped}` };
  const best = bestCaio(w);
  const base = medianOf(w, reference);
  if (!best || base === undefined) return { target: name, figure: `no figure for ${best ? reference : "any caio backend"}` };
  const value = median(best.samples);
  const r = value / base;
  const met = lowerIsBetter(w.unit) ? r <= goal : r >= goal;
  const shown = asPercent ? percent(r) : ratio(r);
  return { target: name, met, figure: `${best.label} ${withUnit(w.unit, value)} = ${shown} of ${reference} (${withUnit(w.unit, base)})` };
}

function rssCheck(results: BenchResults): TargetCheck {
  const name = `RSS grows ≤ ${RSS_LIMIT_MIB} MiB over the operations after warm-up, every caio backend`;
  const caio = (results.rss ?? []).filter((r) => r.label !== BUN_FS_LABEL);
  if (caio.length === 0) return { target: name, figure: "not run" };
  const growth = caio.map((r) => ({ label: r.label, growth: r.endMiB - r.startMiB, error: r.error }));
  const failed = growth.filter((g) => g.error);
  const worst = growth.filter((g) => !g.error).sort((a, b) => b.growth - a.growth)[0];
  const ops = caio[0]!.operations.toLocaleString("en-US");
  const figure = worst ? `largest: ${worst.label} ${mib(worst.growth)} over ${ops} reads` : "every probe failed";
  const met = failed.length === 0 && worst !== undefined && worst.growth <= RSS_LIMIT_MIB;
  return { target: name, met, figure: failed.length > 0 ? `${figure}; failed: ${failed.map((f) => f.label).join(", ")}` : figure };
}

export function checkTargets(results: BenchResults): TargetCheck[] {
  const w = (id: WorkloadResult["id"]) => results.workloads.find((x) => x.id === id);
  return [
    compare(w("w1"), BUN_FS_LABEL, 2.0, "W1 best caio ≥ 2.0× Bun fs"),
    compare(w("w1"), READ_SYNC_LABEL, 0.8, "W1 best caio ≥ 80% of a readSync loop", true),
    compare(w("w2"), FIO_LABEL, 0.9, "W2 best caio ≥ 90% of fio io_uring", true),
    compare(w("w3"), BUN_FS_LABEL, 1.0, "W3 best caio p50 ≤ Bun fs p50"),
    compare(w("w4"), BUN_FS_LABEL, 1.0, "W4 best caio ≥ 1.0× Bun fs"),
    compare(w("w5"), BUN_FS_LABEL, 1.5, "W5 best caio ≥ 1.5× Bun fs"),
    rssCheck(results),
  ];
}
