/**
 * How caio finds its native library: the prebuilt object, a system-cc build in the
 * per-user cache (including two processes compiling into it at once), an in-memory
 * TinyCC build, or none with one warning. Each case is a fresh process, because
 * the library is loaded once per process.
 */
import { describe, expect, test } from "bun:test";
import { appendFileSync, cpSync, existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ALL_SYMBOLS } from "../src/native/symbols.ts";
import { repoRoot, runBun, tempDir, type RunResult } from "./helpers.ts";

const PROBE = join(import.meta.dir, "loading", "probe.ts");
const BARRIER_CC = join(import.meta.dir, "loading", "barrier-cc.sh");
const hasCompiler = Bun.which("cc") !== null;
const MANIFEST = join(repoRoot, "prebuilt", "manifest.json");
/** ELF e_machine values: EM_X86_64, EM_AARCH64. */
const ELF_MACHINE: Record<string, number> = { "linux-x64": 62, "linux-arm64": 183 };
const CAIO_ENV = { CAIO_NATIVE: undefined, CAIO_IMPL: undefined, CAIO_CACHE_DIR: undefined, CC: undefined };

interface Probe {
  defaultBackend: string;
  native: Record<string, string>;
  library: { path: string; file?: string; reason?: string; compileMs?: number };
  warnings: string[];
}

/** A system cc build of c/ takes 1-3 s here, two at once on a loaded 2-core machine more than bun test's default 5 s. */
const COMPILE_TIMEOUT_MS = 60_000;

function parse(result: RunResult): Probe {
  if (result.exitCode !== 0) throw new Error(`probe failed (${result.exitCode}): ${result.stderr}`);
  const warnings = result.stderr.split("\n").filter((line) => line.includes("CaioWarning"));
  return { ...JSON.parse(result.stdout), warnings };
}

async function probe(env: Record<string, string | undefined>, root = repoRoot): Promise<Probe> {
  return parse(await runBun(PROBE, { ...CAIO_ENV, CAIO_PROBE_ROOT: root, ...env }));
}

/** Every native backend that opened moved the bytes; none is missing. */
function expectNativeRoundTrips(result: Probe): void {
  for (const [name, outcome] of Object.entries(result.native)) {
    if (!outcome.startsWith("unavailable")) expect(outcome).toBe(name);
  }
}

describe.skipIf(!existsSync(MANIFEST))("prebuilt objects", () => {
  test("each platform in the manifest is an ELF shared object for that architecture exporting the whole contract", () => {
    const { platforms } = JSON.parse(readFileSync(MANIFEST, "utf8")) as { platforms: string[] };
    if (platforms.length < 2) console.log(`[native] prebuilt platforms: ${platforms.join(", ")} (no cross compiler)`);
    expect(platforms).toContain(`linux-${process.arch}`);
    for (const platform of platforms) {
      const elf = readFileSync(join(repoRoot, "prebuilt", platform, "libcaio.so"));
      const header = { magic: elf.subarray(0, 4).toString("latin1"), type: elf.readUInt16LE(16), machine: elf.readUInt16LE(18) };
      expect(header).toEqual({ magic: "\x7fELF", type: 3, machine: ELF_MACHINE[platform]! });
      const text = elf.toString("latin1");
      expect(Object.keys(ALL_SYMBOLS).filter((name) => !text.includes(`\0${name}\0`))).toEqual([]);
    }
  });
});

