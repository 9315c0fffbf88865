/**
 * The FFI signatures of the native contract (c/common.h). Every backend exports the
 * same seven functions under its own prefix.
 */
import { FFIType } from "bun:ffi";

const { i32, u32, ptr } = FFIType;

export type NativePrefix = "caio_aio" | "caio_uring" | "caio_pool";

export const NATIVE_PREFIXES: readonly NativePrefix[] = ["caio_aio", "caio_uring", "caio_pool"];

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

/** Every symbol of every backend: what one shared object must export. */
export const ALL_SYMBOLS = {
  ...contractSymbols("caio_aio"),
  ...contractSymbols("caio_uring"),
  ...contractSymbols("caio_pool"),
};

/** Loaded native functions by full symbol name. */
export type NativeFunctions = Record<string, (...args: never[]) => number>;
