/**
 * caio inside a user's `bun build --compile` executable and `bun build --target bun`
 * bundle, made from the packed and installed package. Each is moved away from
 * node_modules and run with an empty environment (`env -i`) whose PATH has no C
 * compiler. It must still use a native backend without a warning: from the prebuilt
 * object it carries, or, when that object does not load, by compiling the C
 * sources it carries with TinyCC.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Context } from "../src/index.ts";
import { SOURCES } from "../src/native/sources.ts";
import { repoRoot, tempDir } from "./helpers.ts";
import { installPackedCaio, mustRun, packageBuilt as built, run } from "./support/package.ts";

if (!built) console.log('[skip] embedding check: prebuilt/ or types/ is missing; run "bun run build" first');

/** A PATH on which nothing, and so no C compiler, can be found. */
const NO_COMPILER_PATH = "/nonexistent";

interface AppReport {
  backend: string;
  readBack: boolean;
  library: { path: string; file?: string; reason?: string };
}

const scratch = tempDir();
afterAll(() => scratch[Symbol.dispose]());
const builds = join(scratch, "builds");
const executable = join(builds, "app");
const brokenObjectExecutable = join(builds, "app-broken-object");
const editedSourcesExecutable = join(builds, "app-edited-sources");
const bundle = join(builds, "bundle");

/** The backend a plain `new Context()` picks in this process (loaded from the repository). */
async function hostBackend(): Promise<string> {
  await using ctx = new Context({ maxRequests: 1 });
  return ctx.backend;
}

/**
 * Puts a new file at `path` in the installed package. Never a write into the old one:
 * `bun add` hard-links the files from Bun's install cache, which later installs of
 * the same tarball reuse.
 */
function replaceInstalled(project: string, path: string, contents: string | Buffer): void {
  const file = join(project, "node_modules", "caio", path);
  rmSync(file);
  writeFileSync(file, contents);
}

const POOL_SOURCE = join("c", "pool.c");
const OBJECT = join("prebuilt", `linux-${process.arch}`, "libcaio.so");

beforeAll(async () => {
  if (!built) return;
  const project = await installPackedCaio(scratch);
  copyFileSync(join(import.meta.dir, "embed", "app.ts"), join(project, "app.ts"));
  const bun = process.execPath;
  await Promise.all([
    mustRun([bun, "build", "--compile", "app.ts", "--outfile", executable], project),
    mustRun([bun, "build", "--target", "bun", "app.ts", "--outdir", bundle], project),
  ]);
  const pool = readFileSync(join(repoRoot, POOL_SOURCE));
  replaceInstalled(project, POOL_SOURCE, `${pool}\n/* edited after bun run build */\n`);
  await mustRun([bun, "build", "--compile", "app.ts", "--outfile", editedSourcesExecutable], project);
  replaceInstalled(project, POOL_SOURCE, pool);
  replaceInstalled(project, OBJECT, "not a shared object\n");
  await mustRun([bun, "build", "--compile", "app.ts", "--outfile", brokenObjectExecutable], project);
}, 60_000);

function emptyDirectory(label: string): string {
  const directory = join(scratch, `${label}-${crypto.randomUUID()}`);
  mkdirSync(directory);
  return directory;
}

/** A copy of `file` alone in a new, otherwise empty directory; returns the copy. */
function alone(file: string): string {
  const copy = join(emptyDirectory("alone"), "app");
  copyFileSync(file, copy);
  return copy;
}

/** A new, empty home directory (the default cache goes to HOME/.cache/caio). */
function freshHome(): string {
  return emptyDirectory("home");
}

/** Runs `command` under `env -i` with only a PATH without compilers and HOME; returns the app's report and stderr. */
async function runBare(command: string[], cwd: string, home: string): Promise<AppReport & { stderr: string }> {
  const result = await run(["env", "-i", `PATH=${NO_COMPILER_PATH}`, `HOME=${home}`, ...command], cwd);
  if (result.exitCode !== 0) throw new Error(`${command.join(" ")} failed (${result.exitCode}):\n${result.output}`);
  return { ...(JSON.parse(result.stdout) as AppReport), stderr: result.stderr };
}

