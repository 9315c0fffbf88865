/**
 * W6: many small whole files. Three tables over a directory of 10,000 files of 4 KiB
 * (made once under the data dir, kept between runs), each with 64 operations in flight
 * cycling over the files: readFile, stat, and writeFile (into a second directory of
 * 10,000 files, so the read files are never touched). Beside caio's backends: Bun's
 * fs.promises, Bun.file().bytes() / Bun.write(), a synchronous loop, and for readFile
 * the C ceiling (bench/ceiling-files.c: a linked OPENAT → READ → CLOSE per file).
 */
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { readFile as fsReadFile, stat as fsStat, writeFile as fsWriteFile } from "node:fs/promises";
import { join } from "node:path";
import { availableBackends, Context, type BackendName } from "../../src/index.ts";
import { BUN_FS_LABEL, type Role } from "../contenders.ts";
import { CEILING_LABEL } from "../ceiling.ts";
import type { WorkloadResult } from "../results.ts";
import { failed, interleave, progress, type Row } from "../run.ts";
import { ceilingFilesRow, seriesOf, type BenchEnv } from "./env.ts";

export const FILE_COUNT = 10_000;
export const FILE_BYTES = 4096;
const DEPTH = 64;
/** Synchronous loops check the clock once per this many files. */
const BETWEEN_CLOCK_CHECKS = 64;
/**
 * Seconds of an untimed pass of every row before a table's first run: without it the
 * first run measures the JIT compiling each contender's file code (caio readFile's
 * first second ran at a third of its later speed here).
 */
const WARM_UP_SECONDS = 0.25;

/** The file names of a W6 directory, in the order every contender cycles over them. */
function names(dir: string): string[] {
  return Array.from({ length: FILE_COUNT }, (_, i) => join(dir, `f${String(i).padStart(5, "0")}`));
}

/** File i holds i in its first 32-bit word (the rest is zeros), so a read can be checked. */
function contents(i: number): Buffer {
  const data = Buffer.alloc(FILE_BYTES);
  data.writeUInt32LE(i, 0);
  return data;
}

/** Makes the read directory unless its last file is already there at full size; reads every file once (page and dentry cache). */
function prepareReadDir(dir: string): string[] {
  const paths = names(dir);
  const last = paths[FILE_COUNT - 1]!;
  if (!existsSync(last) || statSync(last).size !== FILE_BYTES) {
    progress(`W6: writing ${FILE_COUNT.toLocaleString("en-US")} files of ${FILE_BYTES} B in ${dir}`);
    mkdirSync(dir, { recursive: true });
    paths.forEach((path, i) => writeFileSync(path, contents(i)));
  }
  for (const path of paths) readFileSync(path);
  return paths;
}

/** The write directory's files exist from the start, so every contender overwrites (truncate + write) alike. */
function prepareWriteDir(dir: string): string[] {
  const paths = names(dir);
  if (!existsSync(paths[FILE_COUNT - 1]!)) {
    mkdirSync(dir, { recursive: true });
    const data = Buffer.alloc(FILE_BYTES);
    for (const path of paths) writeFileSync(path, data);
  }
  return paths;
}

function checkFile(bytes: Uint8Array, index: number): void {
  const word = bytes.length >= 4 ? bytes[0]! | (bytes[1]! << 8) | (bytes[2]! << 16) | (bytes[3]! << 24) : -1;
  if (bytes.length !== FILE_BYTES || word !== index) throw new Error(`file ${index}: ${bytes.length} bytes, first word ${word}`);
}

/** `op` on `paths`, DEPTH at a time, cycling, for `seconds`; files per second. */
async function filesPerSecond(paths: string[], seconds: number, op: (path: string, index: number) => Promise<void>): Promise<number> {
  let next = 0;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  const worker = async () => {
    while (performance.now() < deadline) {
      const index = next++ % FILE_COUNT;
      await op(paths[index]!, index);
    }
  };
  await Promise.all(Array.from({ length: DEPTH }, worker));
  return next / ((performance.now() - started) / 1000);
}

