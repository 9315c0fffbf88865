/** What a bench run produces: the report and the chart are drawn from these alone. */
import type { Role } from "./contenders.ts";
import type { Machine } from "./machine.ts";

export type Unit = "IOPS" | "MiB/s" | "writes/s" | "files/s" | "lines/s" | "µs" | "ms";

/** Latency (µs) and event-loop gaps (ms): the smaller figure wins. */
export const lowerIsBetter = (unit: Unit) => unit === "µs" || unit === "ms";

/** One contender's figures in one workload: one sample per run. */
export interface Series {
  label: string;
  role: Role;
  /** Set for caio measured on purpose with something other than aligned buffers. */
  variant?: string;
  /** Rows of one family (caio's read() on each backend, Python caio's implementations) are charted as one bar, their best. */
  family?: string;
  /** Per second (bytes for MiB/s), p50 nanoseconds for latency workloads, or milliseconds for the gap. */
  samples: number[];
  /** Latency workloads: each run's p99, nanoseconds. */
  p99?: number[];
  /** The gap workload: each run's median round time, milliseconds. */
  roundMs?: number[];
  /** Why there are no samples. */
  skipped?: string;
}

export interface WorkloadResult {
  /** W6 is three tables: readFile, stat and writeFile; W7d is W7 with O_DIRECT. */
  id: "w1" | "w2" | "w3" | "w4" | "w5" | "w6read" | "w6stat" | "w6write" | "w7" | "w7d" | "w8" | "gap";
  title: string;
  /** The parameters in a few words, for the table caption. */
  detail: string;
  unit: Unit;
  /**
   * The label ratios are taken against, when Bun's node:fs/promises has no row here
   * (W7: Bun.file().stream(), W8: node:readline, W7d: fio).
   */
  baseline?: string;
  /** How the figures were taken, when the caption cannot say it in a few words. */
  note?: string;
  series: Series[];
  /** The whole workload could not run here (e.g. no O_DIRECT). */
  skipped?: string;
}

export interface SweepLine {
  label: string;
  role: Role;
  /** Median per depth, undefined where every run failed. */
  medians: (number | undefined)[];
}

export interface SweepResult {
  workload: "w1" | "w2";
  title: string;
  depths: number[];
  lines: SweepLine[];
  skipped?: string;
}

export interface RssResult {
  label: string;
  operations: number;
  warmupOperations: number;
  /** RSS after warm-up and a full GC, MiB. */
  startMiB: number;
  /** RSS after the measured operations and a full GC, MiB. */
  endMiB: number;
  /** Highest RSS seen while the operations ran, MiB. */
  peakMiB: number;
  error?: string;
}

export interface BenchResults {
  machine: Machine;
  runs: number;
  seconds: number;
  sweepSeconds: number;
  fileBytes: number;
  /** caio backends that could not run here, with the reason. */
  unavailable: { name: string; reason: string }[];
  workloads: WorkloadResult[];
  sweeps: SweepResult[];
  rss?: RssResult[];
}
