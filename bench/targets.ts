/** The issue's targets, checked against one run's medians. */
import { CEILING_LABEL } from "./ceiling.ts";
import { BUN_FS_LABEL, FILE_VARIANT, READ_MANY_VARIANT, READ_VARIANT } from "./contenders.ts";
import { PYTHON_CAIO_FAMILY } from "./python-caio.ts";
import { percent, ratio, withUnit, mib } from "./format.ts";
import { lowerIsBetter, type BenchResults, type Series, type WorkloadResult } from "./results.ts";
import { median } from "./stats.ts";
import { FIO_LABEL } from "./workloads/env.ts";
import { LINES_FAMILY, READLINE_LABEL } from "./workloads/lines.ts";
import { BUN_STREAM_LABEL, READABLE_FAMILY } from "./workloads/streaming.ts";
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

/** The caio backend (aligned buffers, a bare fd or a File) with the best median in `w`. */
export function bestCaio(w: WorkloadResult): Series | undefined {
  const sign = lowerIsBetter(w.unit) ? -1 : 1;
  return w.series
    .filter((s) => s.role === "caio" && (!s.variant || s.variant === FILE_VARIANT) && s.samples.length > 0)
    .sort((a, b) => sign * (median(b.samples) - median(a.samples)))[0];
}

/** The row of `family` (e.g. caio's readable() on every backend) with the best median in `w`. */
const bestOf = (family: string) => (w: WorkloadResult) =>
  w.series.filter((s) => s.family === family && s.samples.length > 0).sort((a, b) => median(b.samples) - median(a.samples))[0];

/**
 * best caio (or the best row `pick` gives) / reference (or reference / best for
 * latency), with both figures in words.
 */
function compare(
  w: WorkloadResult | undefined,
  reference: string,
  goal: number,
  name: string,
  asPercent = false,
  pick: (w: WorkloadResult) => Series | undefined = bestCaio,
): TargetCheck {
  if (!w) return { target: name, figure: "not run" };
  if (w.skipped) return { target: name, figure: `skipped: ${w.skipped}` };
  const best = pick(w);
  const base = medianOf(w, reference);
  if (!best || base === undefined) return { target: name, figure: `no figure for ${best ? reference : "any caio backend"}` };
  const value = median(best.samples);
  const r = value / base;
  const met = lowerIsBetter(w.unit) ? r <= goal : r >= goal;
  const shown = asPercent ? percent(r) : ratio(r);
  return { target: name, met, figure: `${best.label} ${withUnit(w.unit, value)} = ${shown} of ${reference} (${withUnit(w.unit, base)})` };
}

/** Each backend's read() against its own readInto in the same table; met when every backend reaches `goal`. */
function readVersusReadInto(w: WorkloadResult | undefined, goal: number, name: string): TargetCheck {
  if (!w) return { target: name, figure: "not run" };
  const pairs = w.series
    .filter((s) => s.variant === READ_VARIANT)
    .map((s) => ({ label: s.label, read: medianOf(w, s.label), readInto: medianOf(w, s.label.replace(`, ${READ_VARIANT}`, "")) }))
    .filter((p): p is { label: string; read: number; readInto: number } => p.read !== undefined && p.readInto !== undefined);
  if (pairs.length === 0) return { target: name, figure: "no read() figures in this run" };
  const shares = pairs.map((p) => ({ ...p, share: p.read / p.readInto }));
  const figure = shares.map((p) => `${p.label.replace(`, ${READ_VARIANT}`, "")} ${percent(p.share)}`).join(", ");
  return { target: name, met: shares.every((p) => p.share >= goal), figure: `read() / readInto: ${figure}` };
}

/** The best readMany row against the C ceiling, with each backend's readMany / readInto beside it. */
function readManyVersusCeiling(w: WorkloadResult | undefined, goal: number, name: string): TargetCheck {
  if (!w) return { target: name, figure: "not run" };
  const rows = w.series.filter((s) => s.variant === READ_MANY_VARIANT && s.samples.length > 0);
  const best = rows.sort((a, b) => median(b.samples) - median(a.samples))[0];
  const ceiling = medianOf(w, CEILING_LABEL);
  if (!best || ceiling === undefined) return { target: name, figure: `no figure for ${best ? CEILING_LABEL : "readMany"}` };
  const shares = rows
    .map((s) => ({ label: s.label.replace(`, ${READ_MANY_VARIANT}`, ""), readInto: medianOf(w, s.label.replace(`, ${READ_MANY_VARIANT}`, "")), value: median(s.samples) }))
    .filter((p) => p.readInto !== undefined)
    .map((p) => `${p.label} ${percent(p.value / p.readInto!)}`);
  const value = median(best.samples);
  return {
    target: name,
    met: value / ceiling >= goal,
    figure: `${best.label} ${withUnit(w.unit, value)} = ${percent(value / ceiling)} of ${CEILING_LABEL} (${withUnit(w.unit, ceiling)}); readMany / readInto: ${shares.join(", ")}`,
  };
}

