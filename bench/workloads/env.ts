/** What every workload gets: options, files, the contenders that can run here, and the references. */
import { CEILING_LABEL, runCeilingFiles, runCeilingReads, type CeilingFilesJob, type CeilingReadsJob, type CeilingReadsResult } from "../ceiling.ts";
import type { Access, BatchReadFn, Contender, OpenedFile } from "../contenders.ts";
import type { BenchFiles } from "../files.ts";
import { warmPageCache } from "../files.ts";
import { runFio, type FioJob, type FioResult } from "../fio.ts";
import { runNode, type NodeJob } from "../node.ts";
import type { BenchOptions } from "../options.ts";
import type { PythonCaio } from "../python-caio.ts";
import type { Series } from "../results.ts";
import { failed, type Row } from "../run.ts";
import type { LoopShape, ReadFn, WriteFn } from "../shared/loops.mjs";

export interface BenchEnv {
  options: BenchOptions;
  files: BenchFiles;
  /** In-process contenders: Bun fs first (the baseline), then caio's available backends, then peers. */
  contenders: Contender[];
  /** Why fio rows are empty, or undefined when fio runs. */
  fioSkipped?: string;
  /** Why Node rows are empty, or undefined when node runs. */
  nodeSkipped?: string;
  /** Why the C ceiling rows are empty, or undefined when the ceiling programs are built. */
  ceilingSkipped?: string;
  /** Python caio's venv, or why its rows are skipped; undefined when no workload needs it. */
  pythonCaio?: PythonCaio;
}

/** The contenders every workload runs; W1 adds the caio variants (plain buffers, read()). */
export function standardContenders(env: BenchEnv): Contender[] {
  return env.contenders.filter((c) => !c.variant);
}

export const NODE_LABEL = "Node fs.promises";
export const FIO_LABEL = "fio io_uring";

export interface Loop<T> {
  (file: { read: ReadFn; readBatch?: BatchReadFn; write: WriteFn; sync(): Promise<void> }, shape: LoopShape): Promise<T>;
}

/** A row that opens `contender`, warms the page cache for buffered reads, runs `loop` once and closes. */
export function contenderRow<T>(
  name: string,
  env: BenchEnv,
  contender: Contender,
  access: Access,
  shape: Omit<LoopShape, "allocate">,
  loop: Loop<T>,
): Row<T> {
  const path = access === "write" ? env.files.writePath : env.files.readPath;
  return {
    label: contender.label,
    role: contender.role,
    variant: contender.variant,
    family: contender.family,
    skipped: contender.unsupported(access),
    async sample() {
      if (access === "cached") warmPageCache(path);
      let file: OpenedFile | undefined;
      try {
        file = await contender.open(path, access, shape.depth);
        return await loop(file, { ...shape, allocate: contender.allocate });
      } catch (error) {
        // Also a backend that stopped initialising mid-run (another process changed a sysctl).
        return failed(name, contender.label, (error as Error).message);
      } finally {
        await file?.close();
      }
    },
  };
}

/** Node's fs.promises in a subprocess, same loop and shape. */
export function nodeRow<T>(name: string, env: BenchEnv, job: Omit<NodeJob, "file">, pick: (value: unknown) => T): Row<T> {
  const file = job.loop === "writes" ? env.files.writePath : env.files.readPath;
  return {
    label: NODE_LABEL,
    role: "peer",
    skipped: env.nodeSkipped,
    async sample() {
      if (!job.direct && job.loop !== "writes") warmPageCache(file);
      const result = await runNode({ ...job, file });
      if ("error" in result) return failed(name, NODE_LABEL, result.error);
      return pick(result.value);
    },
  };
}

/** fio's io_uring engine on the same file and parameters. */
export function fioRow<T>(name: string, env: BenchEnv, job: Omit<FioJob, "file" | "fileBytes">, pick: (result: FioResult) => T): Row<T> {
  const file = job.pattern === "randwrite" ? env.files.writePath : env.files.readPath;
  return {
    label: FIO_LABEL,
    role: "ceiling",
    skipped: env.fioSkipped,
    async sample() {
      if (!job.direct && job.pattern !== "randwrite") warmPageCache(file);
      const result = runFio({ ...job, file, fileBytes: env.files.bytes });
      if ("error" in result) return failed(name, FIO_LABEL, result.error);
      return pick(result);
    },
  };
}

/** The C ceiling program (bench/ceiling-reads.c) on the same file, offsets, block size and depth. */
export function ceilingRow<T>(name: string, env: BenchEnv, job: Omit<CeilingReadsJob, "file">, pick: (result: CeilingReadsResult) => T): Row<T> {
  return {
    label: CEILING_LABEL,
    role: "ceiling",
    skipped: env.ceilingSkipped,
    async sample() {
      if (!job.direct) warmPageCache(env.files.readPath);
      const result = await runCeilingReads({ ...job, file: env.files.readPath });
      if ("error" in result) return failed(name, CEILING_LABEL, result.error);
      return pick(result);
    },
  };
}

/**
 * The C ceiling of a many-small-files workload (bench/ceiling-files.c): files per second
 * through linked OPENAT → READ → CLOSE chains over the files of `job.dir`, 64 in flight.
 */
export function ceilingFilesRow(name: string, env: BenchEnv, job: CeilingFilesJob): Row<number> {
  return {
    label: CEILING_LABEL,
    role: "ceiling",
    skipped: env.ceilingSkipped,
    async sample() {
      const result = await runCeilingFiles(job);
      return "error" in result ? failed(name, CEILING_LABEL, result.error) : result.filesPerSecond;
    },
  };
}

/** Rows and their samples as report series, in row order. */
export function seriesOf<T>(rows: Row<T>[], samples: Map<string, T[]>, figure: (value: T) => number): Series[] {
  return rows.map((row) => ({
    label: row.label,
    role: row.role,
    variant: row.variant,
    family: row.family,
    samples: samples.get(row.label)!.map(figure),
    skipped: row.skipped,
  }));
}
