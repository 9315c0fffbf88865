/**
 * O_DIRECT for a File: the kernel moves whole aligned blocks between the device and
 * aligned memory, so reads of any range are widened to the alignment into caio's
 * aligned native memory and the asked-for bytes handed back (glommio's read_at);
 * writes must already be aligned (writable() stages its bytes into aligned blocks).
 */
import { dropNative, ENOMEM } from "../bounce.ts";
import { invalidArgValue, systemError } from "../errors.ts";
import { allocReadBuffer, DIRECT_IO_ALIGNMENT } from "../readbuffers.ts";
import type { FileCore } from "./core.ts";

/**
 * The alignment a direct File uses. statx's stx_dio_offset_align would tell the
 * device's own (often 512), but a page satisfies every device and every kernel.
 */
export const DIRECT_ALIGNMENT = DIRECT_IO_ALIGNMENT;
const EIO = -5;

export function alignDown(value: number, alignment: number): number {
  return value - (value % alignment);
}

export function alignUp(value: number, alignment: number): number {
  return alignDown(value + alignment - 1, alignment);
}

/** Native memory aligned for O_DIRECT, of a size that is a multiple of the alignment. */
export function alignedBlock(size: number, syscall: string): Buffer {
  const buffer = allocReadBuffer(size);
  if (buffer === ENOMEM) throw systemError(ENOMEM, syscall);
  return buffer;
}

/** Bytes [offset, offset + nbytes) of a direct File, read as the aligned blocks around them. */
export async function directRead(core: FileCore, nbytes: number, offset: number, signal?: AbortSignal): Promise<Buffer> {
  if (nbytes === 0) return Buffer.alloc(0);
  const align = core.alignment;
  const start = alignDown(offset, align);
  const size = alignUp(offset + nbytes, align) - start;
  const block = alignedBlock(size, "read");
  let got: number;
  try {
    got = await core.ctx.readInto(block, core.fd, start, signal && { signal });
  } catch (error) {
    dropNative(block);
    throw error;
  }
  const skip = offset - start;
  const end = Math.min(got, skip + nbytes);
  if (skip === 0 && end === size) return block;
  const exact = Buffer.allocUnsafeSlow(Math.max(end - skip, 0));
  if (end > skip) exact.set(block.subarray(skip, end));
  dropNative(block);
  return exact;
}

/** The error for an unaligned write on a direct File: the alignment, and what does take any range. */
export function unalignedWrite(name: string, value: number, alignment: number): Error {
  return invalidArgValue(
    name,
    value,
    `must be a multiple of ${alignment} on a file opened with { direct: true } (O_DIRECT); ` +
      `file.writable() takes any lengths and pads and truncates the last block itself`,
  );
}

/** Writes aligned `bytes` at aligned `offset` of a direct File, through aligned native memory. */
export async function directWrite(core: FileCore, bytes: Uint8Array, offset: number): Promise<number> {
  const align = core.alignment;
  if (offset % align !== 0) throw unalignedWrite("offset", offset, align);
  if (bytes.length % align !== 0) throw unalignedWrite("data.byteLength", bytes.length, align);
  if (bytes.length === 0) return 0;
  const block = alignedBlock(bytes.length, "write");
  block.set(bytes);
  try {
    return await writeBlock(core, block, offset);
  } finally {
    dropNative(block);
  }
}

/** Writes all of `block` (aligned native memory, an aligned length) at aligned `offset`. */
export async function writeBlock(core: FileCore, block: Buffer, offset: number): Promise<number> {
  for (let done = 0; done < block.length; ) {
    const wrote = await core.ctx.write(done === 0 ? block : block.subarray(done), core.fd, offset + done);
    if (wrote === 0) throw systemError(EIO, "write", "the kernel wrote nothing");
    done += wrote;
  }
  return block.length;
}

/**
 * The error for a file system that refuses O_DIRECT at open (tmpfs answers EINVAL),
 * saying what to do instead.
 */
export function directRefused(error: Error & { code?: string }, path: string): Error {
  error.message +=
    `: the file system of '${path}' does not support O_DIRECT (tmpfs, for one, does not); ` +
    `open it without { direct: true }, or put the file on a disk file system (ext4, xfs, btrfs)`;
  return error;
}