/** Best caio against the best row of `family` (e.g. Python caio's implementations). */
function versusFamily(w: WorkloadResult | undefined, family: string, goal: number, name: string): TargetCheck {
  if (!w) return { target: name, figure: "not run" };
  const best = bestCaio(w);
  const rival = w.series
    .filter((s) => s.family === family && s.samples.length > 0)
    .sort((a, b) => median(b.samples) - median(a.samples))[0];
  if (!best || !rival) return { target: name, figure: `no figure for ${best ? family : "any caio backend"}` };
  const r = median(best.samples) / median(rival.samples);
  return { target: name, met: r >= goal, figure: `${best.label} ${withUnit(w.unit, median(best.samples))} = ${ratio(r)} ${rival.label} (${withUnit(w.unit, median(rival.samples))})` };
}

/** The best caio line of a sweep against the C ceiling at each of `depths`; met when every depth reaches `goal`. */
function sweepVersusCeiling(results: BenchResults, workload: "w1" | "w2", depths: number[], goal: number, name: string): TargetCheck {
  const sweep = results.sweeps.find((s) => s.workload === workload);
  if (!sweep) return { target: name, figure: "not run (the sweep)" };
  if (sweep.skipped) return { target: name, figure: `skipped: ${sweep.skipped}` };
  const ceiling = sweep.lines.find((l) => l.label === CEILING_LABEL);
  const caio = sweep.lines.filter((l) => l.role === "caio");
  const points = depths.map((depth) => {
    const i = sweep.depths.indexOf(depth);
    const top = ceiling?.medians[i];
    const best = Math.max(...caio.map((l) => l.medians[i] ?? 0));
    return { depth, share: i >= 0 && top !== undefined && best > 0 ? best / top : undefined };
  });
  if (points.some((p) => p.share === undefined)) return { target: name, figure: "no ceiling or caio figure at some depth" };
  return {
    target: name,
    met: points.every((p) => p.share! >= goal),
    figure: `best caio / ceiling: ${points.map((p) => `qd${p.depth} ${percent(p.share!)}`).join(", ")}`,
  };
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
    compare(w("w1"), CEILING_LABEL, 0.85, "W1 best caio ≥ 85% of the C io_uring ceiling", true),
    versusFamily(w("w1"), PYTHON_CAIO_FAMILY, 4.0, "W1 best caio ≥ 4× Python caio's best"),
    readVersusReadInto(w("w1"), 0.8, "W1 read() ≥ 80% of readInto, every backend"),
    readManyVersusCeiling(w("w1"), 0.9, `W1 ${READ_MANY_VARIANT} ≥ 90% of the C io_uring ceiling`),
    compare(w("w2"), FIO_LABEL, 0.9, "W2 best caio ≥ 90% of fio io_uring", true),
    sweepVersusCeiling(results, "w2", [1, 4, 16, 64], 0.9, "W2 best caio ≥ 90% of the C ceiling at 1, 4, 16 and 64 in flight (sweep)"),
    compare(w("w3"), BUN_FS_LABEL, 1.0, "W3 best caio p50 ≤ Bun fs p50"),
    compare(w("w3"), CEILING_LABEL, 1.5, "W3 best caio p50 ≤ 1.5× the C ceiling's p50"),
    compare(w("w4"), BUN_FS_LABEL, 1.0, "W4 best caio ≥ 1.0× Bun fs"),
    compare(w("w5"), BUN_FS_LABEL, 1.5, "W5 best caio ≥ 1.5× Bun fs"),
    compare(w("w6read"), BUN_FS_LABEL, 3.0, "W6 readFile best caio ≥ 3× Bun fs.promises.readFile"),
    compare(w("w6read"), CEILING_LABEL, 0.5, "W6 readFile best caio ≥ 50% of the C io_uring ceiling", true),
    compare(w("w6stat"), BUN_FS_LABEL, 3.0, "W6 stat best caio ≥ 3× Bun fs.promises.stat"),
    compare(w("w6write"), BUN_FS_LABEL, 2.0, "W6 writeFile best caio ≥ 2× Bun fs.promises.writeFile"),
    compare(w("w7"), BUN_STREAM_LABEL, 3.0, "W7 best readable() ≥ 3× Bun.file().stream()", false, bestOf(READABLE_FAMILY)),
    compare(w("w7"), READ_SYNC_LABEL, 0.6, "W7 best readable() ≥ 60% of the readSync 1 MiB loop", true, bestOf(READABLE_FAMILY)),
    compare(w("w7d"), FIO_LABEL, 0.9, "W7d best caio direct stream ≥ 90% of fio (O_DIRECT sequential, same block size and depth)", true),
    compare(w("w8"), READLINE_LABEL, 1.5, "W8 best lines() ≥ 1.5× node:readline", false, bestOf(LINES_FAMILY)),
    rssCheck(results),
  ];
}
