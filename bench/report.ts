/** The Markdown report: targets, a summary matrix, then every table with medians and ranges. */
import { CEILING_LABEL } from "./ceiling.ts";
import { BUN_FS_LABEL } from "./contenders.ts";
import { figure, mib, percent, ratio } from "./format.ts";
import { machineLine } from "./machine.ts";
import {
  lowerIsBetter,
  type BenchResults,
  type RssResult,
  type Series,
  type SweepLine,
  type SweepResult,
  type Unit,
  type WorkloadResult,
} from "./results.ts";
import { median, minMax } from "./stats.ts";
import type { TargetCheck } from "./targets.ts";

/** A Markdown table; figures are right-aligned, text columns (`leftColumns`) left-aligned. */
function table(headers: string[], rows: string[][], leftColumns = 1): string {
  const head = `| ${headers.join(" | ")} |\n|${headers.map((_, i) => (i < leftColumns ? "---" : "---:")).join("|")}|`;
  return [head, ...rows.map((row) => `| ${row.join(" | ")} |`)].join("\n");
}

/** What a workload's ratios are against: Bun fs unless the workload names another row. */
export const baselineOf = (w: WorkloadResult) => w.baseline ?? BUN_FS_LABEL;

/** Speed-up against the baseline (Bun fs in most workloads): > 1 is better for every unit (latency and gaps are inverted). */
export function speedup(w: WorkloadResult, s: Series): number | undefined {
  const base = w.series.find((x) => x.label === baselineOf(w))?.samples ?? [];
  if (s.samples.length === 0 || base.length === 0) return undefined;
  return lowerIsBetter(w.unit) ? median(base) / median(s.samples) : median(s.samples) / median(base);
}

/**
 * The share of the C ceiling a row reaches: its median over the ceiling's (for latency,
 * the ceiling's over its), or undefined when the ceiling has no figure in this workload.
 */
export function ofCeiling(w: WorkloadResult, s: Series): number | undefined {
  const ceiling = w.series.find((x) => x.label === CEILING_LABEL)?.samples ?? [];
  if (s.label === CEILING_LABEL || s.samples.length === 0 || ceiling.length === 0) return undefined;
  return lowerIsBetter(w.unit) ? median(ceiling) / median(s.samples) : median(s.samples) / median(ceiling);
}

const hasCeiling = (w: WorkloadResult) => w.series.some((s) => s.label === CEILING_LABEL && s.samples.length > 0);

function ceilingCell(w: WorkloadResult, s: Series): string {
  const share = ofCeiling(w, s);
  return share === undefined ? "" : percent(share);
}

/** The ratio, or nothing when the baseline has no figure to compare with (it failed every run). */
function versusCell(w: WorkloadResult, s: Series): string {
  const value = speedup(w, s);
  return value === undefined ? "" : ratio(value);
}

function emptyReason(s: Series): string {
  return s.skipped ? `skipped: ${s.skipped}` : "failed every run";
}

/** A series with fewer samples than runs says so: some runs failed (reason in the progress output). */
function sampleNote(s: Series, runs: number): string {
  return s.samples.length < runs ? ` (${s.samples.length} of ${runs} runs)` : "";
}

const medianCell = (unit: Unit, values: number[] | undefined) => (values && values.length > 0 ? figure(unit, median(values)) : "");

/** A figure some workloads show after the range: p99 for latency, the round time for the gap. */
interface ExtraColumn {
  header: string;
  cell(s: Series): string;
}

function columnsOf(unit: Unit, baseline: string): { headers: string[]; extra?: ExtraColumn } {
  switch (unit) {
    case "µs": {
      const extra = { header: "p99 µs (median)", cell: (s: Series) => medianCell(unit, s.p99) };
      return { headers: ["p50 µs", "p50 min – max", extra.header, "Bun fs p50 / p50"], extra };
    }
    case "ms": {
      const extra = { header: "round ms (median)", cell: (s: Series) => medianCell(unit, s.roundMs) };
      return { headers: ["longest gap ms (median)", "min – max", extra.header, "Bun fs gap / gap"], extra };
    }
    default:
      return { headers: [`${unit} median`, "min – max", baseline === BUN_FS_LABEL ? "vs Bun fs" : `vs ${baseline}`] };
  }
}

function workloadTable(w: WorkloadResult, runs: number): string {
  const heading = `### ${w.title} (${w.detail})`;
  if (w.skipped) return `${heading}\n\nSkipped: ${w.skipped}`;
  const { headers, extra } = columnsOf(w.unit, baselineOf(w));
  const ceiling = hasCeiling(w);
  if (ceiling) headers.push(w.unit === "µs" ? "C ceiling p50 / p50" : "% of C ceiling");
  const rows = w.series.map((s) => {
    if (s.samples.length === 0) return [s.label, emptyReason(s), "", ...(extra ? [""] : []), "", ...(ceiling ? [""] : [])];
    const [low, high] = minMax(s.samples);
    const cells = [s.label + sampleNote(s, runs), figure(w.unit, median(s.samples)), `${figure(w.unit, low)} – ${figure(w.unit, high)}`];
    if (extra) cells.push(extra.cell(s));
    cells.push(versusCell(w, s));
    if (ceiling) cells.push(ceilingCell(w, s));
    return cells;
  });
  const note = w.note ? `${w.note}\n\n` : "";
  return `${heading}\n\n${note}${table(["contender", ...headers], rows)}`;
}

