/**
 * GAP: the longest event-loop gap while 64 reads of a slow FUSE file are in flight.
 * test/support/slowfs.py serves a 16 MiB file whose every read sleeps 5 ms in the daemon;
 * a 1 ms interval timer runs while each contender reads 8 MiB of it, and the longest wait
 * between its callbacks is the figure. A contender that reads on the JavaScript thread
 * stalls the loop for the whole batch; one that hands the reads to the kernel or to other
 * threads keeps it within the machine's scheduling jitter.
 *
 * A run of a contender is ROUNDS timed rounds after an untimed warm-up round; its sample is
 * the median round, so one stray stall of the shared machine does not become the figure.
 */
import { closeSync, openSync } from "node:fs";
import { join } from "node:path";
import { allocAligned, Context, type BackendName } from "../../src/index.ts";
import { mountSlowFs, slowFsUnavailable, unmountLeftovers } from "../../test/support/slowfs.ts";
import { underTicker } from "../../test/support/ticker.ts";
import { bunFs, type Role } from "../contenders.ts";
import type { WorkloadResult } from "../results.ts";
import { failed, interleave, progress, type Row } from "../run.ts";
import { median } from "../stats.ts";
import type { BenchEnv } from "./env.ts";

const DELAY_MS = 5;
const READS_IN_FLIGHT = 64;
const READ_SIZE = 128 * 1024;
/** Every contender reads this much a round: one half of the 16 MiB file, so rounds alternate halves. */
const BATCH_BYTES = READS_IN_FLIGHT * READ_SIZE;
const ROUNDS = 7;
const QUICK_ROUNDS = 3;

const TITLE = "FUSE gap: longest event-loop gap while 8 MiB of a 5 ms-per-read FUSE file is read";
const DETAIL = "64 × 128 KiB reads in flight, or one 8 MiB stream; 1 ms timer";

/** One round's reading: resolves to the bytes read, so a short batch is caught. */
type ReadBatch = (half: number) => Promise<number>;

interface OpenedBatch {
  readBatch: ReadBatch;
  close(): Promise<void>;
}

interface GapContender {
  label: string;
  role: Role;
  open(path: string): Promise<OpenedBatch>;
}

interface GapSample {
  /** The median over the rounds of each round's longest gap. */
  gapMs: number;
  /** The median round time. */
  roundMs: number;
  /** Every round's longest gap, for the progress line. */
  roundGapsMs: number[];
}

/** Offsets of the 64 reads that cover `half` of the file. */
const offsetsOf = (half: number) => Array.from({ length: READS_IN_FLIGHT }, (_, i) => half * BATCH_BYTES + i * READ_SIZE);

/** 64 positional reads issued in one tick, each into its own buffer allocated once per run. */
function batchOf(read: (buffer: Buffer, offset: number) => Promise<number>): ReadBatch {
  const buffers = offsetsOf(0).map(() => allocAligned(READ_SIZE));
  return async (half) => {
    const counts = await Promise.all(offsetsOf(half).map((offset, i) => read(buffers[i]!, offset)));
    return counts.reduce((sum, count) => sum + count, 0);
  };
}

/** Bun's FileHandle.read from node:fs/promises: the same contender (and label) as the other tables' baseline. */
const bunFsBatch: GapContender = {
  label: bunFs.label,
  role: bunFs.role,
  async open(path) {
    const file = await bunFs.open(path, "cached", READS_IN_FLIGHT);
    return { readBatch: batchOf(file.read), close: () => file.close() };
  },
};

/** A caio backend with a default Context: what a user gets without tuning anything. */
function caioBatch(label: string, backend: BackendName): GapContender {
  return {
    label,
    role: "caio",
    async open(path) {
      const fd = openSync(path, "r");
      const ctx = new Context({ backend });
      return {
        readBatch: batchOf((buffer, offset) => ctx.readInto(buffer, fd, offset)),
        close: async () => {
          await ctx.close();
          closeSync(fd);
        },
      };
    },
  };
}

