/**
 * W8: the lines of a 100 MiB UTF-8 text file counted, pass after pass, through caio's
 * File.lines() on every backend beside node:readline over fs.createReadStream and
 * FileHandle.readLines(). The file is made once under the data dir: deterministic
 * lines of 0 to 24 words, some of them multi-byte (2, 3 and 4 bytes a character).
 */
import { closeSync, createReadStream, existsSync, openSync, readFileSync, statSync, writeSync } from "node:fs";
import { open as openHandle } from "node:fs/promises";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { open, type BackendName } from "../../src/index.ts";
import type { WorkloadResult } from "../results.ts";
import { interleave, progress } from "../run.ts";
import { seriesOf, type BenchEnv } from "./env.ts";
import { onContext, passRow, perSecond, type Pass, type PassRow } from "./passes.ts";
import { caioBackends } from "./streaming.ts";

export const TEXT_BYTES = 100 * 2 ** 20;
export const READLINE_LABEL = "node:readline";
export const LINES_FAMILY = "caio lines()";
const WORDS = ["the", "caio", "io_uring", "Größe", "naïve", "café", "données", "日本語", "文件", "данные", "λόγος", "😀", "🚀x", "a", "read", "stream"];
/** Lines are written in batches of about this many bytes. */
const BATCH = 1 << 20;

/** A small deterministic generator (LCG), so every machine gets the same file. */
function generator(seed: number): () => number {
  let state = seed >>> 0;
  return () => (state = (Math.imul(state, 1664525) + 1013904223) >>> 0);
}

function line(random: () => number): string {
  const words: string[] = [];
  for (let n = random() % 25; n > 0; n--) words.push(WORDS[random() % WORDS.length]!);
  return words.join(" ") + "\n";
}

/** Writes exactly TEXT_BYTES of lines; the last line is padded with "x" to fit. */
function writeText(path: string): void {
  const random = generator(17);
  const fd = openSync(path, "w");
  let written = 0;
  try {
    let next = line(random);
    let nextBytes = Buffer.byteLength(next);
    for (let full = false; !full; ) {
      let batch = "";
      let batchBytes = 0;
      while (batchBytes < BATCH && !(full = written + batchBytes + nextBytes >= TEXT_BYTES - 1)) {
        batch += next;
        batchBytes += nextBytes;
        next = line(random);
        nextBytes = Buffer.byteLength(next);
      }
      written += writeSync(fd, batch);
    }
    writeSync(fd, "x".repeat(TEXT_BYTES - written - 1) + "\n");
  } finally {
    closeSync(fd);
  }
}

/** The text file (made if missing) and its line count. */
function prepareText(dir: string): { path: string; lines: number } {
  const path = join(dir, "lines-100MiB.txt");
  if (!existsSync(path) || statSync(path).size !== TEXT_BYTES) {
    progress(`W8: writing the ${TEXT_BYTES >> 20} MiB text file ${path}`);
    writeText(path);
  }
  const bytes = readFileSync(path);
  let lines = 0;
  for (let at = bytes.indexOf(10); at !== -1; at = bytes.indexOf(10, at + 1)) lines++;
  return { path, lines };
}

const one = () => 1;

function linesRow(label: string, role: PassRow["role"], lines: number, pass: Pass<string>): PassRow {
  return { label, role, measure: (seconds) => perSecond(seconds, lines, one, pass) };
}

function readlineRows(path: string, lines: number): PassRow[] {
  return [
    linesRow(READLINE_LABEL, "baseline", lines, async (take) => {
      const input = createReadStream(path);
      const reader = createInterface({ input, crlfDelay: Infinity });
      try {
        for await (const line of reader) if (!take(line)) break;
      } finally {
        reader.close();
        input.destroy();
      }
    }),
    linesRow("FileHandle.readLines()", "peer", lines, async (take) => {
      const handle = await openHandle(path);
      try {
        for await (const line of handle.readLines()) if (!take(line)) break;
      } finally {
        await handle.close().catch(() => {}); // readLines' stream may have closed it already (autoClose)
      }
    }),
  ];
}

/** file.lines() with its defaults, a File per pass on a Context made for the sample. */
function caioRow(backend: BackendName, path: string, lines: number): PassRow {
  return {
    label: `caio ${backend} lines()`,
    role: "caio",
    family: LINES_FAMILY,
    measure: (seconds) =>
      onContext(backend, (ctx) =>
        perSecond(seconds, lines, one, async (take) => {
          await using file = await open(path, "r", { context: ctx });
          for await (const line of file.lines()) if (!take(line)) break;
        }),
      ),
  };
}

export async function w8(env: BenchEnv): Promise<WorkloadResult> {
  const { path, lines } = prepareText(env.options.dataDir);
  const { seconds } = env.options;
  const rows = [...readlineRows(path, lines), ...caioBackends(env).map((backend) => caioRow(backend, path, lines))].map((row) =>
    passRow("W8", seconds, row, path),
  );
  const perSecondShown = (value: number) => `${(value / 1e6).toFixed(2)}M lines/s`;
  const samples = await interleave("W8", env.options.runs, rows, perSecondShown);
  return {
    id: "w8",
    title: "W8 lines of a cached 100 MiB UTF-8 text file",
    detail: `${lines.toLocaleString("en-US")} lines of 0 to 24 words, some multi-byte; defaults everywhere, readline with crlfDelay Infinity`,
    unit: "lines/s",
    baseline: READLINE_LABEL,
    note: "Each pass opens the file, counts its lines (a pass cut off by the sample's end counts what it got) and closes it; a whole pass must count every line.",
    series: seriesOf(rows, samples, (v) => v),
  };
}
