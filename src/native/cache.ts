/**
 * The per-user cache of shared objects compiled on first use. One directory per
 * (Bun version, architecture, sources + flags); an object is written under a name
 * unique to its process and renamed into place, so processes that compile at the
 * same moment each install a complete file and nobody loads a half-written one.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, renameSync, rmSync, statSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { SHARED_OBJECT_FLAGS, sourceHash } from "./sources.ts";

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

/**
 * Runs `write(temporaryPath)` and, if it reports success, renames the result to
 * the cached library's name (atomic within one directory). Returns the final path.
 */
export function installAtomically<T extends { ok: boolean }>(
  directory: string,
  write: (temporaryPath: string) => T,
): { file: string; outcome: T } {
  const file = join(directory, LIBRARY_NAME);
  const temporary = join(directory, `${LIBRARY_NAME}.${process.pid}.${crypto.randomUUID()}.tmp`);
  try {
    const outcome = write(temporary);
    if (outcome.ok) renameSync(temporary, file);
    return { file, outcome };
  } finally {
    rmSync(temporary, { force: true });
  }
}
