/**
 * Private memory for in-flight transfers. A caller can detach an ArrayBuffer at any
 * time (`buffer.transfer()`, `structuredClone(…, { transfer })`, `postMessage`): the
 * memory then belongs to another ArrayBuffer that caio cannot keep alive, and the
 * kernel could write into it after it is freed. So the kernel only ever sees memory
 * that cannot be freed under it: SharedArrayBuffers (never detachable), buffers caio
 * allocated and has not handed out yet, or a region of this pool, which caio owns and
 * copies to or from the caller's view on the JavaScript thread.
 */
import { ptr } from "bun:ffi";

/** Bounce regions keep the caller's address modulo a page, so O_DIRECT accepts or refuses them as it would the caller's. */
const PAGE = 4096;
/** Blocks for more than this many bytes are used once and left to the GC rather than cached. */
const LARGEST_CACHED_LENGTH = 4 * 1024 * 1024;
/** Idle blocks kept for reuse, in bytes, across every size and every Context of the process. */
const CACHE_LIMIT = 64 * 1024 * 1024;
/** Linux moves at most this many bytes in one read or write (MAX_RW_COUNT), so a bounce region never needs more. */
export const MAX_TRANSFER = 0x7ffff000;

/** One allocation of the pool; a region of it is in use while its operation is in flight. */
export interface BounceBlock {
  readonly bytes: Uint8Array;
  readonly address: number;
  /** The region last cut from this block: callers reuse their buffers, so the same cut usually comes back. */
  region: Uint8Array | undefined;
  regionShift: number;
}

/** Address of the view's first byte; touching .buffer first keeps a small typed array from moving later (Bun #32054). */
export function addressOf(view: ArrayBufferView): number {
  void view.buffer;
  return ptr(view as Uint8Array);
}

class BouncePool {
  /** Idle blocks by size: a power of two (at least a page) plus a page of slack for the shift. */
  readonly #idle = new Map<number, BounceBlock[]>();
  #idleBytes = 0;

  /** A block that can hold `length` bytes starting at any page offset. */
  take(length: number): BounceBlock {
    const size = (length > LARGEST_CACHED_LENGTH ? length : powerOfTwoAtLeast(length)) + PAGE;
    const block = this.#idle.get(size)?.pop();
    if (block) {
      this.#idleBytes -= size;
      return block;
    }
    // Never zero-filled: only bytes the kernel wrote (or the caller's bytes) are ever copied out of it.
    const bytes = Buffer.allocUnsafeSlow(size);
    return { bytes, address: addressOf(bytes), region: undefined, regionShift: 0 };
  }

  /** Returns a block once no kernel or worker can touch it any more. */
  give(block: BounceBlock): void {
    const size = block.bytes.byteLength;
    if (size > LARGEST_CACHED_LENGTH + PAGE || this.#idleBytes + size > CACHE_LIMIT) return;
    let list = this.#idle.get(size);
    if (!list) this.#idle.set(size, (list = []));
    list.push(block);
    this.#idleBytes += size;
  }
}

/** One pool per process: the JavaScript thread is its only user. */
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
