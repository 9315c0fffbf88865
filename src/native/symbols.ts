/**
 * The FFI signatures of the native contract (c/common.h). Every backend exports the
 * same seven functions under its own prefix; c/memory.c exports caio_mem_*.
 */
import { FFIType } from "bun:ffi";

const { i32, u32, ptr } = FFIType;

export type NativePrefix = "caio_aio" | "caio_uring" | "caio_pool";

export const NATIVE_PREFIXES: readonly NativePrefix[] = ["caio_aio", "caio_uring", "caio_pool"];

/** What a build can leave out: a backend, or caio's memory functions (c/memory.c). */
export type NativeUnit = NativePrefix | "caio_mem";

export function contractSymbols<P extends NativePrefix>(prefix: P) {
  return {
    // (capacity, backend option, out handle) — u32 counts/flags; the handle comes back through `out`.
    [`${prefix}_open`]: { args: [u32, u32, ptr], returns: i32 },
    // (handle, ops, count) → ops consumed or -errno
    [`${prefix}_submit`]: { args: [ptr, ptr, u32], returns: i32 },
    // (handle, completions, max) → completions copied or -errno
    [`${prefix}_reap`]: { args: [ptr, ptr, u32], returns: i32 },
    // (handle, slots, count) → cancels taken from the front (the rest are offered again later) or -errno
    [`${prefix}_cancel`]: { args: [ptr, ptr, u32], returns: i32 },
    [`${prefix}_wake_fd`]: { args: [ptr], returns: i32 },
    [`${prefix}_info`]: { args: [ptr, ptr], returns: i32 },
    [`${prefix}_close`]: { args: [ptr], returns: i32 },
  } as const;
}

/** caio's own memory (c/memory.c, c/memory.h): blocks that outlive a Worker's heap while operations use them. */
export const MEMORY_SYMBOLS = {
  // (size, alignment, flags, out struct caio_mem_out) → 0 or -errno; sizes stay below 2^32 (MAX_LENGTH + alignment)
  caio_mem_alloc: { args: [u32, u32, u32, ptr], returns: i32 },
  // (handle) → 0: one more owner / one owner less / JavaScript lets go before the GC does
  caio_mem_ref: { args: [ptr], returns: i32 },
  caio_mem_unref: { args: [ptr], returns: i32 },
  caio_mem_drop: { args: [ptr], returns: i32 },
  // (handle, u64 handles, count) → 0 or -errno: the block keeps those alive until it is freed
  caio_mem_attach: { args: [ptr, ptr, u32], returns: i32 },
  // (out struct caio_mem_info) → 0: the deallocator's address and the live counts
  caio_mem_info: { args: [ptr], returns: i32 },
} as const;

/** Every symbol of every backend, and the memory functions: what one shared object must export. */
export const ALL_SYMBOLS = {
  ...contractSymbols("caio_aio"),
  ...contractSymbols("caio_uring"),
  ...contractSymbols("caio_pool"),
  ...MEMORY_SYMBOLS,
};

/** Loaded native functions by full symbol name. */
export type NativeFunctions = Record<string, (...args: never[]) => number>;