/** Bun.file().slice().stream() over the same 8 MiB: Bun reads a file's stream on the JavaScript thread. */
const bunFileStream: GapContender = {
  label: "Bun.file().stream()",
  role: "peer",
  async open(path) {
    const file = Bun.file(path);
    const readBatch = async (half: number) => {
      let bytes = 0;
      for await (const chunk of file.slice(half * BATCH_BYTES, (half + 1) * BATCH_BYTES).stream()) bytes += chunk.length;
      return bytes;
    };
    return { readBatch, close: async () => {} };
  },
};

/** Bun fs first (the baseline), caio's backends that run here, then the stream. */
function gapContenders(env: BenchEnv): GapContender[] {
  const backends = env.contenders.filter((c) => c.role === "caio" && !c.variant && c.backend);
  return [bunFsBatch, ...backends.map((c) => caioBatch(c.label, c.backend!)), bunFileStream];
}

/** Opens, reads one untimed batch (threads start, code warms up), then times `rounds` batches. */
async function measure(contender: GapContender, path: string, rounds: number): Promise<GapSample> {
  const file = await contender.open(path);
  try {
    await file.readBatch(0);
    const gaps: number[] = [];
    const times: number[] = [];
    for (let round = 0; round < rounds; round++) {
      const timed = await underTicker(() => file.readBatch(round % 2));
      if (timed.value !== BATCH_BYTES) throw new Error(`round ${round} read ${timed.value} of ${BATCH_BYTES} bytes`);
      gaps.push(timed.maxGapMs);
      times.push(timed.totalMs);
    }
    return { gapMs: median(gaps), roundMs: median(times), roundGapsMs: gaps };
  } finally {
    await file.close();
  }
}

function gapRow(contender: GapContender, path: string, rounds: number): Row<GapSample> {
  return {
    label: contender.label,
    role: contender.role,
    async sample() {
      try {
        return await measure(contender, path, rounds);
      } catch (error) {
        return failed("GAP", contender.label, (error as Error).message);
      }
    },
  };
}

const showSample = (s: GapSample) =>
  `longest gap ${s.gapMs.toFixed(1)} ms (rounds: ${s.roundGapsMs.map((g) => g.toFixed(1)).join(" ")}), round ${s.roundMs.toFixed(0)} ms`;

export async function slowFsGap(env: BenchEnv): Promise<WorkloadResult> {
  const rounds = env.options.quick ? QUICK_ROUNDS : ROUNDS;
  const result: WorkloadResult = {
    id: "gap",
    title: TITLE,
    detail: DETAIL,
    unit: "ms",
    note:
      `Each read of the FUSE file (test/support/slowfs.py, direct_io, so never from the page cache) waits ${DELAY_MS} ms in the daemon. ` +
      `A sample is the median of ${rounds} rounds after an untimed one; a round's figure is the longest wait between two callbacks ` +
      `of a 1 ms setInterval while the batch ran, and the round time is the whole batch. caio uses a default \`new Context({ backend })\`; ` +
      `Bun fs is FileHandle.read; \`Bun.file().stream()\` streams the same 8 MiB (a slice, half the file).`,
    series: [],
  };
  if (!slowFsUnavailable) unmountLeftovers();
  // Says slowFsUnavailable's reason (not root, no /dev/fuse, no fusepy) or why the daemon did not mount.
  const fs = await mountSlowFs({ delayMs: DELAY_MS }).catch((error: Error) => error);
  if (fs instanceof Error) {
    progress(`GAP: skipped (${fs.message})`);
    return { ...result, skipped: fs.message };
  }
  try {
    const rows = gapContenders(env).map((c) => gapRow(c, join(fs.dir, "slow"), rounds));
    const samples = await interleave("GAP", env.options.runs, rows, showSample);
    result.series = rows.map((row) => {
      const runs = samples.get(row.label)!;
      return { label: row.label, role: row.role, samples: runs.map((s) => s.gapMs), roundMs: runs.map((s) => s.roundMs) };
    });
    return result;
  } finally {
    await fs[Symbol.asyncDispose]();
  }
}