test("every file in c/ is imported by name, so bundles carry all of them", () => {
  const shipped = readdirSync(join(repoRoot, "c")).filter((name) => name.endsWith(".c") || name.endsWith(".h"));
  expect(Object.keys(SOURCES).sort()).toEqual(shipped.sort());
});

describe.skipIf(!built)("caio in a user's compiled executable and bundle", () => {
  test("a compiled executable alone in an empty directory loads the object it carries: native, no warning", async () => {
    const app = alone(executable);
    const home = freshHome();
    const report = await runBare([app], join(app, ".."), home);
    console.log(`[embed] executable: backend=${report.backend} load=${report.library.path} file=${report.library.file}`);
    expect({ ...report, library: { ...report.library, file: undefined } }).toEqual({
      backend: await hostBackend(),
      readBack: true,
      library: { path: "embedded", file: undefined },
      stderr: "",
    });
    expect(report.library.file!.startsWith(join(home, ".cache", "caio"))).toBe(true);
  });

  test("the next run reuses the extracted object, and one altered since is rewritten before it is loaded", async () => {
    const app = alone(executable);
    const home = freshHome();
    const first = await runBare([app], join(app, ".."), home);
    const extracted = readFileSync(first.library.file!);
    const second = await runBare([app], join(app, ".."), home);
    writeFileSync(first.library.file!, "altered after extraction\n");
    const third = await runBare([app], join(app, ".."), home);
    expect([second.library, third.library]).toEqual([first.library, first.library]);
    expect(readFileSync(first.library.file!).equals(extracted)).toBe(true);
    expect(third.stderr).toBe("");
  });

  test("a bundle run from another directory, with no node_modules, loads the object copied beside it: native, no warning", async () => {
    const report = await runBare([process.execPath, join(bundle, "app.js")], emptyDirectory("cwd"), freshHome());
    console.log(`[embed] bundle: backend=${report.backend} load=${report.library.path} file=${report.library.file}`);
    expect(readdirSync(bundle).filter((name) => name === "node_modules" || name === "c")).toEqual([]);
    expect({ ...report, library: { ...report.library, file: undefined } }).toEqual({
      backend: await hostBackend(),
      readBack: true,
      library: { path: "prebuilt", file: undefined },
      stderr: "",
    });
    expect(report.library.file!.startsWith(`${bundle}/`)).toBe(true);
  });

  test("a compiled executable whose object does not load compiles the C sources it carries with TinyCC: native, no warning", async () => {
    const app = alone(brokenObjectExecutable);
    const home = freshHome();
    const report = await runBare([app], join(app, ".."), home);
    console.log(`[embed] executable with a broken object: backend=${report.backend} load=${report.library.path}`);
    expect({ path: report.library.path, readBack: report.readBack, stderr: report.stderr }).toEqual({ path: "tinycc", readBack: true, stderr: "" });
    expect(report.library.reason).toContain("the object embedded in this executable");
    expect(report.backend).not.toBe("js");
    if (process.arch === "x64") expect(report.backend).toBe(await hostBackend());
    const [cache] = readdirSync(join(home, ".cache", "caio"));
    expect(readdirSync(join(home, ".cache", "caio", cache!, "c")).sort()).toEqual(Object.keys(SOURCES).sort());
  });

  test("a compiled executable whose carried sources differ from the object's passes the object over for TinyCC", async () => {
    const report = await runBare([alone(editedSourcesExecutable)], emptyDirectory("cwd"), freshHome());
    expect({ path: report.library.path, readBack: report.readBack, stderr: report.stderr }).toEqual({ path: "tinycc", readBack: true, stderr: "" });
    expect(report.library.reason).toContain("was built from other c/ sources");
    expect(report.backend).not.toBe("js");
  });
});
