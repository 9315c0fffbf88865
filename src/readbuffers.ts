/** Memory for reads: caio's own native memory the kernel fills directly, handed to the caller without a copy. */
import { ptr } from "bun:ffi";
import { allocNative, dropNative, ENOMEM, hasNativeMemory } from "./bounce.ts";
import { freshOwnView, type OwnView } from "./views.ts";

/** O_DIRECT needs buffers aligned to the logical block size; a page covers every device. */
export const DIRECT_IO_ALIGNMENT = 4096;

export function alignedIn(backing: ArrayBuffer | SharedArrayBuffer, size: number, alignment: number): Buffer {
  const address = ptr(new Uint8Array(backing));
  const shift = (alignment - (address % alignment)) % alignment;
  return Buffer.from(backing, shift, size);
}

/**
 * Reads up to this size land in a JavaScript Buffer, copied there from pooled native
 * memory at completion: wrapping a new native block in an ArrayBuffer (toArrayBuffer
 * with a deallocator, then its collection) costs a few microseconds per read, more
 * than copying 32 KiB. Larger reads get a native block of their own, filled in place.
 */
export const COPY_READS_UP_TO = 32 * 1024;

/**
 * Buffers for read(), private until the read settles: up to COPY_READS_UP_TO an
 * ordinary Buffer (the kernel fills a page-aligned bounce region, see readBufferView),
 * above it caio's own native memory the kernel fills directly. Either way block-multiple
 * sizes work on O_DIRECT descriptors. ENOMEM when there is no memory.
 */
export function allocReadBuffer(nbytes: number): Buffer | typeof ENOMEM {
  if (nbytes === 0) return Buffer.alloc(0);
  // Never shown uninitialised: a full read overwrites it, a short one is copied out (readResult).
  if (nbytes <= COPY_READS_UP_TO && hasNativeMemory()) return Buffer.allocUnsafeSlow(nbytes);
  const aligned = nbytes >= 512 && nbytes % 512 === 0;
  const native = allocNative(nbytes, aligned ? DIRECT_IO_ALIGNMENT : 16, false);
  if (native !== undefined) return native;
  return aligned ? alignedIn(new ArrayBuffer(nbytes + DIRECT_IO_ALIGNMENT), nbytes, DIRECT_IO_ALIGNMENT) : Buffer.alloc(nbytes);
}

/** The scheduler's record of a read buffer: bounced, when it is not native memory, through a page-aligned region. */
export function readBufferView(buffer: Buffer): OwnView {
  const view = freshOwnView(buffer);
  view.pageAligned = true;
  // allocReadBuffer's JavaScript Buffers are never native: saying so skips the native-block lookup, whose
  // `.buffer` makes JavaScriptCore allocate an ArrayBuffer object for the Buffer (about 200 ns a read here).
  if (buffer.length > 0 && buffer.length <= COPY_READS_UP_TO && hasNativeMemory()) view.block = null;
  return view;
}

/**
 * A new Buffer of exactly bytes [0, length) of `from` (a completed read's bounce
 * region), in an ArrayBuffer of its own: a result never keeps more memory alive than
 * its bytes. (Slices of a shared slab were tried: they keep up to the slab alive and
 * one caller transferring its ArrayBuffer would empty the others'.)
 */
export function copyOut(from: Uint8Array | null, length: number): Buffer {
  if (length === 0 || !from) return Buffer.alloc(0);
  const out = Buffer.allocUnsafeSlow(length);
  out.set(length === from.length ? from : from.subarray(0, length));
  return out;
}

/**
 * read()'s answer: the whole buffer when it was filled, else a Buffer of exactly the
 * bytes read (the native block, never zero-filled, is freed at once), so a short read
 * neither keeps the whole block nor shows bytes the kernel did not write.
 */
export function readResult(buffer: Buffer, result: number): Buffer {
  if (result === buffer.length) return buffer;
  const exact = Buffer.allocUnsafeSlow(result);
  exact.set(buffer.subarray(0, result));
  dropNative(buffer);
  return exact;
}