describe("native library load paths", () => {
  test("by default the prebuilt object for this architecture loads", async () => {
    const result = await probe({});
    expect(result.library).toEqual({ path: "prebuilt", file: join(repoRoot, "prebuilt", `linux-${process.arch}`, "libcaio.so") });
    expect(result.warnings).toEqual([]);
    expectNativeRoundTrips(result);
  });

  test.skipIf(!hasCompiler)("CAIO_NATIVE=compile builds into the cache once; the next process loads it without compiling", async () => {
    using cache = tempDir();
    const first = await probe({ CAIO_NATIVE: "compile", CAIO_CACHE_DIR: cache });
    const second = await probe({ CAIO_NATIVE: "compile", CAIO_CACHE_DIR: cache });
    console.log(`[native] system cc build into the cache: ${first.library.compileMs} ms`);
    expect(first.library.path).toBe("cache");
    expect(first.library.file!.startsWith(join(cache, `bun-${Bun.version}-${process.arch}-`))).toBe(true);
    expect(first.library.compileMs).toBeGreaterThan(0);
    expect(second.library).toEqual({ path: "cache", file: first.library.file! });
    expectNativeRoundTrips(first);
    expectNativeRoundTrips(second);
  }, COMPILE_TIMEOUT_MS);

  test.skipIf(!hasCompiler)("two processes compiling into an empty cache at once both load a complete object", async () => {
    using cache = tempDir();
    using barrier = tempDir();
    const env = { CAIO_NATIVE: "compile", CAIO_CACHE_DIR: cache, CC: BARRIER_CC, CAIO_BARRIER_DIR: barrier, CAIO_BARRIER_PARTIES: "2" };
    const racers = await Promise.all([probe(env), probe(env)]);
    for (const racer of racers) {
      expect(racer.library.path).toBe("cache");
      expect(racer.library.compileMs).toBeGreaterThan(0);
      expectNativeRoundTrips(racer);
    }
    expect(racers[0]!.library.file).toBe(racers[1]!.library.file!);
    const directory = join(racers[0]!.library.file!, "..");
    expect(readdirSync(directory)).toEqual(["libcaio.so"]);
    const later = await probe({ CAIO_NATIVE: "compile", CAIO_CACHE_DIR: cache });
    expect(later.library).toEqual({ path: "cache", file: racers[0]!.library.file! });
  }, COMPILE_TIMEOUT_MS);

  test.skipIf(!hasCompiler)("prebuilt objects built from other sources are passed over for a cache build of the shipped ones", async () => {
    using pkg = tempDir();
    using cache = tempDir();
    for (const part of ["src", "c", "prebuilt", "package.json"]) cpSync(join(repoRoot, part), join(pkg, part), { recursive: true });
    appendFileSync(join(pkg, "c", "pool.c"), "/* edited after bun run build */\n");
    const result = await probe({ CAIO_CACHE_DIR: cache }, pkg);
    expect(result.library.path).toBe("cache");
    expect(result.library.reason).toContain("was built from other c/ sources");
    expect(result.warnings).toEqual([]);
    expectNativeRoundTrips(result);
  }, COMPILE_TIMEOUT_MS);

  test("CAIO_NATIVE=tinycc compiles c/ in memory with Bun's TinyCC", async () => {
    const result = await probe({ CAIO_NATIVE: "tinycc" });
    console.log(`[native] TinyCC build: ${result.library.compileMs} ms`);
    expect(result.library.path).toBe("tinycc");
    expect(result.library.file).toBeUndefined();
    if (process.arch !== "x64") expect(result.library.reason).toContain("caio_uring left out");
    expect(result.warnings).toEqual([]);
    expectNativeRoundTrips(result);
  });

  test("with TinyCC's build, the context suite passes on every backend", async () => {
    const run = Bun.spawn(
      [process.execPath, "test", "--timeout", "60000", "--preload", "./test/loading/report.ts", "test/context.test.ts", "test/integrity.test.ts", "test/direct.test.ts"],
      { cwd: repoRoot, stdout: "pipe", stderr: "pipe", env: { ...process.env, ...CAIO_ENV, CAIO_NATIVE: "tinycc" } },
    );
    const [exitCode, stdout, stderr] = await Promise.all([run.exited, new Response(run.stdout).text(), new Response(run.stderr).text()]);
    const report = stdout.split("\n").find((line) => line.startsWith("[native]"));
    console.log(`${report} — ${stderr.split("\n").find((line) => /^ *\d+ pass/.test(line))?.trim()}`);
    expect(report).toContain('"path":"tinycc"');
    expect({ exitCode, failures: stderr.split("\n").filter((line) => line.startsWith("(fail)")) }).toEqual({ exitCode: 0, failures: [] });
  }, 120_000);

  test("when no path works, Contexts use js and one warning gives every reason and the fix", async () => {
    using cache = tempDir();
    const result = await probe({ CAIO_NATIVE: "compile", CAIO_CACHE_DIR: cache, CC: "/bin/false" });
    expect(result.defaultBackend).toBe("js");
    expect(result.library.path).toBe("none");
    expect(result.library.reason).toContain('cache: "/bin/false" failed');
    expect(result.warnings).toHaveLength(1);
    expect(result.warnings[0]).toContain('"/bin/false" failed');
    expect(result.warnings[0]).toContain("install a C compiler");
    expect(Object.values(result.native).every((outcome) => outcome.includes("native library is not loaded"))).toBe(true);
  });

  test("CAIO_NATIVE=none selects js without a warning", async () => {
    const result = await probe({ CAIO_NATIVE: "none" });
    expect({ defaultBackend: result.defaultBackend, library: result.library, warnings: result.warnings }).toEqual({
      defaultBackend: "js",
      library: { path: "none", reason: "CAIO_NATIVE=none" },
      warnings: [],
    });
  });

  test("an unknown CAIO_NATIVE warns once, naming the allowed values, and loads as usual", async () => {
    const result = await probe({ CAIO_NATIVE: "gcc" });
    expect(result.library.path).toBe("prebuilt");
    expect(result.warnings).toHaveLength(1);
    expect(result.warnings[0]).toContain('CAIO_NATIVE is "gcc", which is not one of auto, prebuilt, compile, tinycc, none');
  });
});
