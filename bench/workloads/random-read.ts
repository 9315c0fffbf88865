/**
 * W1 (page-cached) and W2 (O_DIRECT): 4 KiB random reads from the test file with a
 * fixed number in flight; also the rows of the concurrency sweep.
 */
import { closeSync, constants, openSync, readSync } from "node:fs";
import { allocAligned } from "../../src/index.ts";
import { READ_MANY_VARIANT, READS_PER_CALL, type Access, type BatchReadFn, type Contender } from "../contenders.ts";
import { warmPageCache } from "../files.ts";
import { PYTHON_CAIO_FAMILY, PYTHON_CAIO_VARIANTS, pythonCaioLabel, runPythonCaio, sequenceFile, type PythonCaioJob } from "../python-caio.ts";
import type { WorkloadResult } from "../results.ts";
import { failed, interleave, type Row } from "../run.ts";
import { checkRead, randomBlocks, randomReads, type LoopShape } from "../shared/loops.mjs";
import { ceilingRow, contenderRow, fioRow, nodeRow, seriesOf, type BenchEnv, type Loop } from "./env.ts";
import { readSyncReference, readSyncRow } from "./sync-reference.ts";

export const BLOCK = 4096;
export const DEPTH = 64;

export const kiops = (perSecond: number) => `${(perSecond / 1000).toFixed(1)}K IOPS`;

/** Why O_DIRECT reads fail on this file system (tmpfs, some overlays), or undefined when they work. */
export function directUnsupported(path: string): string | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_DIRECT);
    readSync(fd, allocAligned(BLOCK), 0, BLOCK, 0);
    return undefined;
  } catch (error) {
    return `O_DIRECT is not supported for ${path}: ${(error as Error).message}`;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

export interface RowChoice {
  /** Node and Bun.file rows; the sweep leaves them out to keep its time down. */
  peers: boolean;
  /** caio on plain buffers (cached reads only: O_DIRECT needs aligned memory). */
  variants: boolean;
}

/**
 * The rows of a random-read table at `depth`: contenders, Node and `peerRows`, fio,
 * readSync for cached reads, and the C ceiling.
 */
export function randomReadRows(
  name: string,
  env: BenchEnv,
  access: Access,
  depth: number,
  seconds: number,
  choice: RowChoice,
  peerRows: Row<number>[] = [],
): Row<number>[] {
  const direct = access === "direct";
  const shape = { depth, seconds, fileBytes: env.files.bytes, block: BLOCK };
  const contenders = env.contenders.filter((c) => (choice.peers || c.role !== "peer") && (choice.variants || !c.variant));
  const rows = contenders.map((c) => contenderRow(name, env, c, access, shape, randomReadLoop(c)));
  if (choice.peers) rows.push(nodeRow(name, env, { loop: "random", direct, ...shape }, (value) => value as number), ...peerRows);
  rows.push(fioRow(name, env, { pattern: "randread", direct, ...shape }, (result) => result.iops));
  if (!direct) rows.push(readSyncRow(() => readSyncReference.randomThroughput(env.files, BLOCK, seconds)));
  rows.push(ceilingRow(name, env, { direct, block: BLOCK, depth, seconds }, (result) => result.iops));
  return rows;
}

/** Each worker's reads one at a time, or READS_PER_CALL per batched call for readMany. */
function randomReadLoop(contender: Contender): Loop<number> {
  if (contender.variant === READ_MANY_VARIANT) return (file, shape) => randomReadBatches(file.readBatch!, shape);
  return (file, shape) => randomReads(file.read, shape);
}

/**
 * randomReads in batches: depth / READS_PER_CALL workers, each reading the next
 * READS_PER_CALL offsets of the shared sequence with one call and checking every
 * Buffer's first word; returns reads per second.
 */
async function randomReadBatches(readBatch: BatchReadFn, { depth, seconds, fileBytes, block }: LoopShape): Promise<number> {
  const sequence = randomBlocks(fileBytes / block);
  const mask = sequence.length - 1;
  const deadline = performance.now() + seconds * 1000;
  let next = 0;
  let completed = 0;
  const worker = async () => {
    const offsets = new Float64Array(READS_PER_CALL);
    while (performance.now() < deadline) {
      for (let i = 0; i < READS_PER_CALL; i++) offsets[i] = sequence[next++ & mask]! * block;
      const buffers = await readBatch(offsets, block);
      for (let i = 0; i < READS_PER_CALL; i++) checkRead(buffers[i]!, buffers[i]!.length, offsets[i]!, block);
      completed += READS_PER_CALL;
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: Math.max(1, Math.floor(depth / READS_PER_CALL)) }, worker));
  return completed / ((performance.now() - started) / 1000);
}

