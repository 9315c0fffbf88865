/**
 * `bun run bench`: caio's backends against Bun's node:fs/promises, Bun.file().slice(),
 * Node's fs.promises (subprocess) and fio's io_uring engine, in the same run.
 *
 *   W1 cached 4 KiB random reads, 64 in flight        W2 the same with O_DIRECT
 *   W3 cached 4 KiB reads one at a time: p50 / p99    W4 cached 1 MiB sequential reads
 *   W5 4 KiB random writes, 64 in flight, one fdatasync per 64 writes
 *   W6 10,000 files of 4 KiB, 64 in flight: readFile, stat and writeFile (three tables)
 *   W7 the cached file streamed whole: File.readable()/chunks() beside Bun's streams and readSync
 *   W7d the same opened { direct: true }, beside fio's O_DIRECT sequential read
 *   W8 the lines of a 100 MiB UTF-8 file: File.lines() beside node:readline and FileHandle.readLines()
 *   gap: the longest event-loop gap while 64 reads of a 5 ms-per-read FUSE file are in flight
 *        (needs root, /dev/fuse and python3-fusepy; skipped with the reason otherwise)
 *   sweep: W1 and W2 at 1 … 1024 in flight            rss: RSS growth over 1,000,000 reads
 *
 * References beside the contenders: Node (subprocess), fio, a readSync loop, the C io_uring
 * ceiling (bench/ceiling-*.c, liburing, compiled here; W1–W3, W6 readFile and the sweep) and Python caio
 * from PyPI in a venv under bench/.data (W1, W2); W1 also measures caio's read() per backend and readMany (64 offsets per call) per native backend.
 *
 * Writes docs/bench.md and docs/bench.svg (a --quick or --only run writes them under
 * bench/.data/report instead, so the committed full-run report stays as it is).
 *
 *   bun run bench                                  # full run, about 16 minutes (W6 about 70 s)
 *   bun run bench -- --quick                       # about a minute; smoke figures only
 *   bun run bench -- --only w1,w3 --runs 5 --seconds 3
 *   bun run bench -- --only w7,w7d,w8
 *   bun bench/index.ts --replot                    # redraw docs/ from docs/bench.json
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { availableBackends } from "../src/index.ts";
import { svgChart } from "./chart.ts";
import { liburingVersion, prepareCeilings } from "./ceiling.ts";
import { bunFileSlice, bunFs, caio, caioFile, caioPlainBuffer, caioRead, caioReadMany, type Contender } from "./contenders.ts";
import { prepareFiles } from "./files.ts";
import { ensureFio, FIO_HINT } from "./fio.ts";
import { describeMachine, machineLine } from "./machine.ts";
import { nodeUnavailable } from "./node.ts";
import { parseOptions, type WorkloadId } from "./options.ts";
import { preparePythonCaio } from "./python-caio.ts";
import { markdownReport, summaryTable, targetsTable } from "./report.ts";
import type { BenchResults, WorkloadResult } from "./results.ts";
import { loadSamples, progress } from "./run.ts";
import { median } from "./stats.ts";
import { checkTargets } from "./targets.ts";
import type { BenchEnv } from "./workloads/env.ts";
import { w3 } from "./workloads/latency.ts";
import { w1, w2 } from "./workloads/random-read.ts";
import { w6 } from "./workloads/many-files.ts";
import { w5 } from "./workloads/random-write.ts";
import { rss } from "./workloads/rss.ts";
import { w4 } from "./workloads/sequential.ts";
import { slowFsGap } from "./workloads/slowfs-gap.ts";
import { w8 } from "./workloads/lines.ts";
import { w7, w7d } from "./workloads/streaming.ts";
import { sweeps } from "./workloads/sweep.ts";

/** W6 gives three tables (readFile, stat, writeFile); the others one each. */
const WORKLOADS: [WorkloadId, (env: BenchEnv) => Promise<WorkloadResult | WorkloadResult[]>][] = [
  ["w1", w1],
  ["w2", w2],
  ["w3", w3],
  ["w4", w4],
  ["w5", w5],
  ["w6", w6],
  ["w7", w7],
  ["w7d", w7d],
  ["w8", w8],
  ["gap", slowFsGap],
];

/** The workloads with C ceiling rows (bench/ceiling.ts builds the programs only for them). */
const CEILING_WORKLOADS: WorkloadId[] = ["w1", "w2", "w3", "w6", "sweep"];
/** The workloads with Python caio rows (the venv is made only for them). */
const PYTHON_CAIO_WORKLOADS: WorkloadId[] = ["w1", "w2"];

