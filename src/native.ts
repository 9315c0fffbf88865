/**
 * The native contract each C backend exports, from whichever library src/native/load.ts
 * found (prebuilt, embedded in an executable, compiled into the cache, or TinyCC),
 * caio's memory functions, and nativeLibrary() to see which one that was. The library
 * is looked for once, when a native backend is first opened, caio first allocates
 * memory, or nativeLibrary() is first called.
 */
import type { Pointer } from "bun:ffi";
import { loadNativeLibrary, NATIVE_MODES, type LoadedLibrary, type NativeLoadPath, type NativeMode } from "./native/load.ts";
import type { NativeFunctions, NativePrefix } from "./native/symbols.ts";

export type { NativeLoadPath } from "./native/load.ts";
export type { NativePrefix } from "./native/symbols.ts";

/** The functions one backend exports, with the prefix removed. */
export interface NativeContract {
  open(capacity: number, option: number, out: Pointer): number;
  submit(handle: Pointer, ops: Pointer, count: number): number;
  reap(handle: Pointer, out: Pointer, max: number): number;
  cancel(handle: Pointer, slots: Pointer, count: number): number;
  wake_fd(handle: Pointer): number;
  info(handle: Pointer, out: Pointer): number;
  close(handle: Pointer): number;
}

/** caio's memory functions (c/memory.c); handles and addresses are plain numbers. */
export interface NativeMemory {
  caio_mem_alloc(size: number, alignment: number, flags: number, out: Pointer): number;
  caio_mem_ref(handle: Pointer): number;
  caio_mem_unref(handle: Pointer): number;
  caio_mem_drop(handle: Pointer): number;
  caio_mem_attach(handle: Pointer, handles: Pointer, count: number): number;
  caio_mem_info(out: Pointer): number;
}

/** Which native library this process uses, as reported by nativeLibrary(). */
export interface NativeLibrary {
  /**
   * "prebuilt": the object shipped for this architecture (in the package, or copied
   * beside a `bun build` bundle); "embedded": that object carried inside a
   * `bun build --compile` executable and copied out into the per-user cache;
   * "cache": compiled with the system C compiler into the per-user cache (now or by
   * an earlier process); "tinycc": compiled in memory by Bun's TinyCC; "none": only
   * the js backend runs.
   */
  path: NativeLoadPath;
  /** The shared object loaded ("prebuilt", "embedded", "cache"); TinyCC builds live only in memory. */
  file?: string;
  /** Why the preferred paths were passed over; for "none", why nothing loaded. */
  reason?: string;
  /** Milliseconds this process spent compiling; absent when it loaded a finished object. */
  compileMs?: number;
}

const FIX =
  'Fix: install a C compiler ("apt-get install gcc", "apk add build-base"), which caio then uses once to ' +
  "compile its C sources into ~/.cache/caio, or set CAIO_NATIVE=none to use the js backend without this warning";

function warn(message: string, code: string): void {
  process.emitWarning(message, { type: "CaioWarning", code });
}

function configuredMode(): NativeMode {
  const value = process.env.CAIO_NATIVE?.trim();
  if (!value) return "auto";
  if ((NATIVE_MODES as readonly string[]).includes(value)) return value as NativeMode;
  warn(`caio: CAIO_NATIVE is "${value}", which is not one of ${NATIVE_MODES.join(", ")}; using auto`, "CAIO_NATIVE");
  return "auto";
}

function load(): LoadedLibrary {
  const mode = configuredMode();
  const library = loadNativeLibrary(mode);
  if (library.path === "none" && mode !== "none") {
    warn(`caio: no native library could be loaded, so caio uses its slower "js" backend (${library.skipped.join("; ")}). ${FIX}`, "CAIO_NATIVE");
  }
  return library;
}

let loaded: LoadedLibrary | undefined;

function library(): LoadedLibrary {
  return (loaded ??= load());
}

function pick(functions: NativeFunctions, prefix: NativePrefix): NativeContract {
  const symbol = (name: string) => functions[`${prefix}_${name}`];
  return {
    open: symbol("open"),
    submit: symbol("submit"),
    reap: symbol("reap"),
    cancel: symbol("cancel"),
    wake_fd: symbol("wake_fd"),
    info: symbol("info"),
    close: symbol("close"),
  } as NativeContract;
}

/** The native contract for one backend, or the reason it is unusable here. */
export function nativeContract(prefix: NativePrefix): { contract: NativeContract } | { reason: string } {
  const found = library();
  if (found.path === "none") return { reason: `caio's native library is not loaded (${found.skipped.join("; ")})` };
  const omitted = found.omitted?.[prefix];
  return omitted ? { reason: omitted } : { contract: pick(found.functions, prefix) };
}

/** caio's memory functions, loading the library if needed; undefined when it is not loaded or lacks them. */
export function nativeMemory(): NativeMemory | undefined {
  const found = library();
  if (found.path === "none" || found.omitted?.caio_mem) return undefined;
  return typeof found.functions.caio_mem_alloc === "function" ? (found.functions as unknown as NativeMemory) : undefined;
}

/**
 * Which native library caio loaded and how: the prebuilt object (from the package, a
 * bundle or, "embedded", a compiled executable), one compiled into the per-user cache,
 * a TinyCC build, or none (only the js backend). Loads it if no native backend has
 * been opened yet. CAIO_NATIVE=prebuilt|compile|tinycc|none forces a path
 * ("prebuilt" covers "embedded").
 */
export function nativeLibrary(): NativeLibrary {
  const found = library();
  const report: NativeLibrary = { path: found.path };
  if ("file" in found && found.file) report.file = found.file;
  const omitted = "omitted" in found ? Object.entries(found.omitted ?? {}).map(([prefix, why]) => `${prefix} left out: ${why}`) : [];
  const reasons = [...found.skipped, ...omitted];
  if (reasons.length > 0) report.reason = reasons.join("; ");
  if ("compileMs" in found && found.compileMs !== undefined) report.compileMs = Math.round(found.compileMs);
  return report;
}
