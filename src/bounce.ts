/**
 * caio's own memory: the only memory a kernel or a pool thread is ever handed.
 *
 * JavaScript memory can vanish under an operation in flight: a caller can detach an
 * ArrayBuffer at any time (`buffer.transfer()`, `structuredClone(…, { transfer })`,
 * `postMessage`), and a Worker that is terminated frees its whole heap, with no hook
 * caio could run first. So the kernel only sees native blocks (c/memory.c): memory
 * caio allocates outside the JavaScript heap and wraps in an ArrayBuffer whose
 * deallocator only drops JavaScript's reference; an operation in flight holds the
 * block (see scheduler/memory.ts), and the bytes are freed once neither is left.
 * allocAligned() and read() hand such blocks out; any other memory is copied through
 * a bounce region of this module's pool, on the JavaScript thread.
 *
 * Without the native library (CAIO_NATIVE=none, the js backend only) there are no
 * native blocks: allocAligned() falls back to a SharedArrayBuffer and the pool to
 * ordinary Buffers, as before.
 */
import { ptr, toArrayBuffer, type Pointer } from "bun:ffi";
import { nativeMemory, type NativeMemory } from "./native.ts";

/** Bounce regions keep the caller's address modulo a page, so O_DIRECT accepts or refuses them as it would the caller's. */
const PAGE = 4096;
/** Blocks for more than this many bytes are used once and freed at once rather than cached. */
const LARGEST_CACHED_LENGTH = 4 * 1024 * 1024;
/** Idle blocks kept for reuse, in bytes, across every size and every Context of this thread. */
const CACHE_LIMIT = 64 * 1024 * 1024;
/** Linux moves at most this many bytes in one read or write (MAX_RW_COUNT), so a bounce region never needs more. */
export const MAX_TRANSFER = 0x7ffff000;
export const ENOMEM = -12;
const TWO_POW_32 = 4294967296;
/** c/memory.h CAIO_MEM_ZERO */
const MEM_ZERO = 1;

/** A native block as JavaScript knows it: `handle` is what c/memory.c's functions take. */
export interface NativeBlock {
  readonly handle: number;
}

/** The intrinsic getter: a view's `buffer` property can be faked, its internal slot cannot. */
const typedArrayBuffer = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(Uint8Array.prototype), "buffer")!.get! as (
  this: unknown,
) => ArrayBufferLike;

/** Every ArrayBuffer caio wrapped around a native block, and the block: a transferred buffer is a new object, so not in here. */
const nativeBlocks = new WeakMap<ArrayBufferLike, NativeBlock>();

const wrapInArrayBuffer = toArrayBuffer as unknown as (
  address: number,
  byteOffset: number,
  byteLength: number,
  context: number,
  deallocator: number,
) => ArrayBuffer;

let memory: NativeMemory | null | undefined;
/** The deallocator's address (struct caio_mem_info.release). */
let deallocator = 0;
/** struct caio_mem_out / struct caio_mem_info, and handles for caio_mem_attach: u32 pairs, at a stable address. */
const scratch = new Uint32Array(2 * 1026);
void scratch.buffer;
let scratchAddress = 0;

function u64(words: Uint32Array, index: number): number {
  return words[2 * index]! + words[2 * index + 1]! * TWO_POW_32;
}

/** c/memory.c's functions, looked up (loading the library) on first use; null without them. */
function native(): NativeMemory | null {
  if (memory !== undefined) return memory;
  const found = nativeMemory();
  if (found) {
    scratchAddress = ptr(scratch);
    found.caio_mem_info(scratchAddress as Pointer);
    deallocator = u64(scratch, 0);
  }
  return (memory = found ?? null);
}

/** True when caio's memory is native (the library is loaded): only then is a SharedArrayBuffer copied. */
export function hasNativeMemory(): boolean {
  return native() !== null;
}

/**
 * A Buffer over `size` bytes of a new native block aligned to `alignment` (a power of
 * two up to 1 MiB), zero-filled if asked; undefined without the native library,
 * ENOMEM when the memory is not there.
 */
export function allocNative(size: number, alignment: number, zero: boolean): Buffer | undefined | typeof ENOMEM {
  const mem = native();
  if (!mem) return undefined;
  if (mem.caio_mem_alloc(size, alignment, zero ? MEM_ZERO : 0, scratchAddress as Pointer) < 0) return ENOMEM;
  const address = u64(scratch, 0);
  const handle = u64(scratch, 1);
  // At least one byte is allocated, so the ArrayBuffer is never empty (toArrayBuffer refuses that).
  const buffer = wrapInArrayBuffer(address, 0, Math.max(size, 1), handle, deallocator);
  nativeBlocks.set(buffer, { handle });
  return Buffer.from(buffer, 0, size);
}

/** The native block `view` (one of caio's own views, validate.ts) lies in, if any. */
export function blockOf(view: Uint8Array): NativeBlock | undefined {
  return nativeBlocks.get(typedArrayBuffer.call(view));
}

/** One more owner for a block: an operation caio holds in flight itself. */
export function holdBlock(handle: number): void {
  memory!.caio_mem_ref(handle as unknown as Pointer);
}

/** Releases holdBlock's owner; the block may be freed now. */
export function releaseBlock(handle: number): void {
  memory!.caio_mem_unref(handle as unknown as Pointer);
}

