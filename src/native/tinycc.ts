/**
 * Compiles c/ in memory with Bun's built-in TinyCC (bun:ffi `cc`). Nothing is
 * written to disk, so there is nothing to cache: every process compiles again
 * (tens of milliseconds). Each backend's file is compiled on its own, so one that
 * TinyCC cannot handle leaves the others usable.
 */
import { cc, type Library } from "bun:ffi";
import { join } from "node:path";
import { SOURCE_DIR } from "./sources.ts";
import { contractSymbols, type NativeFunctions, type NativePrefix } from "./symbols.ts";

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
  /** Backends that did not compile, with the reason. */
  omitted: Partial<Record<NativePrefix, string>>;
  ms: number;
}

function compileUnit(file: string, prefix: NativePrefix): NativeFunctions {
  const lib = cc({ source: join(SOURCE_DIR, file), symbols: contractSymbols(prefix) });
  keepAlive.push(lib as unknown as Library<Record<string, never>>);
  return lib.symbols as unknown as NativeFunctions;
}

/** Compiles every unit it can; throws only when none compiles. */
export function compileWithTinyCC(): TinyCCBuild {
  const started = performance.now();
  const functions: NativeFunctions = {};
  const omitted: TinyCCBuild["omitted"] = {};
  for (const { file, prefix } of UNITS) {
    const skip = unsupported(prefix);
    if (skip) {
      omitted[prefix] = skip;
      continue;
    }
    try {
      Object.assign(functions, compileUnit(file, prefix));
    } catch (error) {
      omitted[prefix] = `TinyCC could not compile c/${file}: ${(error as Error).message.trim()}`;
    }
  }
  if (Object.keys(functions).length === 0) {
    throw new Error(Object.values(omitted).join("; "));
  }
  return { functions, omitted, ms: performance.now() - started };
}
