/**
 * fio with its io_uring engine as the C reference: what the kernel and device deliver
 * to a program with no runtime in the way, same block size, depth and file. An absent
 * or failing fio never fails the benchmark; its rows say why they are empty.
 */
import { aptInstall } from "./apt.ts";

export type FioPattern = "randread" | "read" | "randwrite";

export interface FioJob {
  file: string;
  fileBytes: number;
  pattern: FioPattern;
  block: number;
  depth: number;
  seconds: number;
  direct: boolean;
  /** fdatasync after this many writes (randwrite only). */
  fdatasyncEvery?: number;
}

export interface FioResult {
  /** Operations per second of the job's direction. */
  iops: number;
  bytesPerSecond: number;
  /** Total latency (submission to completion) percentiles, nanoseconds. */
  p50: number;
  p99: number;
}

export const FIO_HINT = `fio is not installed ("apt-get install fio" adds the io_uring reference rows)`;

/** True when fio can be run; as root with apt-get, installs it first. */
export function ensureFio(): boolean {
  if (Bun.which("fio")) return true;
  return aptInstall("fio", "fio is not installed") && Bun.which("fio") !== null;
}

function fioArguments(job: FioJob): string[] {
  const args = [
    "fio",
    "--name=caio",
    `--filename=${job.file.replaceAll(":", "\\:")}`, // fio splits file lists on ':'
    `--size=${job.fileBytes}`,
    `--rw=${job.pattern}`,
    "--norandommap", // random with repeats, like the contenders' sequence; no coverage bookkeeping
    `--bs=${job.block}`,
    `--direct=${job.direct ? 1 : 0}`,
    "--invalidate=0", // keep the page cache the cached workloads rely on
    "--ioengine=io_uring",
    `--iodepth=${job.depth}`,
    `--runtime=${Math.max(1, Math.round(job.seconds * 1000))}ms`,
    "--time_based",
    "--lat_percentiles=1", // submission to completion, as the contenders' awaited reads are timed
    "--output-format=json",
  ];
  if (job.pattern !== "randwrite") args.push("--readonly");
  if (job.fdatasyncEvery) args.push(`--fdatasync=${job.fdatasyncEvery}`);
  return args;
}

/** One fio run, or why it failed (e.g. io_uring disabled by sysctl). */
export function runFio(job: FioJob): FioResult | { error: string } {
  const result = Bun.spawnSync(fioArguments(job));
  const stdout = result.stdout.toString();
  if (result.exitCode !== 0) {
    const message = (result.stderr.toString() || stdout).trim().split("\n")[0];
    return { error: message || `exit code ${result.exitCode}` };
  }
  try {
    // Some fio versions print notes before the JSON document.
    const job0 = JSON.parse(stdout.slice(stdout.indexOf("{"))).jobs[0];
    const side = job.pattern === "randwrite" ? job0.write : job0.read;
    const percentiles = side.lat_ns?.percentile ?? {};
    return {
      iops: side.iops,
      bytesPerSecond: side.bw_bytes,
      p50: percentiles["50.000000"] ?? NaN,
      p99: percentiles["99.000000"] ?? NaN,
    };
  } catch {
    return { error: "could not parse fio's JSON output" };
  }
}
