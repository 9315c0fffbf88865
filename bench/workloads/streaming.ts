/**
 * W7 (page-cached) and W7d (O_DIRECT): the 256 MiB test file streamed whole, pass after
 * pass. W7 puts caio's File.readable() and chunks() on every backend beside each way Bun
 * has to stream a file, with the readSync 1 MiB loop as the single-core reference; W7d
 * puts the same File streams opened { direct: true } beside fio's O_DIRECT sequential
 * read at the same block size and depth (chunks()' defaults: 64 KiB, 4 in flight).
 */
import { createReadStream } from "node:fs";
import { open as openHandle } from "node:fs/promises";
import { open, type BackendName } from "../../src/index.ts";
import { DEFAULT_CHUNK_SIZE, DEFAULT_READ_AHEAD, DEFAULT_READABLE_CHUNK_SIZE } from "../../src/file/options.ts";
import type { WorkloadResult } from "../results.ts";
import { interleave, type Row } from "../run.ts";
import { FIO_LABEL, fioRow, seriesOf, standardContenders, type BenchEnv } from "./env.ts";
import { onContext, passRow, perSecond, type Pass, type PassRow } from "./passes.ts";
import { directUnsupported } from "./random-read.ts";
import { mibPerSecond } from "./sequential.ts";
import { readSyncReference, readSyncRow } from "./sync-reference.ts";

export const BUN_STREAM_LABEL = "Bun.file().stream()";
export const READABLE_FAMILY = "caio readable()";
const READ_SYNC_BLOCK = 1 << 20;
const CREATE_READ_STREAM_CHUNK = 1 << 20;

const byteLength = (chunk: Uint8Array | ArrayBuffer) => chunk.byteLength;

/** The caio backends that run here, in the order every workload lists them. */
export function caioBackends(env: BenchEnv): BackendName[] {
  return standardContenders(env).flatMap((c) => (c.role === "caio" && c.backend ? [c.backend] : []));
}

function bytesRow(label: string, role: PassRow["role"], fileBytes: number, pass: Pass<Uint8Array | ArrayBuffer>): PassRow {
  return { label, role, measure: (seconds) => perSecond(seconds, fileBytes, byteLength, pass) };
}

/** A File opened per pass on a Context made for the sample, streamed with its defaults. */
function caioRow(backend: BackendName, method: "readable" | "chunks", path: string, fileBytes: number, direct: boolean): PassRow {
  // W7d reads at fio's block size; W7 takes each method's default.
  const options = direct ? { chunkSize: DEFAULT_CHUNK_SIZE } : undefined;
  return {
    label: `caio ${backend} ${method}()`,
    role: "caio",
    family: `caio ${method}()`,
    measure: (seconds) =>
      onContext(backend, (ctx) =>
        perSecond(seconds, fileBytes, byteLength, async (take) => {
          await using file = await open(path, "r", { context: ctx, direct });
          for await (const chunk of file[method](options)) if (!take(chunk)) break;
        }),
      ),
  };
}

function caioRows(env: BenchEnv, direct: boolean): PassRow[] {
  const { readPath, bytes } = env.files;
  return caioBackends(env).flatMap((backend) => [caioRow(backend, "readable", readPath, bytes, direct), caioRow(backend, "chunks", readPath, bytes, direct)]);
}

/** Bun's ways to stream a file: Bun.file().stream(), fs.createReadStream with 1 MiB chunks, FileHandle.readableWebStream(). */
function bunRows(path: string, fileBytes: number): PassRow[] {
  return [
    bytesRow(BUN_STREAM_LABEL, "baseline", fileBytes, async (take) => {
      for await (const chunk of Bun.file(path).stream()) if (!take(chunk)) break;
    }),
    bytesRow("fs.createReadStream (1 MiB)", "peer", fileBytes, async (take) => {
      const stream = createReadStream(path, { highWaterMark: CREATE_READ_STREAM_CHUNK });
      try {
        for await (const chunk of stream) if (!take(chunk)) break;
      } finally {
        stream.destroy();
      }
    }),
    bytesRow("FileHandle.readableWebStream()", "peer", fileBytes, async (take) => {
      const handle = await openHandle(path);
      try {
        for await (const chunk of handle.readableWebStream()) if (!take(chunk as Uint8Array)) break;
      } finally {
        await handle.close();
      }
    }),
  ];
}

export async function w7(env: BenchEnv): Promise<WorkloadResult> {
  const { seconds } = env.options;
  const path = env.files.readPath;
  const rows: Row<number>[] = [
    ...bunRows(path, env.files.bytes).map((row) => passRow("W7", seconds, row, path)),
    ...caioRows(env, false).map((row) => passRow("W7", seconds, row, path)),
    readSyncRow(() => readSyncReference.sequentialThroughput(env.files, READ_SYNC_BLOCK, seconds)),
  ];
  const samples = await interleave("W7", env.options.runs, rows, mibPerSecond);
  return {
    id: "w7",
    title: "W7 cached file streamed whole",
    detail: `${env.files.bytes >> 20} MiB per pass; caio at its defaults, chunks() ${DEFAULT_CHUNK_SIZE >> 10} KiB and readable() ${DEFAULT_READABLE_CHUNK_SIZE >> 10} KiB reads, ${DEFAULT_READ_AHEAD} ahead; readSync 1 MiB at a time`,
    unit: "MiB/s",
    baseline: BUN_STREAM_LABEL,
    note: "Each pass opens the file, streams it to its end (a pass cut off by the sample's end counts what it got) and closes it; a whole pass must deliver every byte. Chunks are counted, not copied or checked.",
    series: seriesOf(rows, samples, (v) => v),
  };
}

export async function w7d(env: BenchEnv): Promise<WorkloadResult> {
  const { seconds } = env.options;
  const result = {
    id: "w7d" as const,
    title: "W7d O_DIRECT file streamed whole",
    detail: `${DEFAULT_CHUNK_SIZE >> 10} KiB reads, ${DEFAULT_READ_AHEAD} in flight as chunks() defaults to; fio --rw=read --direct=1 at the same`,
    unit: "MiB/s" as const,
    baseline: FIO_LABEL,
    series: [],
  };
  const skipped = directUnsupported(env.files.readPath);
  if (skipped) return { ...result, skipped };
  const rows: Row<number>[] = [
    ...caioRows(env, true).map((row) => passRow("W7D", seconds, row)),
    fioRow("W7D", env, { pattern: "read", direct: true, block: DEFAULT_CHUNK_SIZE, depth: DEFAULT_READ_AHEAD, seconds }, (r) => r.bytesPerSecond),
  ];
  const samples = await interleave("W7D", env.options.runs, rows, mibPerSecond);
  return { ...result, series: seriesOf(rows, samples, (v) => v) };
}
