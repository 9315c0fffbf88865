/**
 * A short measurement of each available backend on the examined file system: 4 KiB
 * random reads, 64 in flight, from a 16 MiB file, first through the page cache, then
 * with O_DIRECT where the probe found it works. Enough to rank the backends on this
 * machine in a few seconds; not a benchmark (bench/ is).
 */
import { closeSync, constants, fsyncSync, openSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { BackendName } from "../backends/index.ts";
import { allocAligned, Context } from "../index.ts";
import { DEFAULT_IMPLEMENTATION_FILE } from "../select.ts";

export const FILE_BYTES = 16 << 20;
export const BLOCK = 4096;
export const IN_FLIGHT = 64;

export type Workload = "cached" | "direct";

export interface Measurement {
  backend: BackendName;
  workload: Workload;
  /** Completed reads per second in the best round; null when every round failed. */
  iops: number | null;
  /** Reads and milliseconds over all rounds. */
  ops: number;
  ms: number;
  error?: string;
}

export interface Recommendation {
  backend: BackendName;
  /** Why this one, in a sentence. */
  basis: string;
  /** The ways to make every Context use it without naming it in code. */
  pin: { env: string; file: string; line: string };
}

export interface MeasurementReport {
  fileBytes: number;
  blockSize: number;
  inFlight: number;
  /** Time spent per backend and workload, split into rounds. */
  durationMs: number;
  results: Measurement[];
  recommended: Recommendation | null;
  /** Why nothing was measured (--no-measure, a directory caio cannot write); null when it was. */
  skipped: string | null;
}

function randomBlockOffset(): number {
  return Math.floor(Math.random() * (FILE_BYTES / BLOCK)) * BLOCK;
}

/** IN_FLIGHT loops, each keeping one read outstanding until the deadline. */
async function randomReads(ctx: Context, fd: number, durationMs: number): Promise<{ ops: number; ms: number }> {
  const started = performance.now();
  const deadline = started + durationMs;
  let ops = 0;
  const loop = async (buffer: Buffer) => {
    while (performance.now() < deadline) {
      const read = await ctx.readInto(buffer, fd, randomBlockOffset());
      if (read !== BLOCK) throw new Error(`a 4 KiB read returned ${read} bytes`);
      ops++;
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, () => loop(allocAligned(BLOCK))));
  return { ops, ms: performance.now() - started };
}

async function measureOne(backend: BackendName, workload: Workload, file: string, durationMs: number): Promise<Measurement> {
  const flags = constants.O_RDONLY | (workload === "direct" ? constants.O_DIRECT : 0);
  const fd = openSync(file, flags);
  try {
    await using ctx = new Context({ backend, maxRequests: IN_FLIGHT });
    const { ops, ms } = await randomReads(ctx, fd, durationMs);
    return { backend, workload, iops: Math.round((ops / ms) * 1000), ops, ms: Math.round(ms) };
  } catch (error) {
    return { backend, workload, iops: null, ops: 0, ms: 0, error: (error as Error).message };
  } finally {
    closeSync(fd);
  }
}

/** The test file, written and flushed so O_DIRECT reads do not wait for writeback. */
function createTestFile(scratchDir: string): string {
  const file = join(scratchDir, "measure");
  const data = Buffer.alloc(FILE_BYTES);
  for (let i = 0; i < data.length; i += 4) data.writeUInt32LE(i, i);
  writeFileSync(file, data);
  const fd = openSync(file, "r+");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return file;
}

/** Each backend's IOPS as a fraction of the best in each workload, averaged over the workloads. */
function scores(results: Measurement[]): Map<BackendName, number> {
  const byBackend = new Map<BackendName, number[]>();
  for (const workload of ["cached", "direct"] as const) {
    const runs = results.filter((r) => r.workload === workload && r.iops !== null);
    const best = Math.max(...runs.map((r) => r.iops!));
    if (!(best > 0)) continue;
    for (const run of runs) byBackend.set(run.backend, [...(byBackend.get(run.backend) ?? []), run.iops! / best]);
  }
  return new Map([...byBackend].map(([name, ratios]) => [name, ratios.reduce((a, b) => a + b, 0) / ratios.length]));
}

/** Runs on a shared machine vary by this much; within it, automatic selection's choice stands. */
const NOISE = 0.1;

/**
 * The fastest backend by average relative IOPS; but when automatic selection's choice
 * is within NOISE of it, that one, since it needs no pinning and the gap is noise.
 */
export function recommend(results: Measurement[], automatic: BackendName): Recommendation | null {
  const ranked = [...scores(results)].sort((a, b) => b[1] - a[1]);
  if (ranked.length === 0) return null;
  const [fastest, bestScore] = ranked[0]!;
  const automaticScore = ranked.find(([name]) => name === automatic)?.[1] ?? 0;
  const keepAutomatic = automatic !== fastest && automaticScore >= bestScore * (1 - NOISE);
  const backend = keepAutomatic ? automatic : fastest;
  const basis = keepAutomatic
    ? `within ${NOISE * 100}% of the fastest here (${fastest}) and already chosen by automatic selection`
    : backend === automatic
      ? "the fastest here, and already chosen by automatic selection"
      : `the fastest here; automatic selection would pick ${automatic}`;
  return { backend, basis, pin: { env: `CAIO_IMPL=${backend}`, file: DEFAULT_IMPLEMENTATION_FILE, line: backend } };
}

export interface MeasureOptions {
  scratchDir: string;
  backends: BackendName[];
  direct: boolean;
  durationMs: number;
  automatic: BackendName;
}

/**
 * Runs alternate between backends in ROUNDS short rounds and each keeps its best round:
 * measured in one block each, whichever backend ran first here lost half its IOPS to
 * Bun's JIT still warming up and to the other tenants of a shared machine.
 */
const ROUNDS = 3;

function bestRound(rounds: Measurement[]): Measurement {
  const ok = rounds.filter((run) => run.iops !== null);
  if (ok.length === 0) return rounds[0]!;
  const best = ok.reduce((a, b) => (b.iops! > a.iops! ? b : a));
  return { ...best, ops: ok.reduce((sum, run) => sum + run.ops, 0), ms: ok.reduce((sum, run) => sum + run.ms, 0) };
}

async function measureWorkload(workload: Workload, file: string, { backends, durationMs }: MeasureOptions): Promise<Measurement[]> {
  const rounds = new Map<BackendName, Measurement[]>(backends.map((name) => [name, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const backend of backends) rounds.get(backend)!.push(await measureOne(backend, workload, file, durationMs / ROUNDS));
  }
  return backends.map((backend) => bestRound(rounds.get(backend)!));
}

/** Measures every backend in `backends` (cached, then O_DIRECT when `direct`) and recommends one. */
export async function measureBackends(options: MeasureOptions): Promise<MeasurementReport> {
  const file = createTestFile(options.scratchDir);
  const results: Measurement[] = [];
  for (const workload of options.direct ? (["cached", "direct"] as const) : (["cached"] as const)) {
    results.push(...(await measureWorkload(workload, file, options)));
  }
  return {
    fileBytes: FILE_BYTES,
    blockSize: BLOCK,
    inFlight: IN_FLIGHT,
    durationMs: options.durationMs,
    results,
    recommended: recommend(results, options.automatic),
    skipped: null,
  };
}

/** The report's shape when no measurement ran, and why. */
export function skippedMeasurement(durationMs: number, why: string): MeasurementReport {
  return { fileBytes: FILE_BYTES, blockSize: BLOCK, inFlight: IN_FLIGHT, durationMs, results: [], recommended: null, skipped: why };
}
