/**
 * Bad-input fuzz: per backend, a subprocess (test/fixtures/fuzz-child.ts) makes 10,000
 * calls with random wrong (and right) arguments — wrong types and ranges, closed and
 * never-open descriptors, a directory, listening and connected sockets, a pipe, huge
 * sizes, detached buffers, aborted signals, bad priorities, closed contexts, random
 * Context options — and hostile shapes (issue 13): views of every type lying about
 * byteLength, byteOffset, buffer or length through a subclass or an own getter, Proxies,
 * readv/writev arrays and option objects whose getters return something else on a
 * second read, duck-typed and polyfill signals, ioprio classes 4–7, growable
 * SharedArrayBuffers grown right after the call — in bursts of 100 per tick. It passes
 * when the subprocess exits on its own with code 0 and every call settled with a typed
 * error or a correct result (a lying view judged by the memory it really views).
 *
 * A second child (test/fixtures/file-fuzz-child.ts) drives File (issue 17) with random
 * right and wrong calls against an in-memory model of the file and its position.
 *
 * The seed is fixed (so a failure reproduces) unless CAIO_FUZZ_SEED is set; the child's
 * stderr names each bad call and the command that reruns it.
 */
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { backends, growableBufferProblem, repoRoot, reportSkip, runBun, SLOWDOWN, tempDir, type RunResult } from "./helpers.ts";

const CHILD = join(repoRoot, "test", "fixtures", "fuzz-child.ts");
const CALLS = 10_000;
const SEED = process.env.CAIO_FUZZ_SEED ?? String(0xca10);

interface Summary {
  backend: string;
  seed: number;
  calls: number;
  settled: number;
  violations: number;
  ms: number;
  counts: Record<string, number>;
  /** Arguments of each hostile shape drawn. */
  hostile: Record<string, number>;
}

/** Runs a fuzz child on `backend` in a temp dir; its result and the JSON after `marker` on its stdout. */
async function runChild<S>(
  child: string,
  backend: string,
  calls: number,
  marker: string,
  env: Record<string, string | undefined> = {},
): Promise<{ result: RunResult; summary?: S }> {
  using dir = tempDir();
  const result = await runBun(child, { CAIO_IMPL: backend, CAIO_FUZZ_SEED: SEED, CAIO_FUZZ_CALLS: String(calls), CAIO_FUZZ_DIR: dir, ...env });
  const line = result.stdout.split("\n").find((l) => l.startsWith(`${marker} `));
  return { result, summary: line ? (JSON.parse(line.slice(marker.length + 1)) as S) : undefined };
}

describe.each(backends.map((b) => [b.name, b] as const))("%s backend bad-input fuzz", (name, backend) => {
  reportSkip(backend);
  const growable = backend.available ? growableBufferProblem() : undefined;
  if (growable) console.log(`[skip] ${name} fuzz: growable and resizable buffer shapes left out: ${growable}`);

  test.skipIf(!backend.available)(
    `${CALLS} random calls each settle with a typed error or a correct result (seed ${SEED})`,
    async () => {
      const { result, summary } = await runChild<Summary>(CHILD, name, CALLS, "FUZZ_SUMMARY", {
        CAIO_FUZZ_NO_GROWABLE: growable ? "1" : undefined,
      });
      console.log(
        `[fuzz] ${name}: seed ${SEED}, exit ${result.exitCode}, ${Math.round(result.ms)} ms, ` +
          (summary ? `${summary.settled}/${summary.calls} settled, ${JSON.stringify(summary.counts)}` : "no summary"),
      );

      // exitCode null: killed after 20 s, a hang. stderr holds every bad outcome with its call.
      expect({ exitCode: result.exitCode, stderr: result.stderr }).toEqual({ exitCode: 0, stderr: "" });
      expect(summary).toMatchObject({ backend: name, seed: Number(SEED) >>> 0, calls: CALLS, settled: CALLS, violations: 0 });

      // Not vacuous: real successes, and the error families the pools are built to provoke.
      const counts = summary!.counts;
      expect(counts.ok ?? 0).toBeGreaterThan(300);
      const codes = Object.keys(counts).filter((code) => code !== "ok");
      expect(codes).toEqual(
        expect.arrayContaining([
          "ERR_INVALID_ARG_TYPE",
          "ERR_OUT_OF_RANGE",
          "ERR_INVALID_STATE",
          "ERR_CONTEXT_CLOSED",
          "ABORT_ERR",
          "EBADF",
          "EISDIR",
          "EINVAL",
        ]),
      );
      for (const code of ["ERR_INVALID_ARG_TYPE", "ERR_OUT_OF_RANGE", "ERR_INVALID_STATE", "ERR_CONTEXT_CLOSED", "ABORT_ERR"]) {
        expect(counts[code]).toBeGreaterThan(50);
      }
      // Every hostile shape was really drawn, not left to chance.
      const drawn = Object.fromEntries(
        [
          "lying view",
          "detached lying view",
          "proxy",
          "changing list",
          "changing option",
          "signal-like",
          "ioprio class 4-7",
          ...(growable ? [] : ["growable SharedArrayBuffer"]),
        ].map((shape) => [shape, (summary!.hostile[shape] ?? 0) > 50]),
      );
      expect(drawn).toEqual(Object.fromEntries(Object.keys(drawn).map((shape) => [shape, true])));
    },
    30_000 * SLOWDOWN,
  );
});

const FILE_CHILD = join(repoRoot, "test", "fixtures", "file-fuzz-child.ts");
const FILE_CALLS = 1500;

interface FileSummary {
  seed: number;
  calls: number;
  violations: number;
  counts: Record<string, number>;
}

describe.each(backends.map((b) => [b.name, b] as const))("%s backend File fuzz", (name, backend) => {
  reportSkip(backend);

  test.skipIf(!backend.available)(
    `${FILE_CALLS} random File calls agree with an in-memory model of the file and its position (seed ${SEED})`,
    async () => {
      const { result, summary } = await runChild<FileSummary>(FILE_CHILD, name, FILE_CALLS, "FILE_FUZZ_SUMMARY");
      console.log(`[file fuzz] ${name}: seed ${SEED}, exit ${result.exitCode}, ${Math.round(result.ms)} ms, ${JSON.stringify(summary?.counts)}`);
      expect({ exitCode: result.exitCode, stderr: result.stderr }).toEqual({ exitCode: 0, stderr: "" });
      expect(summary).toMatchObject({ seed: Number(SEED) >>> 0, calls: FILE_CALLS, violations: 0 });
      for (const code of ["ok", "EBADF", "ERR_OUT_OF_RANGE", "ERR_INVALID_ARG_TYPE"]) expect(summary!.counts[code] ?? 0).toBeGreaterThan(50);
    },
    30_000,
  );
});