/** Why Python caio's O_DIRECT reads get EINVAL (read in its C sources, linux_aio.c and linux_uring.c). */
const UNALIGNED = ": it reads into memory it allocates (PyMem_Calloc, bytes objects), not aligned for O_DIRECT";

/**
 * Python caio's asyncio implementations on the same file, offsets and depth. Its reads go
 * into memory it allocates, so for O_DIRECT each is tried once first: one the
 * kernel refuses is a skipped row with the reason, not a run of failures.
 */
async function pythonCaioRows(name: string, env: BenchEnv, access: Access, depth: number, seconds: number): Promise<Row<number>[]> {
  const setup = env.pythonCaio;
  if (!setup) return [];
  const direct = access === "direct";
  const rows: Row<number>[] = [];
  for (const variant of PYTHON_CAIO_VARIANTS) {
    const sqpoll = "sqpoll" in setup && setup.sqpoll;
    const label = pythonCaioLabel(variant, sqpoll);
    const sequence = sequenceFile(env.options.dataDir, env.files.bytes / BLOCK);
    const job: PythonCaioJob = { ...variant, file: env.files.readPath, sequence, block: BLOCK, depth, seconds, direct };
    let skipped = "skipped" in setup ? setup.skipped : undefined;
    if (!skipped && direct && "python" in setup) {
      const trial = await runPythonCaio(setup.python, { ...job, seconds: 0.05 });
      if ("error" in trial) skipped = `O_DIRECT reads fail (${trial.error})${trial.error.includes("Invalid argument") ? UNALIGNED : ""}`;
    }
    rows.push({
      label,
      role: "peer",
      family: PYTHON_CAIO_FAMILY,
      skipped,
      async sample() {
        if (!("python" in setup)) return undefined;
        if (!direct) warmPageCache(env.files.readPath);
        const result = await runPythonCaio(setup.python, job);
        return "error" in result ? failed(name, label, result.error) : result.iops;
      },
    });
  }
  return rows;
}

function randomReadNote(env: BenchEnv, direct: boolean): string {
  const notes = [
    `The C io_uring ceiling is bench/ceiling-reads.c: liburing, one thread, IORING_OP_READ, a submit_and_wait(1) loop keeping ${DEPTH} in flight over the same offsets (the loops' own sequence), every read checked.`,
  ];
  if (!direct) {
    notes.push(
      "caio's read() rows call `ctx.read(4096, fd, offset)`, a new Buffer per read; " +
        `its readMany rows call \`ctx.readMany(fd, { offsets, length: 4096 })\` with the sequence's next ${READS_PER_CALL} offsets (${DEPTH / READS_PER_CALL} call in flight), a new Buffer per read; ` +
        "the other caio rows call `readInto` on one buffer per worker.",
    );
  }
  const python = env.pythonCaio;
  if (python && "version" in python) {
    notes.push(
      `Python caio ${python.version} (PyPI, in a venv under bench/.data): its AsyncioContext per implementation, max_requests ${DEPTH}, ${DEPTH} asyncio tasks each awaiting \`ctx.read(4096, fd, offset)\`, which returns a new bytes object (it has no read into a caller's buffer).`,
    );
  }
  return notes.join(" ");
}

async function randomReadWorkload(env: BenchEnv, access: Access): Promise<WorkloadResult> {
  const direct = access === "direct";
  const id = direct ? "w2" : "w1";
  const title = direct ? "W2 O_DIRECT 4 KiB random reads" : "W1 cached 4 KiB random reads";
  const result: WorkloadResult = { id, title, detail: `${DEPTH} in flight, ${env.files.bytes >> 20} MiB file`, unit: "IOPS", series: [] };
  const skipped = direct ? directUnsupported(env.files.readPath) : undefined;
  if (skipped) return { ...result, skipped };
  const python = await pythonCaioRows(id.toUpperCase(), env, access, DEPTH, env.options.seconds);
  const rows = randomReadRows(id.toUpperCase(), env, access, DEPTH, env.options.seconds, { peers: true, variants: !direct }, python);
  result.note = randomReadNote(env, direct);
  const samples = await interleave(id.toUpperCase(), env.options.runs, rows, kiops);
  return { ...result, series: seriesOf(rows, samples, (v) => v) };
}

export const w1 = (env: BenchEnv) => randomReadWorkload(env, "cached");
export const w2 = (env: BenchEnv) => randomReadWorkload(env, "direct");
