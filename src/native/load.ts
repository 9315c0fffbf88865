/**
 * Finds a native library for this process, trying in order: the prebuilt object
 * shipped for this architecture (copied out of the executable first when caio runs
 * inside one made by `bun build --compile`), an object compiled with the system C
 * compiler into the per-user cache, and an in-memory TinyCC build. CAIO_NATIVE
 * forces one of them (or none). No install script is involved: everything happens
 * on first use.
 */
import { dlopen } from "bun:ffi";
import { cacheDirectory, cachedLibrary, extractedObject, installAtomically, writtenSources } from "./cache.ts";
import { compileSharedObject, findCompiler } from "./compile.ts";
import { findPrebuilt } from "./prebuilt.ts";
import { holdsSources, SOURCE_DIR, sourceHash } from "./sources.ts";
import { ALL_SYMBOLS, type NativeFunctions, type NativeUnit } from "./symbols.ts";
import { compileWithTinyCC } from "./tinycc.ts";

/**
 * How the native library was obtained; "embedded" is the prebuilt object carried
 * inside a compiled executable; "none" means only the js backend can run.
 */
export type NativeLoadPath = "prebuilt" | "embedded" | "cache" | "tinycc" | "none";

/** What CAIO_NATIVE accepts: one load path ("prebuilt" includes "embedded"), every path in order ("auto"), or none. */
export type NativeMode = "auto" | "prebuilt" | "compile" | "tinycc" | "none";
export const NATIVE_MODES: readonly NativeMode[] = ["auto", "prebuilt", "compile", "tinycc", "none"];

export type LoadedLibrary =
  | {
      path: Exclude<NativeLoadPath, "none">;
      functions: NativeFunctions;
      file?: string;
      /** Time this process spent compiling; absent when it loaded a finished object. */
      compileMs?: number;
      /** Backends (or the memory functions) missing from this build, with the reason (TinyCC on some architectures). */
      omitted?: Partial<Record<NativeUnit, string>>;
      /** Why the paths tried before this one were passed over. */
      skipped: string[];
    }
  | { path: "none"; skipped: string[] };

type Loaded = Extract<LoadedLibrary, { functions: unknown }>;
/** A step's result; `path` is set when it differs from the step's own (an embedded prebuilt object). */
type Attempt = (Omit<Loaded, "path" | "skipped"> & { path?: Loaded["path"] }) | { failed: string };

function openSharedObject(file: string): Attempt {
  try {
    return { functions: dlopen(file, ALL_SYMBOLS).symbols as unknown as NativeFunctions, file };
  } catch (error) {
    return { failed: `${file} does not load: ${(error as Error).message}` };
  }
}

function loadPrebuilt(env: Record<string, string | undefined>): Attempt {
  const found = findPrebuilt(sourceHash);
  if ("reason" in found) return { failed: found.reason };
  if (!found.embedded) return openSharedObject(found.file);
  const opened = openSharedObject(extractedObject(cacheDirectory(env), found.file));
  return "failed" in opened ? { failed: `the object embedded in this executable: ${opened.failed}` } : { ...opened, path: "embedded" };
}

/**
 * A directory of real files for the compilers: c/ when it holds the sources caio
 * carries (a checkout, an installed package), else a copy written into the cache
 * (a bundle or a compiled executable, where c/ is not on disk).
 */
function sourcesOnDisk(env: Record<string, string | undefined>, directory?: string): string {
  return holdsSources(SOURCE_DIR) ? SOURCE_DIR : writtenSources(directory ?? cacheDirectory(env));
}

/** The cached object for these sources, compiling it first when it is missing or does not load. */
function loadCached(env: Record<string, string | undefined>): Attempt {
  let directory: string;
  try {
    directory = cacheDirectory(env);
  } catch (error) {
    return { failed: `no usable cache directory: ${(error as Error).message}` };
  }
  const existing = cachedLibrary(directory);
  const previous = existing ? openSharedObject(existing) : undefined;
  if (previous && !("failed" in previous)) return previous;
  const compiler = findCompiler(env);
  if (!compiler) {
    const tried = env.CC ? `CC="${env.CC}" is not on PATH` : "no cc, gcc or clang on PATH";
    const stale = previous && "failed" in previous ? ` (and ${previous.failed})` : "";
    return { failed: `cannot compile c/: ${tried}${stale}` };
  }
  const sources = sourcesOnDisk(env, directory);
  const { file, outcome } = installAtomically(directory, (temporary) => compileSharedObject(compiler, temporary, [], sources));
  if (!outcome.ok) return { failed: outcome.reason };
  const opened = openSharedObject(file);
  return "failed" in opened ? opened : { ...opened, compileMs: outcome.ms };
}

function loadTinyCC(env: Record<string, string | undefined>): Attempt {
  const sources = sourcesOnDisk(env);
  try {
    const { functions, omitted, ms } = compileWithTinyCC(sources);
    return { functions, omitted, compileMs: ms };
  } catch (error) {
    return { failed: `TinyCC (bun:ffi cc) failed: ${(error as Error).message}` };
  }
}

const STEPS: readonly { mode: NativeMode; path: Exclude<NativeLoadPath, "none">; attempt: (env: Record<string, string | undefined>) => Attempt }[] = [
  { mode: "prebuilt", path: "prebuilt", attempt: loadPrebuilt },
  { mode: "compile", path: "cache", attempt: loadCached },
  { mode: "tinycc", path: "tinycc", attempt: loadTinyCC },
];

/** A step that throws (c/ unreadable, a full disk) is a failed step, not a failed import. */
function attemptSafely(attempt: (env: Record<string, string | undefined>) => Attempt, env: Record<string, string | undefined>): Attempt {
  try {
    return attempt(env);
  } catch (error) {
    return { failed: (error as Error).message };
  }
}

/** Tries the load paths `mode` allows, in order, and reports the first that works (or why none did). */
export function loadNativeLibrary(mode: NativeMode, env: Record<string, string | undefined> = process.env): LoadedLibrary {
  if (mode === "none") return { path: "none", skipped: ["CAIO_NATIVE=none"] };
  const skipped: string[] = [];
  for (const step of STEPS) {
    if (mode !== "auto" && mode !== step.mode) continue;
    const result = attemptSafely(step.attempt, env);
    if (!("failed" in result)) return { ...result, path: result.path ?? step.path, skipped };
    skipped.push(`${step.path}: ${result.failed}`);
  }
  return { path: "none", skipped };
}
