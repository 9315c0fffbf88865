/**
 * fio as the O_DIRECT ceiling: what the kernel and device deliver to a C program
 * with the same block size, depth and file. Absent fio never fails the benchmark.
 */

export type FioEngine = "io_uring" | "libaio";

export interface FioJob {
  file: string;
  engine: FioEngine;
  block: number;
  depth: number;
  seconds: number;
}

export const FIO_HINT = `(fio is not installed: "apt-get install fio" adds the device's ceiling to the O_DIRECT table)`;

function aptGet(...args: string[]): boolean {
  console.log(`$ apt-get ${args.join(" ")}`);
  const result = Bun.spawnSync(["apt-get", ...args], {
    env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
    stdout: "inherit",
    stderr: "inherit",
  });
  return result.exitCode === 0;
}

/**
 * True when fio can be run (callers print FIO_HINT otherwise). As root with apt-get,
 * installs it first, refreshing the package lists only if that fails: they usually
 * are fresh enough, and an update is slow.
 */
export function ensureFio(): boolean {
  if (Bun.which("fio")) return true;
  if (process.getuid?.() !== 0 || !Bun.which("apt-get")) return false;
  console.log("fio is not installed; installing it with apt-get");
  const installed = aptGet("install", "-y", "fio") || (aptGet("update") && aptGet("install", "-y", "fio"));
  return installed && Bun.which("fio") !== null;
}

/** IOPS of one O_DIRECT random-read fio run, or why it failed (e.g. io_uring disabled by sysctl). */
export function fioRandRead(job: FioJob): { iops: number } | { error: string } {
  const result = Bun.spawnSync([
    "fio",
    "--name=caio",
    `--filename=${job.file.replaceAll(":", "\\:")}`, // fio splits file lists on ':'
    "--readonly",
    "--rw=randread",
    "--norandommap", // random with repeats, like the contenders' sequence; no coverage bookkeeping
    `--bs=${job.block}`,
    "--direct=1",
    `--ioengine=${job.engine}`,
    `--iodepth=${job.depth}`,
    `--runtime=${Math.max(1, Math.round(job.seconds * 1000))}ms`,
    "--time_based",
    "--output-format=json",
  ]);
  const stdout = result.stdout.toString();
  if (result.exitCode !== 0) {
    const message = (result.stderr.toString() || stdout).trim().split("\n")[0];
    return { error: message || `exit code ${result.exitCode}` };
  }
  try {
    // Some fio versions print notes before the JSON document.
    return { iops: JSON.parse(stdout.slice(stdout.indexOf("{"))).jobs[0].read.iops };
  } catch {
    return { error: "could not parse fio's JSON output" };
  }
}
