/**
 * The C sources shipped in c/ and the flags every system-compiler build of them
 * uses. build.ts (prebuilt objects) and the first-use compile (cache) share these,
 * so a cached object is built the same way as a prebuilt one.
 */
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

export const SOURCE_DIR = join(import.meta.dir, "..", "..", "c");

/** Flags for the shared object; -Werror is added only by build.ts, never on a user's compiler. */
export const SHARED_OBJECT_FLAGS = ["-std=gnu11", "-O2", "-fPIC", "-shared", "-fvisibility=hidden", "-pthread"];

/** Warnings that fail caio's own builds (a user's newer compiler may warn about more). */
export const STRICT_FLAGS = ["-Wall", "-Wextra", "-Werror"];

function sourceNames(): string[] {
  return readdirSync(SOURCE_DIR)
    .filter((name) => name.endsWith(".c") || name.endsWith(".h"))
    .sort();
}

/** The translation units, c/*.c, as absolute paths in a stable order. */
export function sourceFiles(): string[] {
  return sourceNames()
    .filter((name) => name.endsWith(".c"))
    .map((name) => join(SOURCE_DIR, name));
}

/** sha256 of every c/ source and header (names and contents): identifies what an object was built from. */
export function sourceHash(): string {
  const hash = createHash("sha256");
  for (const name of sourceNames()) {
    hash.update(`${name}\0`);
    hash.update(readFileSync(join(SOURCE_DIR, name)));
    hash.update("\0");
  }
  return hash.digest("hex");
}