/** The same on the JavaScript thread, one file after another, with no promise: the synchronous reference. */
function syncFilesPerSecond(paths: string[], seconds: number, op: (path: string, index: number) => void): number {
  let count = 0;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  while (performance.now() < deadline) {
    for (let i = 0; i < BETWEEN_CLOCK_CHECKS; i++, count++) op(paths[count % FILE_COUNT]!, count % FILE_COUNT);
  }
  return count / ((performance.now() - started) / 1000);
}

type Op = (path: string, index: number) => Promise<void>;

function asyncRow(name: string, label: string, role: Role, paths: string[], seconds: number, op: Op): Row<number> {
  return {
    label,
    role,
    async sample() {
      try {
        return await filesPerSecond(paths, seconds, op);
      } catch (error) {
        return failed(name, label, (error as Error).message);
      }
    },
  };
}

/** Per caio backend, over every sample of one table: files done, and the Context's kernel operations and submitting syscalls. */
type SubmitCounts = Map<BackendName, { files: number; operations: number; submitCalls: number }>;

/** One row per available caio backend: a fresh Context per sample, closed after it. */
function caioRows(name: string, paths: string[], seconds: number, counts: SubmitCounts, op: (ctx: Context) => Op): Row<number>[] {
  return availableBackends()
    .filter((b) => b.available)
    .map(({ name: backend }) => ({
      label: `caio ${backend}`,
      role: "caio" as const,
      backend,
      async sample() {
        const ctx = new Context({ backend });
        const call = op(ctx);
        let files = 0;
        try {
          const value = await filesPerSecond(paths, seconds, (path, i) => (files++, call(path, i)));
          const c = counts.get(backend) ?? { files: 0, operations: 0, submitCalls: 0 };
          const { completed, submitCalls } = ctx.stats;
          counts.set(backend, { files: c.files + files, operations: c.operations + completed, submitCalls: c.submitCalls + submitCalls });
          return value;
        } catch (error) {
          return failed(name, `caio ${backend}`, (error as Error).message);
        } finally {
          await ctx.close();
        }
      },
    }));
}

function syncRow(label: string, paths: string[], seconds: number, op: (path: string, index: number) => void): Row<number> {
  return { label, role: "ceiling", sample: async () => syncFilesPerSecond(paths, seconds, op) };
}

const perSecond = (files: number) => `${(files / 1000).toFixed(1)}K files/s`;

/** Operations and submitting syscalls per file, per backend, from ctx.stats (a readFile is several operations). */
function submitNote(counts: SubmitCounts): string {
  const parts = [...counts].map(
    ([backend, c]) => `${backend} ${(c.operations / c.files).toFixed(2)} ops, ${(c.submitCalls / c.files).toFixed(3)} submits`,
  );
  return parts.length > 0 ? `Per file (ctx.stats over all samples): ${parts.join("; ")}.` : "";
}

/** A table's rows for samples of `seconds`, adding their caio submit counts to `counts`. */
type RowsOf = (seconds: number, counts: SubmitCounts) => Row<number>[];

async function table(env: BenchEnv, id: "w6read" | "w6stat" | "w6write", title: string, rowsOf: RowsOf, note: string): Promise<WorkloadResult> {
  const name = id.toUpperCase();
  progress(`${name}: starting (${WARM_UP_SECONDS} s warm-up per row)`);
  for (const row of rowsOf(WARM_UP_SECONDS, new Map())) if (row.label !== CEILING_LABEL && !row.skipped) await row.sample();
  const counts: SubmitCounts = new Map();
  const rows = rowsOf(env.options.seconds / 2, counts);
  const samples = await interleave(name, env.options.runs, rows, perSecond);
  return {
    id,
    title,
    detail: `${DEPTH} in flight over ${FILE_COUNT.toLocaleString("en-US")} files of 4 KiB, ${env.options.seconds / 2} s per sample`,
    unit: "files/s",
    note: [note, `Each row had an untimed ${WARM_UP_SECONDS} s pass first.`, submitNote(counts)].filter(Boolean).join(" "),
    series: seriesOf(rows, samples, (v) => v),
  };
}

