/**
 * The per-user cache of shared objects compiled on first use. One directory per
 * (Bun version, architecture, sources + flags); an object is written under a name
 * unique to its process and renamed into place, so processes that compile at the
 * same moment each install a complete file and nobody loads a half-written one.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { SHARED_OBJECT_FLAGS, SOURCES, sourceHash } from "./sources.ts";

export const LIBRARY_NAME = "libcaio.so";

/** CAIO_CACHE_DIR, else $XDG_CACHE_HOME/caio, else ~/.cache/caio. */
function preferredRoot(env: Record<string, string | undefined>): string {
  if (env.CAIO_CACHE_DIR) return env.CAIO_CACHE_DIR;
  if (env.XDG_CACHE_HOME) return join(env.XDG_CACHE_HOME, "caio");
  return join(homedir(), ".cache", "caio");
}

/**
 * A directory in the shared temp dir, used when the home directory is read-only.
 * It must be ours and closed to others: anyone who can write there could plant a library.
 */
function privateTempRoot(): string {
  const root = join(tmpdir(), `caio-cache-${process.getuid?.() ?? "user"}`);
  mkdirSync(root, { recursive: true, mode: 0o700 });
  const { uid, mode } = statSync(root);
  if (uid !== process.getuid?.() || (mode & 0o022) !== 0) {
    throw new Error(`${root} belongs to another user or is writable by others; set CAIO_CACHE_DIR`);
  }
  return root;
}

/** The cache directory for this Bun, architecture and these sources (created if missing). */
export function cacheDirectory(env: Record<string, string | undefined> = process.env): string {
  const key = createHash("sha256").update(sourceHash()).update(SHARED_OBJECT_FLAGS.join(" ")).digest("hex").slice(0, 16);
  const leaf = `bun-${Bun.version}-${process.arch}-${key}`;
  const preferred = join(preferredRoot(env), leaf);
  try {
    mkdirSync(preferred, { recursive: true });
    return preferred;
  } catch (error) {
    if (env.CAIO_CACHE_DIR) throw error;
    const fallback = join(privateTempRoot(), leaf);
    mkdirSync(fallback, { recursive: true, mode: 0o700 });
    return fallback;
  }
}

export function cachedLibrary(directory: string): string | undefined {
  const file = join(directory, LIBRARY_NAME);
  return existsSync(file) ? file : undefined;
}

/** A name next to `file` that no other process or call uses. */
function temporaryName(file: string): string {
  return `${file}.${process.pid}.${crypto.randomUUID()}.tmp`;
}

/**
 * Runs `write(temporaryPath)` and, if it reports success, renames the result to
 * the cached library's name (atomic within one directory). Returns the final path.
 */
export function installAtomically<T extends { ok: boolean }>(
  directory: string,
  write: (temporaryPath: string) => T,
): { file: string; outcome: T } {
  const file = join(directory, LIBRARY_NAME);
  const temporary = temporaryName(file);
  try {
    const outcome = write(temporary);
    if (outcome.ok) renameSync(temporary, file);
    return { file, outcome };
  } finally {
    rmSync(temporary, { force: true });
  }
}

/**
 * `file` holding exactly `contents`: left alone when it already does, else written
 * under a private name and renamed into place, so a reader never sees half a file.
 */
export function materialize(file: string, contents: Uint8Array | string): string {
  const wanted = typeof contents === "string" ? Buffer.from(contents) : contents;
  if (existsSync(file) && readFileSync(file).equals(wanted)) return file;
  const temporary = temporaryName(file);
  try {
    writeFileSync(temporary, wanted);
    renameSync(temporary, file);
  } finally {
    rmSync(temporary, { force: true });
  }
  return file;
}

/**
 * A real file with the shared object embedded in a compiled executable, named
 * after its contents in `directory`. The dynamic loader reads only real files.
 * Bun's dlopen would extract it itself, but into the shared temp dir, reusing any
 * file already there with the same name and size (Bun 1.4.5) without comparing
 * contents; the user's cache is private and the contents are compared here.
 */
export function extractedObject(directory: string, embedded: string): string {
  const bytes = readFileSync(embedded);
  const name = `embedded-${createHash("sha256").update(bytes).digest("hex").slice(0, 16)}.so`;
  return materialize(join(directory, name), bytes);
}

/** A c/ directory on disk under `directory` holding the sources caio carries, for the compilers to read. */
export function writtenSources(directory: string): string {
  const sources = join(directory, "c");
  mkdirSync(sources, { recursive: true });
  for (const [name, text] of Object.entries(SOURCES)) materialize(join(sources, name), text);
  return sources;
}