/** The summary's column for a workload: its id and unit, unless a name says more. */
function summaryColumn(w: WorkloadResult): string {
  if (w.id === "gap") return "FUSE gap ms";
  if (w.id.startsWith("w6")) return `W6 ${w.title.split(" ")[1]} ${w.unit}`;
  const against = w.baseline ? ` (vs ${w.baseline})` : "";
  return `${w.id.toUpperCase()} ${w.unit}${w.unit === "µs" ? " p50" : ""}${against}`;
}

/**
 * Contenders × workloads, each cell the median and its speed-up against Bun fs, or the
 * baseline the column names (caio rows: and their share of the C ceiling).
 */
export function summaryTable(workloads: WorkloadResult[]): string {
  const ran = workloads.filter((w) => !w.skipped);
  const labels = [...new Set(ran.flatMap((w) => w.series.map((s) => s.label)))];
  const headers = ["contender", ...ran.map(summaryColumn)];
  const rows = labels.map((label) => [
    label,
    ...ran.map((w) => {
      const s = w.series.find((x) => x.label === label);
      if (!s || s.samples.length === 0) return "–";
      const notes = [versusCell(w, s), s.role === "caio" && hasCeiling(w) ? `${ceilingCell(w, s)} of C` : ""].filter(Boolean);
      return notes.length > 0 ? `${figure(w.unit, median(s.samples))} (${notes.join(", ")})` : figure(w.unit, median(s.samples));
    }),
  ]);
  return table(headers, rows);
}

export function targetsTable(checks: TargetCheck[]): string {
  const verdict = (c: TargetCheck) => (c.met === undefined ? "n/a" : c.met ? "met" : "**missed**");
  return table(["target", "this run (medians)", "verdict"], checks.map((c) => [c.target, c.figure, verdict(c)]), 3);
}

function sweepTable(s: SweepResult): string {
  if (s.skipped) return `### ${s.title}\n\nSkipped: ${s.skipped}`;
  const ceiling = s.lines.find((line) => line.label === CEILING_LABEL);
  const cell = (line: SweepLine, m: number | undefined, i: number) => {
    if (m === undefined) return "–";
    const top = ceiling?.medians[i];
    return line.role === "caio" && top !== undefined ? `${figure("IOPS", m)} (${percent(m / top)})` : figure("IOPS", m);
  };
  const rows = s.lines.map((line) => [line.label, ...line.medians.map((m, i) => cell(line, m, i))]);
  const caption = ceiling ? "median IOPS; caio rows: share of the C ceiling at that depth" : "median IOPS";
  return `### ${s.title} (${caption})\n\n${table(["contender", ...s.depths.map(String)], rows)}`;
}

function rssTable(results: RssResult[]): string {
  const rows = results.map((r) =>
    r.error
      ? [r.label, `failed: ${r.error}`, "", "", ""]
      : [r.label, mib(r.startMiB), mib(r.endMiB), mib(r.endMiB - r.startMiB), mib(r.peakMiB)],
  );
  const ops = results[0]?.operations.toLocaleString("en-US") ?? "?";
  const warmup = results.find((r) => !r.error)?.warmupOperations.toLocaleString("en-US") ?? "?";
  return (
    `### RSS over ${ops} cached 4 KiB reads, 64 in flight, after ${warmup} warm-up reads\n\n` +
    `Each in a fresh process; RSS after a full GC before and after.\n\n` +
    table(["contender", "RSS start", "RSS end", "growth", "peak"], rows)
  );
}

export function markdownReport(results: BenchResults, checks: TargetCheck[]): string {
  const parts = [
    "# caio benchmark",
    `Written by \`bun run bench\` (bench/index.ts); do not edit by hand.\n\n${machineLine(results.machine)}`,
    `Medians of ${results.runs} interleaved runs of ${results.seconds} s per contender ` +
      `(sweep: ${results.sweepSeconds} s per point); ${results.fileBytes >> 20} MiB test file on the machine's disk. ` +
      `Ratios are against Bun's \`node:fs/promises\` in the same run; for latency and the FUSE gap, Bun's figure divided by the contender's, ` +
      `so above 1× is better everywhere. fio and the synchronous loops (readSync, readFileSync, statSync, writeFileSync) are references, not rivals.` +
      (results.workloads.some(hasCeiling)
        ? ` Nor is the C io_uring ceiling: "% of C ceiling" is a row's median over the ceiling program's in the same run (for latency, the ceiling's p50 over the row's).`
        : ""),
    ...results.unavailable.map((u) => `caio ${u.name}: unavailable here (${u.reason}).`),
    "![caio against Bun's fs per workload, and the concurrency sweep](bench.svg)",
    `## Targets\n\n${targetsTable(checks)}`,
    `## Summary: median (vs Bun fs, or the baseline a column names)\n\n${summaryTable(results.workloads)}`,
    `## Workloads\n\n${results.workloads.map((w) => workloadTable(w, results.runs)).join("\n\n")}`,
  ];
  if (results.sweeps.length > 0) parts.push(`## Concurrency sweep\n\n${results.sweeps.map(sweepTable).join("\n\n")}`);
  if (results.rss) parts.push(`## Memory\n\n${rssTable(results.rss)}`);
  return parts.join("\n\n") + "\n";
}