/**
 * Frees `view`'s native block now rather than when the GC collects its ArrayBuffer
 * (as soon as no operation holds it). Only for caio's private memory: nothing may
 * touch the view again.
 */
export function dropNative(view: Uint8Array | Uint32Array): void {
  const buffer = typedArrayBuffer.call(view);
  const block = nativeBlocks.get(buffer);
  if (!block) return;
  nativeBlocks.delete(buffer);
  memory!.caio_mem_drop(block.handle as unknown as Pointer);
}

/** A native array of `count` struct iovec (4 u32 words each) that keeps the `attached` blocks alive while it lives. */
export function allocIovecs(count: number, attached: readonly number[]): { words: Uint32Array; handle: number } | typeof ENOMEM {
  const bytes = allocNative(count * 16, 16, false);
  if (bytes === ENOMEM || bytes === undefined) return ENOMEM;
  const block = blockOf(bytes)!;
  for (let i = 0; i < attached.length; i++) {
    scratch[2 * i] = attached[i]! >>> 0;
    scratch[2 * i + 1] = (attached[i]! / TWO_POW_32) >>> 0;
  }
  if (memory!.caio_mem_attach(block.handle as unknown as Pointer, scratchAddress as Pointer, attached.length) < 0) {
    dropNative(bytes);
    return ENOMEM;
  }
  return { words: new Uint32Array(typedArrayBuffer.call(bytes), 0, count * 4), handle: block.handle };
}

/** c/memory.c's live counts, for tests: blocks and bytes allocated, holds by backends, ArrayBuffers not yet collected. */
export function nativeMemoryCounts(): { blocks: number; bytes: number; holds: number; wrapped: number } | undefined {
  const mem = native();
  if (!mem) return undefined;
  mem.caio_mem_info(scratchAddress as Pointer);
  return { blocks: u64(scratch, 2), bytes: u64(scratch, 3), holds: u64(scratch, 4), wrapped: u64(scratch, 5) };
}

/** c/memory.c's cache of freed mappings (memory_cache.h), for tests: mappings kept for reuse and their bytes; none of them live. */
export function nativeMemoryCache(): { blocks: number; bytes: number } | undefined {
  const mem = native();
  if (!mem) return undefined;
  mem.caio_mem_info(scratchAddress as Pointer);
  return { blocks: u64(scratch, 6), bytes: u64(scratch, 7) };
}

/** Address of the view's first byte; touching .buffer first keeps a small typed array from moving later (Bun #32054). */
export function addressOf(view: ArrayBufferView): number {
  void view.buffer;
  return ptr(view as Uint8Array);
}

/** One allocation of the pool; a region of it is in use while its operation is in flight. */
export interface BounceBlock {
  readonly bytes: Uint8Array;
  readonly address: number;
  /** The native block's handle; 0 for JavaScript memory (no native library). */
  readonly handle: number;
  /** The region last cut from this block: callers reuse their buffers, so the same cut usually comes back. */
  region: Uint8Array | undefined;
  regionShift: number;
}

class BouncePool {
  /** Idle blocks by size: a power of two (at least a page) plus a page of slack for the shift. */
  readonly #idle = new Map<number, BounceBlock[]>();
  #idleBytes = 0;

  /** A block that can hold `length` bytes starting at any page offset; throws when there is no memory. */
  take(length: number): BounceBlock {
    const size = (length > LARGEST_CACHED_LENGTH ? length : powerOfTwoAtLeast(length)) + PAGE;
    const block = this.#idle.get(size)?.pop();
    if (block) {
      this.#idleBytes -= size;
      return block;
    }
    // Never zero-filled: only bytes the kernel wrote (or the caller's bytes) are ever copied out of it.
    const bytes = allocNative(size, PAGE, false) ?? Buffer.allocUnsafeSlow(size);
    if (bytes === ENOMEM) throw new RangeError("caio: no memory for a bounce block");
    return { bytes, address: addressOf(bytes), handle: blockOf(bytes)?.handle ?? 0, region: undefined, regionShift: 0 };
  }

  /** Returns a block once no kernel or worker can touch it any more; one the pool does not keep is freed now. */
  give(block: BounceBlock): void {
    const size = block.bytes.byteLength;
    if (size > LARGEST_CACHED_LENGTH + PAGE || this.#idleBytes + size > CACHE_LIMIT) {
      dropNative(block.bytes);
      return;
    }
    let list = this.#idle.get(size);
    if (!list) this.#idle.set(size, (list = []));
    list.push(block);
    this.#idleBytes += size;
  }
}

/** One pool per JavaScript thread (each Worker has its own): that thread is its only user. */
export const bouncePool = new BouncePool();

/** `length` bytes of `block` at the same page offset as `likeAddress`. */
export function regionOf(block: BounceBlock, length: number, likeAddress: number): Uint8Array {
  const shift = (((likeAddress % PAGE) - (block.address % PAGE)) + PAGE) % PAGE;
  const cached = block.region;
  if (cached && block.regionShift === shift && cached.length === length) return cached;
  block.regionShift = shift;
  return (block.region = block.bytes.subarray(shift, shift + length));
}

/** Address of the region regionOf() last cut from `block`. */
export function regionAddress(block: BounceBlock): number {
  return block.address + block.regionShift;
}

function powerOfTwoAtLeast(bytes: number): number {
  let size = PAGE;
  while (size < bytes) size *= 2;
  return size;
}
