/**
 * Compiles c/ in memory with Bun's built-in TinyCC (bun:ffi `cc`). Nothing is
 * written to disk, so there is nothing to cache: every process compiles again
 * (tens of milliseconds). Each backend's file is compiled on its own, so one that
 * TinyCC cannot handle leaves the others usable. memory.c comes first: the backends
 * reach its functions through the table whose address it publishes (CAIO_MEM_API, see
 * c/memory.h), since separately compiled units cannot link to each other.
 */
import { cc, ptr, type Library, type Pointer } from "bun:ffi";
import { join } from "node:path";
import { contractSymbols, MEMORY_SYMBOLS, type NativeFunctions, type NativePrefix, type NativeUnit } from "./symbols.ts";

const UNITS: readonly { file: string; prefix: NativePrefix }[] = [
  { file: "aio.c", prefix: "caio_aio" },
  { file: "uring.c", prefix: "caio_uring" },
  { file: "pool.c", prefix: "caio_pool" },
];

/** Libraries compiled so far; referenced for the life of the process so their code stays mapped. */
const keepAlive: Library<Record<string, never>>[] = [];

/**
 * Why a unit is left out before compiling: TinyCC has no atomics, and only on
 * x86-64 are plain loads and stores already the acquire/release the io_uring rings need.
 */
function unsupported(prefix: NativePrefix): string | undefined {
  if (prefix === "caio_uring" && process.arch !== "x64") {
    return `TinyCC cannot emit the memory barriers io_uring's shared rings need on ${process.arch}; a system C compiler can`;
  }
  return undefined;
}

export interface TinyCCBuild {
  functions: NativeFunctions;
  /** Backends (or memory.c) that did not compile, with the reason. */
  omitted: Partial<Record<NativeUnit, string>>;
  ms: number;
}

function compileUnit(source: string, symbols: Record<string, unknown>, define?: Record<string, string>): NativeFunctions {
  const lib = cc({ source, symbols: symbols as never, define });
  keepAlive.push(lib as unknown as Library<Record<string, never>>);
  return lib.symbols as unknown as NativeFunctions;
}

/** memory.c's functions, and the define that points the backends at its table. */
function compileMemory(directory: string): { functions: NativeFunctions; define: Record<string, string> } {
  const functions = compileUnit(join(directory, "memory.c"), MEMORY_SYMBOLS);
  const info = new BigUint64Array(8); // struct caio_mem_info (64 bytes)
  void info.buffer;
  functions.caio_mem_info!(ptr(info) as Pointer as never);
  return { functions, define: { CAIO_MEM_API: `((const struct caio_mem_api *)0x${info[1]!.toString(16)}ULL)` } };
}

/**
 * Compiles every unit it can from the sources in `directory` (TinyCC reads only real
 * files, and #include resolves next to each source); throws only when none compiles.
 */
export function compileWithTinyCC(directory: string): TinyCCBuild {
  const started = performance.now();
  const functions: NativeFunctions = {};
  const omitted: TinyCCBuild["omitted"] = {};
  let define: Record<string, string> | undefined;
  try {
    const memory = compileMemory(directory);
    Object.assign(functions, memory.functions);
    define = memory.define;
  } catch (error) {
    omitted.caio_mem = `TinyCC could not compile c/memory.c: ${(error as Error).message.trim()}`;
  }
  for (const { file, prefix } of UNITS) {
    const skip = unsupported(prefix);
    if (skip) {
      omitted[prefix] = skip;
      continue;
    }
    try {
      Object.assign(functions, compileUnit(join(directory, file), contractSymbols(prefix), define));
    } catch (error) {
      omitted[prefix] = `TinyCC could not compile c/${file}: ${(error as Error).message.trim()}`;
    }
  }
  if (!UNITS.some(({ prefix }) => `${prefix}_open` in functions)) {
    throw new Error(Object.values(omitted).join("; "));
  }
  return { functions, omitted, ms: performance.now() - started };
}
