/**
 * W1 (page-cached) and W2 (O_DIRECT): 4 KiB random reads from the test file with a
 * fixed number in flight; also the rows of the concurrency sweep.
 */
import { closeSync, constants, openSync, readSync } from "node:fs";
import { allocAligned } from "../../src/index.ts";
import type { Access } from "../contenders.ts";
import type { WorkloadResult } from "../results.ts";
import { interleave, type Row } from "../run.ts";
import { randomReads } from "../shared/loops.mjs";
import { contenderRow, fioRow, nodeRow, seriesOf, type BenchEnv } from "./env.ts";
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

/** The rows of a random-read table at `depth`: contenders, Node, fio, and readSync for cached reads. */
export function randomReadRows(name: string, env: BenchEnv, access: Access, depth: number, seconds: number, choice: RowChoice): Row<number>[] {
  const direct = access === "direct";
  const shape = { depth, seconds, fileBytes: env.files.bytes, block: BLOCK };
  const contenders = env.contenders.filter((c) => (choice.peers || c.role !== "peer") && (choice.variants || !c.variant));
  const rows = contenders.map((c) => contenderRow(name, env, c, access, shape, (file, s) => randomReads(file.read, s)));
  if (choice.peers) rows.push(nodeRow(name, env, { loop: "random", direct, ...shape }, (value) => value as number));
  rows.push(fioRow(name, env, { pattern: "randread", direct, ...shape }, (result) => result.iops));
  if (!direct) rows.push(readSyncRow(() => readSyncReference.randomThroughput(env.files, BLOCK, seconds)));
  return rows;
}

async function randomReadWorkload(env: BenchEnv, access: Access): Promise<WorkloadResult> {
  const direct = access === "direct";
  const id = direct ? "w2" : "w1";
  const title = direct ? "W2 O_DIRECT 4 KiB random reads" : "W1 cached 4 KiB random reads";
  const result: WorkloadResult = { id, title, detail: `${DEPTH} in flight, ${env.files.bytes >> 20} MiB file`, unit: "IOPS", series: [] };
  const skipped = direct ? directUnsupported(env.files.readPath) : undefined;
  if (skipped) return { ...result, skipped };
  const rows = randomReadRows(id.toUpperCase(), env, access, DEPTH, env.options.seconds, { peers: true, variants: !direct });
  const samples = await interleave(id.toUpperCase(), env.options.runs, rows, kiops);
  return { ...result, series: seriesOf(rows, samples, (v) => v) };
}

export const w1 = (env: BenchEnv) => randomReadWorkload(env, "cached");
export const w2 = (env: BenchEnv) => randomReadWorkload(env, "direct");