function contendersHere(): { contenders: Contender[]; unavailable: { name: string; reason: string }[] } {
  const backends = availableBackends();
  const available = backends.filter((b) => b.available).map((b) => b.name);
  const contenders = [bunFs, ...available.map((name) => caio(name)), bunFileSlice];
  if (available.includes("uring")) contenders.push(caioPlainBuffer("uring"), caioFile("uring"));
  contenders.push(...available.map((name) => caioRead(name)));
  // readMany batches native reads; the js backend's are node:fs calls one by one.
  contenders.push(...available.filter((name) => name !== "js").map((name) => caioReadMany(name)));
  const unavailable = backends.filter((b) => !b.available).map((b) => ({ name: b.name, reason: b.reason ?? "unavailable" }));
  return { contenders, unavailable };
}

/** bench.json keeps the raw samples, so the report can be redrawn (--replot) without measuring again. */
function writeReport(outDir: string, results: BenchResults): void {
  const checks = checkTargets(results);
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, "bench.json"), JSON.stringify(results, null, 1) + "\n");
  writeFileSync(join(outDir, "bench.md"), markdownReport(results, checks));
  writeFileSync(join(outDir, "bench.svg"), svgChart(results));
  console.log(`\n## Summary: median (vs Bun fs, or the baseline a column names)\n\n${summaryTable(results.workloads)}\n`);
  console.log(`## Targets\n\n${targetsTable(checks)}\n`);
  console.log(`report: ${join(outDir, "bench.md")}, chart: ${join(outDir, "bench.svg")}`);
}

const options = parseOptions(process.argv.slice(2));
if (options.replot) {
  writeReport(options.outDir, JSON.parse(readFileSync(join(options.outDir, "bench.json"), "utf8")));
  process.exit(0);
}
const files = prepareFiles(options.dataDir, options.fileBytes);
const fioSkipped = ensureFio() ? undefined : FIO_HINT;
const { contenders, unavailable } = contendersHere();
const machine = describeMachine();
const wants = (ids: WorkloadId[]) => ids.some((id) => options.only.has(id));
const ceilingSkipped = wants(CEILING_WORKLOADS) ? prepareCeilings(options.dataDir) : undefined;
const pythonCaio = wants(PYTHON_CAIO_WORKLOADS) ? preparePythonCaio(options.dataDir) : undefined;
if (wants(CEILING_WORKLOADS) && !ceilingSkipped) machine.liburing = liburingVersion();
if (pythonCaio && "version" in pythonCaio) machine.pythonCaio = `Python caio ${pythonCaio.version}`;
const env: BenchEnv = { options, files, contenders, fioSkipped, nodeSkipped: nodeUnavailable(), ceilingSkipped, pythonCaio };

console.log(
  `bench: ${[...options.only].join(", ")}; ${options.runs} runs × ${options.seconds} s per contender ` +
    `(sweep ${options.sweepSeconds} s per point), ${files.bytes >> 20} MiB files in ${options.dataDir}\n${machineLine(machine)}`,
);
for (const { name, reason } of unavailable) console.log(`caio ${name}: skipped (${reason})`);
if (fioSkipped) console.log(`fio rows: skipped (${fioSkipped})`);
if (env.nodeSkipped) console.log(`Node rows: skipped (${env.nodeSkipped})`);
if (ceilingSkipped) console.log(`C ceiling rows: skipped (${ceilingSkipped})`);
if (pythonCaio && "skipped" in pythonCaio) console.log(`Python caio rows: skipped (${pythonCaio.skipped})`);

const results: BenchResults = {
  machine,
  runs: options.runs,
  seconds: options.seconds,
  sweepSeconds: options.sweepSeconds,
  fileBytes: files.bytes,
  unavailable,
  workloads: [],
  sweeps: [],
};
for (const [id, run] of WORKLOADS) {
  if (!options.only.has(id)) continue;
  progress(`${id.toUpperCase()}: starting`);
  results.workloads.push(...[await run(env)].flat());
}
if (options.only.has("sweep")) results.sweeps = await sweeps(env);
if (options.only.has("rss")) results.rss = await rss(env);
machine.loadEnd = loadavg()[0]!;
if (loadSamples.length > 0) machine.loadDuring = { median: median(loadSamples), max: Math.max(...loadSamples) };
writeReport(options.outDir, results);
