/**
 * The consumer check: `bun pm pack` this package, `bun add` the tarball to a fresh
 * project, and run a user's `bun test` there: normally, with no C compiler on PATH,
 * with the prebuilt objects removed and no compiler (TinyCC), and with them removed
 * and a compiler (a cache build). Each run prints its backend and load path. Then
 * `tsc` checks the consumer's code against the shipped declarations with `strict` on,
 * and `bunx caio doctor` runs the installed package's bin.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { copyFileSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { repoRoot, tempDir } from "./helpers.ts";
import { installPackedCaio, packageBuilt as built, run } from "./support/package.ts";

if (!built) console.log('[skip] consumer check: prebuilt/ or types/ is missing; run "bun run build" first');

const CONSUMER_TSCONFIG = {
  compilerOptions: {
    target: "ESNext",
    module: "Preserve",
    moduleResolution: "bundler",
    strict: true,
    exactOptionalPropertyTypes: true,
    noUncheckedIndexedAccess: true,
    noUnusedLocals: true,
    noEmit: true,
    types: ["bun-types"],
    typeRoots: [join(repoRoot, "node_modules")],
  },
  include: ["caio.test.ts"],
};

const scratch = tempDir();
const project = join(scratch, "project");
const installed = join(project, "node_modules", "caio");
afterAll(() => scratch[Symbol.dispose]());

/** A directory holding only `bun`: a PATH on which no C compiler can be found. */
function pathWithoutCompiler(): string {
  const bin = join(scratch, "bin");
  mkdirSync(bin, { recursive: true });
  symlinkSync(process.execPath, join(bin, "bun"));
  return bin;
}

beforeAll(async () => {
  if (!built) return;
  await installPackedCaio(scratch);
  copyFileSync(join(import.meta.dir, "consumer", "caio.fixture.ts"), join(project, "caio.test.ts"));
}, 60_000);

/** Runs the consumer's `bun test` with a fresh cache and returns the line it printed. */
async function consumerTest(env: Record<string, string | undefined>): Promise<string> {
  using cache = tempDir();
  const result = await run([process.execPath, "test", "caio.test.ts"], project, {
    CAIO_NATIVE: undefined,
    CAIO_IMPL: undefined,
    CAIO_CACHE_DIR: cache,
    ...env,
  });
  const line = result.stdout.split("\n").find((text) => text.startsWith("[consumer]"));
  if (result.exitCode !== 0 || !line) throw new Error(`consumer bun test failed (${result.exitCode}):\n${result.output}`);
  return line;
}

describe.skipIf(!built)("bun add caio in a fresh project", () => {
  const cases: [string, () => Record<string, string>, string][] = [
    ["as installed", () => ({}), "prebuilt"],
    ["with no C compiler on PATH", () => ({ PATH: pathWithoutCompiler() }), "prebuilt"],
    ["without prebuilt objects and with no C compiler (TinyCC)", () => ({ PATH: pathWithoutCompiler() }), "tinycc"],
    ["without prebuilt objects, compiled by the system cc into the cache", () => ({}), "cache"],
  ];

  test.each(cases)("the consumer's bun test passes %s", async (label, env, path) => {
    if (path !== "prebuilt") rmSync(join(installed, "prebuilt"), { recursive: true, force: true });
    rmSync(join(scratch, "bin"), { recursive: true, force: true });
    const line = await consumerTest(env());
    console.log(`${line} (${label})`);
    expect(line).toContain(` load=${path}`);
    expect(line).not.toContain("backend=js");
  }, 60_000);

  test("bunx caio doctor runs the installed package's bin and reports this machine", async () => {
    const result = await run([process.execPath, "x", "caio", "doctor", "--json", "--quick"], project, { CAIO_NATIVE: undefined, CAIO_IMPL: undefined });
    expect({ exitCode: result.exitCode, stderr: result.stderr }).toEqual({ exitCode: 0, stderr: "" });
    const report = JSON.parse(result.stdout);
    expect(report).toMatchObject({ schema: 1, fs: { dir: project }, measurement: { skipped: null } });
    // The line to pin a backend names the installed package's default_implementation, not the repository's.
    expect(report.measurement.recommended.pin.file).toBe(join(installed, "default_implementation"));
  }, 60_000);

  test.skipIf(!Bun.which("node"))("the shipped declarations type-check a consumer with strict on", async () => {
    writeFileSync(join(project, "tsconfig.json"), JSON.stringify(CONSUMER_TSCONFIG, null, 2));
    const result = await run([join(repoRoot, "node_modules", ".bin", "tsc"), "-p", project], project);
    expect({ exitCode: result.exitCode, output: result.output.trim() }).toEqual({ exitCode: 0, output: "" });
  }, 60_000);
});
