/**
 * Runs test files in Bun with caio's ASan + UBSan build of the shared object and the
 * sanitizer runtimes preloaded into Bun (`bun run sanitize [test files…]`).
 *
 * The sanitized object (build/libcaio-sanitize.so, `bun build.ts --sanitize`) is put
 * where the cache load path looks for it, so caio loads it like any cached build.
 * Reports go to files (log_path) because the tests' child processes and Workers
 * inherit the environment; any report fails the run, whatever the tests said.
 * Timing assertions (timer gaps, abort budgets) may fail under the sanitizers'
 * slowdown; those are printed but only sanitizer reports decide the exit status.
 */
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const root = join(import.meta.dir, "..", "..");
const DEFAULT_FILES = ["test/workers.test.ts", "test/orphan.test.ts", "test/lifetime.test.ts", "test/integrity.test.ts", "test/hostile.test.ts"];

function runtimeLibrary(name: string): string {
  const found = Bun.spawnSync(["cc", `-print-file-name=${name}`]).stdout.toString().trim();
  if (!found.startsWith("/")) throw new Error(`caio sanitize: the C compiler has no ${name} (install gcc's sanitizer runtime)`);
  return found;
}

/** Where a CAIO_NATIVE=compile load puts the object for these sources, found by letting it compile once. */
function cachedObjectPath(cacheDir: string): string {
  const probe = Bun.spawnSync(
    [process.execPath, "-e", 'import { Context, nativeLibrary } from "./src/index.ts"; await new Context({ backend: "thread" }).close(); console.log(nativeLibrary().file)'],
    { cwd: root, env: { ...process.env, CAIO_CACHE_DIR: cacheDir, CAIO_NATIVE: "compile" } },
  );
  const file = probe.stdout.toString().trim();
  if (probe.exitCode !== 0 || !file) throw new Error(`caio sanitize: could not compile into ${cacheDir}: ${probe.stderr}`);
  return file;
}

function sanitizerReports(logDir: string): string[] {
  return readdirSync(logDir).map((name) => readFileSync(join(logDir, name), "utf8"));
}

const built = Bun.spawnSync([process.execPath, "build.ts", "--sanitize"], { cwd: root, stdout: "inherit", stderr: "inherit" });
if (built.exitCode !== 0) process.exit(built.exitCode ?? 1);
const work = mkdtempSync(join(tmpdir(), "caio-sanitize-"));
const logDir = join(work, "logs");
Bun.spawnSync(["mkdir", "-p", logDir]);
const cacheDir = join(work, "cache");
copyFileSync(join(root, "build", "libcaio-sanitize.so"), cachedObjectPath(cacheDir));
const logPath = join(logDir, "report");
const env = {
  ...process.env,
  CAIO_CACHE_DIR: cacheDir,
  CAIO_NATIVE: "compile",
  LD_PRELOAD: `${runtimeLibrary("libasan.so")} ${runtimeLibrary("libubsan.so")}`,
  // Bun handles SIGSEGV itself and frees memory ASan did not allocate: only caio's object is checked.
  ASAN_OPTIONS: `detect_leaks=0:handle_segv=0:allow_user_segv_handler=1:log_path=${logPath}`,
  UBSAN_OPTIONS: `print_stacktrace=1:halt_on_error=1:log_path=${logPath}`,
};
const files = process.argv.slice(2);
const tests = Bun.spawnSync([process.execPath, "test", "--timeout", "120000", ...(files.length ? files : DEFAULT_FILES)], {
  cwd: root,
  env,
  stdout: "inherit",
  stderr: "inherit",
});
const reports = sanitizerReports(logDir);
for (const report of reports) console.error(report);
console.log(
  `caio sanitize: ${reports.length} sanitizer report(s); the tests exited with ${tests.exitCode}` +
    (tests.exitCode !== 0 && reports.length === 0 ? " (timing assertions are expected to fail under the sanitizers' slowdown)" : ""),
);
rmSync(work, { recursive: true, force: true });
process.exit(reports.length > 0 ? 1 : 0);
