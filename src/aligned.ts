/** allocAligned(): caio's own aligned memory, for O_DIRECT and zero-copy I/O. */
import { allocNative, ENOMEM } from "./bounce.ts";
import { outOfRange } from "./errors.ts";
import { alignedIn, DIRECT_IO_ALIGNMENT } from "./readbuffers.ts";
import { checkLength } from "./validate.ts";

/**
 * Allocates a zero-filled Buffer whose first byte is aligned to `alignment` bytes,
 * as O_DIRECT requires. Its memory is caio's own, outside the JavaScript heap, so
 * caio hands it to the kernel without copying, and an operation in flight keeps it
 * alive even if the Worker that allocated it is terminated (see "Buffers and memory
 * safety"). Its `buffer` is an ordinary ArrayBuffer; without caio's native library
 * (the js backend only) it is a SharedArrayBuffer.
 */
export function allocAligned(size: number, alignment = DIRECT_IO_ALIGNMENT): Buffer {
  const sizeError = checkLength("size", size);
  if (sizeError) throw sizeError;
  if (!Number.isInteger(alignment) || alignment < 1 || (alignment & (alignment - 1)) !== 0 || alignment > 1 << 20) {
    throw outOfRange("alignment", "a power of two <= 1048576", alignment);
  }
  const native = allocNative(size, alignment, true);
  if (native === ENOMEM) throw allocationFailed(size);
  return native ?? alignedIn(new SharedArrayBuffer(size + alignment), size, alignment);
}

/** Node's error when an ArrayBuffer cannot be allocated. */
function allocationFailed(size: number): RangeError {
  return Object.assign(new RangeError(`Array buffer allocation failed (${size} bytes)`), { code: "ERR_MEMORY_ALLOCATION_FAILED" });
}
