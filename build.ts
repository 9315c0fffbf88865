/**
 * Compiles every c/*.c into one shared object, build/libcaio.so, that src/native.ts
 * loads with bun:ffi. `bun build.ts --sanitize` builds build/libcaio-sanitize.so with
 * ASan + UBSan for the native test programs.
 */
import { mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";

const root = import.meta.dir;
const sanitize = process.argv.includes("--sanitize");
const compiler = process.env.CC ?? "cc";

const baseFlags = [
  "-std=gnu11",
  "-O2",
  "-g",
  "-Wall",
  "-Wextra",
  "-Werror",
  "-fPIC",
  "-shared",
  "-fvisibility=hidden",
  "-pthread",
];
const sanitizeFlags = ["-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-fno-sanitize-recover=all"];

function fail(message: string): never {
  console.error(`caio build: ${message}`);
  process.exit(1);
}

export function buildSharedObject(options: { sanitize?: boolean } = {}): string {
  if (!Bun.which(compiler)) {
    fail(
      `no C compiler found ("${compiler}" is not on PATH).\n` +
        `  Fix: install one, e.g. "apt-get install gcc" (Debian/Ubuntu), "apk add build-base" (Alpine),\n` +
        `  or point CC at a compiler: CC=clang bun run build`,
    );
  }
  const sources = readdirSync(join(root, "c"))
    .filter((name) => name.endsWith(".c"))
    .sort()
    .map((name) => join(root, "c", name));
  const outDir = join(root, "build");
  mkdirSync(outDir, { recursive: true });
  const output = join(outDir, options.sanitize ? "libcaio-sanitize.so" : "libcaio.so");
  const flags = options.sanitize ? [...baseFlags, ...sanitizeFlags] : baseFlags;
  const result = Bun.spawnSync([compiler, ...flags, "-o", output, ...sources], { stdout: "inherit", stderr: "inherit" });
  if (result.exitCode !== 0) {
    fail(`"${compiler}" failed to compile c/ (exit ${result.exitCode}); the compiler's messages are above.`);
  }
  return output;
}

if (import.meta.main) {
  const output = buildSharedObject({ sanitize });
  console.log(`caio build: wrote ${output}`);
}
