/**
 * dlopen of build/libcaio.so and its symbol table: nothing else lives here.
 * Every backend exports the same seven functions under its own prefix (c/common.h).
 */
import { dlopen, FFIType, type Pointer } from "bun:ffi";
import { existsSync } from "node:fs";
import { join } from "node:path";

const { i32, u32, ptr } = FFIType;

function contractSymbols<P extends string>(prefix: P) {
  return {
    // (capacity, backend option, out handle) — u32 counts/flags; the handle comes back through `out`.
    [`${prefix}_open`]: { args: [u32, u32, ptr], returns: i32 },
    // (handle, ops, count) → ops consumed or -errno
    [`${prefix}_submit`]: { args: [ptr, ptr, u32], returns: i32 },
    // (handle, completions, max) → completions copied or -errno
    [`${prefix}_reap`]: { args: [ptr, ptr, u32], returns: i32 },
    // (handle, slot) → 0 or -errno
    [`${prefix}_cancel`]: { args: [ptr, u32], returns: i32 },
    [`${prefix}_wake_fd`]: { args: [ptr], returns: i32 },
    [`${prefix}_info`]: { args: [ptr, ptr], returns: i32 },
    [`${prefix}_close`]: { args: [ptr], returns: i32 },
  } as const;
}

const symbols = {
  ...contractSymbols("caio_aio"),
  ...contractSymbols("caio_uring"),
  ...contractSymbols("caio_pool"),
};

/** The functions one backend exports, with the prefix removed. */
export interface NativeContract {
  open(capacity: number, option: number, out: Pointer): number;
  submit(handle: Pointer, ops: Pointer, count: number): number;
  reap(handle: Pointer, out: Pointer, max: number): number;
  cancel(handle: Pointer, slot: number): number;
  wake_fd(handle: Pointer): number;
  info(handle: Pointer, out: Pointer): number;
  close(handle: Pointer): number;
}

export type NativePrefix = "caio_aio" | "caio_uring" | "caio_pool";

export const libraryPath = join(import.meta.dir, "..", "build", "libcaio.so");

type Loaded = { ok: true; contract: (prefix: NativePrefix) => NativeContract } | { ok: false; reason: string };
let loaded: Loaded | undefined;

function load(): Loaded {
  if (!existsSync(libraryPath)) {
    return { ok: false, reason: `${libraryPath} is missing; build it with "bun run build" (needs a C compiler)` };
  }
  try {
    const lib = dlopen(libraryPath, symbols);
    const contract = (prefix: NativePrefix): NativeContract => {
      const all = lib.symbols as unknown as Record<string, (...args: never[]) => number>;
      const pick = (name: string) => all[`${prefix}_${name}`];
      return {
        open: pick("open"),
        submit: pick("submit"),
        reap: pick("reap"),
        cancel: pick("cancel"),
        wake_fd: pick("wake_fd"),
        info: pick("info"),
        close: pick("close"),
      } as NativeContract;
    };
    return { ok: true, contract };
  } catch (error) {
    return { ok: false, reason: `could not load ${libraryPath}: ${(error as Error).message}` };
  }
}

/** The native contract for one backend, or the reason the shared object is unusable. */
export function nativeContract(prefix: NativePrefix): { contract: NativeContract } | { reason: string } {
  loaded ??= load();
  return loaded.ok ? { contract: loaded.contract(prefix) } : { reason: loaded.reason };
}
