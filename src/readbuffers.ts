/** Memory for reads: caio's own native memory the kernel fills directly, handed to the caller without a copy. */
import { ptr } from "bun:ffi";
import { allocNative, dropNative, ENOMEM } from "./bounce.ts";

/** O_DIRECT needs buffers aligned to the logical block size; a page covers every device. */
export const DIRECT_IO_ALIGNMENT = 4096;

export function alignedIn(backing: ArrayBuffer | SharedArrayBuffer, size: number, alignment: number): Buffer {
  const address = ptr(new Uint8Array(backing));
  const shift = (alignment - (address % alignment)) % alignment;
  return Buffer.from(backing, shift, size);
}

/**
 * Buffers for read(): caio's own native memory, private until the read settles, so the
 * kernel fills them directly. Block-multiple sizes are page aligned so they also work on
 * O_DIRECT descriptors. ENOMEM when there is no memory.
 */
export function allocReadBuffer(nbytes: number): Buffer | typeof ENOMEM {
  if (nbytes === 0) return Buffer.alloc(0);
  const aligned = nbytes >= 512 && nbytes % 512 === 0;
  const native = allocNative(nbytes, aligned ? DIRECT_IO_ALIGNMENT : 16, false);
  if (native !== undefined) return native;
  return aligned ? alignedIn(new ArrayBuffer(nbytes + DIRECT_IO_ALIGNMENT), nbytes, DIRECT_IO_ALIGNMENT) : Buffer.alloc(nbytes);
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

