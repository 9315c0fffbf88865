/**
 * O_DIRECT for a File: the kernel moves whole aligned blocks between the device and
 * aligned memory, so reads of any range are widened to the alignment into caio's
 * aligned native memory and the asked-for bytes handed back (glommio's read_at);
 * writes must already be aligned (writable() stages its bytes into aligned blocks).
 */
import { allocNative, dropNative, ENOMEM } from "../bounce.ts";
import { invalidArgValue, systemError } from "../errors.ts";
import { alignedIn, DIRECT_IO_ALIGNMENT } from "../readbuffers.ts";
import { NO_OPTIONS } from "../validate.ts";
import type { FileCore } from "./core.ts";
import type { FileOps } from "./ops.ts";
import type { FilePath } from "./paths.ts";

/**
 * The alignment of a direct File whose kernel or file system does not report its own
 * (statx's STATX_DIOALIGN is Linux 6.1+; the js backend's statx never has it): a page
 * satisfies every device and every kernel.
 */
export const DIRECT_ALIGNMENT = DIRECT_IO_ALIGNMENT;
const EIO = -5;
/** statx(2)'s mask bit for stx_dio_mem_align and stx_dio_offset_align (linux/stat.h). */
const STATX_DIOALIGN = 0x2000;
/** Byte offset of stx_dio_offset_align (__u32) in struct statx. */
const DIO_OFFSET_ALIGN_AT = 0x9c;

/**
 * The offset alignment a struct statx reports, or DIRECT_ALIGNMENT when it does not
 * (no STATX_DIOALIGN in stx_mask, or 0: the file system has no direct I/O of its own
 * to describe, though open accepted O_DIRECT).
 */
export function alignmentIn(statx: Uint8Array): number {
  const view = new DataView(statx.buffer, statx.byteOffset, DIO_OFFSET_ALIGN_AT + 4);
  const reported = view.getUint32(0, true) & STATX_DIOALIGN ? view.getUint32(DIO_OFFSET_ALIGN_AT, true) : 0;
  return reported > 0 ? reported : DIRECT_ALIGNMENT;
}

/** statx of `target` for its direct-I/O alignment; null when the statx itself failed. */
async function statxAlignment(files: FileOps, target: FilePath | number): Promise<number | null> {
  let alignment = DIRECT_ALIGNMENT;
  try {
    const result = await files.statRaw(target, NO_OPTIONS, (block) => (alignment = alignmentIn(block)), STATX_DIOALIGN);
    return result < 0 ? null : alignment;
  } catch {
    return null; // no memory for the statx block, or a closing context: open() reports those itself
  }
}

/**
 * The alignment for a direct open of `path`, asked by path in the same tick as the open
 * (call it right after starting the open), so the statx goes in the same submission
 * and costs no round trip of its own. `opened` is the descriptor once open resolves:
 * only when the statx by path failed (an O_CREAT open racing it) is it asked again, of
 * the descriptor.
 */
export function directAlignment(files: FileOps, path: FilePath): (fd: number) => Promise<number> {
  const byPath = statxAlignment(files, path);
  return async (fd) => (await byPath) ?? (await statxAlignment(files, fd)) ?? DIRECT_ALIGNMENT;
}

export function alignDown(value: number, alignment: number): number {
  return value - (value % alignment);
}

export function alignUp(value: number, alignment: number): number {
  return alignDown(value + alignment - 1, alignment);
}

/**
 * Page-aligned memory for O_DIRECT, of a size that is a multiple of the alignment:
 * native when caio has it. Never an ordinary Buffer, which the kernel would see through
 * a bounce region at the Buffer's own page offset: Bun places 512-byte Buffers at
 * offsets that are not multiples of 512, and O_DIRECT refuses those (EINVAL).
 */
export function alignedBlock(size: number, syscall: string): Buffer {
  const native = allocNative(size, DIRECT_IO_ALIGNMENT, false);
  if (native === ENOMEM) throw systemError(ENOMEM, syscall);
  return native ?? alignedIn(new ArrayBuffer(size + DIRECT_IO_ALIGNMENT), size, DIRECT_IO_ALIGNMENT);
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