/** Samples last half the other workloads' seconds: 21 rows × runs would otherwise take W6 past two minutes. */
export async function w6(env: BenchEnv): Promise<WorkloadResult[]> {
  const readDir = join(env.options.dataDir, "w6-read");
  const reads = prepareReadDir(readDir);
  const writes = prepareWriteDir(join(env.options.dataDir, "w6-write"));
  const data = Buffer.alloc(FILE_BYTES, 0x5a);

  const readRows: RowsOf = (seconds, counts) => [
    asyncRow("W6READ", BUN_FS_LABEL, "baseline", reads, seconds, async (path, i) => checkFile(await fsReadFile(path), i)),
    ...caioRows("W6READ", reads, seconds, counts, (ctx) => async (path, i) => checkFile(await ctx.readFile(path), i)),
    asyncRow("W6READ", "Bun.file().bytes()", "peer", reads, seconds, async (path, i) => checkFile(await Bun.file(path).bytes(), i)),
    syncRow("readFileSync loop", reads, seconds, (path, i) => checkFile(readFileSync(path), i)),
    ceilingFilesRow("W6READ", env, { dir: readDir, seconds, depth: DEPTH, readBytes: FILE_BYTES }),
  ];
  const checkStat = (size: number, i: number) => {
    if (size !== FILE_BYTES) throw new Error(`file ${i}: stat size ${size}`);
  };
  const statRows: RowsOf = (seconds, counts) => [
    asyncRow("W6STAT", BUN_FS_LABEL, "baseline", reads, seconds, async (path, i) => checkStat((await fsStat(path)).size, i)),
    ...caioRows("W6STAT", reads, seconds, counts, (ctx) => async (path, i) => checkStat((await ctx.stat(path)).size, i)),
    syncRow("statSync loop", reads, seconds, (path, i) => checkStat(statSync(path).size, i)),
  ];
  const writeRows: RowsOf = (seconds, counts) => [
    asyncRow("W6WRITE", BUN_FS_LABEL, "baseline", writes, seconds, (path) => fsWriteFile(path, data)),
    ...caioRows("W6WRITE", writes, seconds, counts, (ctx) => (path) => ctx.writeFile(path, data)),
    asyncRow("W6WRITE", "Bun.write()", "peer", writes, seconds, async (path) => {
      await Bun.write(path, data);
    }),
    syncRow("writeFileSync loop", writes, seconds, (path) => writeFileSync(path, data)),
  ];
  const ceilingNote =
    "The C io_uring ceiling is bench/ceiling-files.c: liburing, one thread, per file one linked OPENAT → READ (4 KiB, fixed file) → CLOSE chain on a registered-file slot, 64 chains in flight over the same directory.";
  return [
    await table(env, "w6read", "W6 readFile of 4 KiB files", readRows, `Every read is checked (length and the file's first word). ${ceilingNote}`),
    await table(env, "w6stat", "W6 stat of 4 KiB files", statRows, "Every stat's size is checked."),
    await table(env, "w6write", "W6 writeFile of 4 KiB files", writeRows, "Each call replaces an existing 4 KiB file; no fsync. Bun's fs.promises.writeFile and Bun.write() open without O_TRUNC, write, then ftruncate to the new length (strace); caio's writeFile does the same (open, write, ftruncate, close: one linked chain on uring, one pool task on linux and thread): on ext4 a file opened with O_TRUNC and rewritten is flushed at close (auto_da_alloc), which costs several times the rest."),
  ];
}
