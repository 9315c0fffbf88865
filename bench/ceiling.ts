/**
 * The C ceilings: small liburing programs (ceiling-reads.c for W1/W2/W3, ceiling-files.c
 * for linked open→read→close per file) that the bench compiles with the system cc into
 * bench/.data/ceiling and runs on the same file, offsets, block size and depth as a
 * workload: what one thread gets from io_uring with no runtime in the way. liburing
 * comes from Debian's liburing-dev, installed when missing if the bench runs as root;
 * otherwise the ceiling rows are skipped with the reason.
 */
import { existsSync, mkdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { aptInstall } from "./apt.ts";
import { runJsonLine, type Outcome } from "./subprocess.ts";

export const CEILING_LABEL = "C io_uring ceiling";

const PROGRAMS = ["ceiling-reads", "ceiling-files"] as const;
type Program = (typeof PROGRAMS)[number];

const cc = () => process.env.CC ?? "cc";

interface Built {
  dir: string;
  /** Why the programs cannot run here, or undefined once both are built. */
  skipped?: string;
}

let built: Built | undefined;

/** Compiles `program` unless its binary is newer than its source; the compiler's first error line on failure. */
function compile(program: Program, dir: string): string | undefined {
  const source = join(import.meta.dir, `${program}.c`);
  const binary = join(dir, program);
  const changed = Math.max(statSync(source).mtimeMs, statSync(join(import.meta.dir, "ceiling.h")).mtimeMs);
  if (existsSync(binary) && statSync(binary).mtimeMs >= changed) return undefined;
  const result = Bun.spawnSync([cc(), "-std=gnu11", "-O2", "-Wall", "-Wextra", "-o", binary, source, "-luring", "-lm"]);
  if (result.exitCode === 0) return undefined;
  const errors = result.stderr.toString().split("\n").map((line) => line.trim()).filter(Boolean);
  return (errors.find((line) => line.includes("error")) ?? errors[0] ?? `${cc()} exited with code ${result.exitCode}`).slice(0, 200);
}

function compileAll(dir: string): string | undefined {
  for (const program of PROGRAMS) {
    const error = compile(program, dir);
    if (error) return `${program}.c did not compile: ${error}`;
  }
  return undefined;
}

/**
 * Builds the ceiling programs once per process (installing liburing-dev first when its
 * header is missing and this is root); returns why the ceiling rows are skipped, or undefined.
 */
export function prepareCeilings(dataDir: string): string | undefined {
  if (built) return built.skipped;
  const dir = join(dataDir, "ceiling");
  mkdirSync(dir, { recursive: true });
  const skip = (reason: string) => (built = { dir, skipped: reason }).skipped;
  if (!Bun.which(cc())) return skip(`no C compiler (${cc()}) to build the ceiling programs`);
  let error = compileAll(dir);
  if (error?.includes("liburing.h")) {
    if (!aptInstall("liburing-dev", "liburing's header is missing")) {
      return skip(`liburing-dev is not installed ("apt-get install liburing-dev" adds the C ceiling rows)`);
    }
    error = compileAll(dir);
  }
  if (error) return skip(error);
  built = { dir };
  return undefined;
}

function binary(program: Program): string {
  if (!built || built.skipped) throw new Error(`the ceiling programs are not built (${built?.skipped ?? "prepareCeilings was not called"})`);
  return join(built.dir, program);
}

/** liburing-dev's Debian version, for the report, when dpkg knows it. */
export function liburingVersion(): string | undefined {
  const result = Bun.spawnSync(["dpkg-query", "-W", "-f", "${Version}", "liburing-dev"], { stderr: "ignore" });
  return result.exitCode === 0 && result.stdout.toString().trim() ? `liburing ${result.stdout.toString().trim()}` : undefined;
}

export interface CeilingReadsJob {
  file: string;
  block: number;
  depth: number;
  seconds: number;
  direct: boolean;
  /** Time every read (submission to completion seen) for p50/p99. */
  latency?: boolean;
}

export interface CeilingReadsResult {
  iops: number;
  reads: number;
  seconds: number;
  /** Latency runs: nanoseconds. */
  p50?: number;
  p99?: number;
}

/** The command line of one ceiling-reads.c run (prepareCeilings first). */
export function ceilingReadsArgv(job: CeilingReadsJob): string[] {
  const flags = [...(job.direct ? ["direct"] : []), ...(job.latency ? ["latency"] : [])];
  return [binary("ceiling-reads"), job.file, String(job.block), String(job.depth), String(job.seconds), ...flags];
}

/** One run of ceiling-reads.c: random reads of the workload's sequence, `depth` in flight. */
export function runCeilingReads(job: CeilingReadsJob): Promise<Outcome<CeilingReadsResult>> {
  return runJsonLine(ceilingReadsArgv(job));
}

export interface CeilingFilesJob {
  /** A directory of small regular files, read over and over for `seconds`. */
  dir: string;
  seconds: number;
  /** Chains in flight (default 64). */
  depth?: number;
  /** Bytes each read asks for (default 4096); a smaller file gives a short read, which ends its chain normally. */
  readBytes?: number;
}

export interface CeilingFilesResult {
  filesPerSecond: number;
  /** Chains completed within `seconds`. */
  files: number;
  bytes: number;
  seconds: number;
  /** Regular files found in the directory. */
  distinct: number;
}

/**
 * The C ceiling of W6: each file read by one linked OPENAT → READ → CLOSE chain on a
 * registered-file slot, 64 chains in flight. Call prepareCeilings(dataDir) first (it
 * returns why this cannot run, if it cannot).
 */
export async function runCeilingFiles(job: CeilingFilesJob): Promise<Outcome<CeilingFilesResult>> {
  const argv = [binary("ceiling-files"), job.dir, String(job.seconds), String(job.depth ?? 64), String(job.readBytes ?? 4096)];
  const result = await runJsonLine<{ files_per_second: number; files: number; bytes: number; seconds: number; distinct: number }>(argv);
  if ("error" in result) return result;
  const { files_per_second: filesPerSecond, files, bytes, seconds, distinct } = result;
  return { filesPerSecond, files, bytes, seconds, distinct };
}
