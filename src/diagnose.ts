/**
 * Turns the kernel's bare EINVAL into the error a user can act on. Runs only on the
 * failure path, so the extra syscalls cost nothing in normal operation.
 */
import { ptr } from "bun:ffi";
import { constants, fstatSync, readFileSync } from "node:fs";
import { systemError, type SystemError } from "./errors.ts";

const EINVAL = -22;
const EISDIR = -21;
const ESPIPE = -29;

/*
 * The "linux" backend hands pipes, FIFOs, sockets, character devices and every buffered
 * file to its thread pool; these errors arise only when that pool could not be started.
 */
const LINUX_AIO_STREAM_HINT =
  "Linux AIO cannot read or write pipes, FIFOs, sockets or character devices without blocking the thread, " +
  'and the "linux" backend\'s thread pool, which serves them, could not be started (out of threads or memory); ' +
  'the "uring", "thread" and "js" backends handle them (at the stream\'s current position)';
const LINUX_AIO_UNSUPPORTED_HINT =
  "this file's file system has no Linux AIO read/write path (procfs, sysfs and similar), " +
  'and the "linux" backend\'s thread pool, which serves such files, could not be started (out of threads or memory); ' +
  'use the "uring", "thread" or "js" backend for it';

export interface Diagnosis {
  errno: number;
  hint?: string;
}

function openFlags(fd: number): number | undefined {
  try {
    const match = /^flags:\s*([0-7]+)/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, "utf8"));
    return match ? parseInt(match[1]!, 8) : undefined;
  } catch {
    return undefined;
  }
}

/** Memory an operation used: a caller's view, or (caio's own, always aligned) just its length. */
export type UsedMemory = ArrayBufferView | { byteLength: number };

function misalignment(views: readonly UsedMemory[], offset: number, block: number): string[] {
  const wrong: string[] = [];
  views.forEach((view, i) => {
    const which = views.length > 1 ? `buffers[${i}] ` : "";
    if (view.byteLength > 0 && ArrayBuffer.isView(view) && ptr(view as Uint8Array) % block !== 0) wrong.push(`${which}buffer address`);
    if (view.byteLength % block !== 0) wrong.push(`${which}length ${view.byteLength}`);
  });
  if (offset % block !== 0) wrong.push(`offset ${offset}`);
  return wrong;
}

/**
 * Explains a failed read or write: EINVAL via diagnoseInvalid, and the errors the
 * "linux" backend gives for files kernel AIO cannot handle.
 */
export function diagnoseTransfer(
  result: number,
  fd: number,
  views: readonly UsedMemory[],
  offset: number,
  backend: string,
): Diagnosis {
  if (result === ESPIPE && backend === "linux") return { errno: result, hint: LINUX_AIO_STREAM_HINT };
  if (result !== EINVAL) return { errno: result };
  const diagnosis = diagnoseInvalid(fd, views, offset);
  if (diagnosis.errno === EINVAL && !diagnosis.hint && backend === "linux") {
    return { errno: EINVAL, hint: LINUX_AIO_UNSUPPORTED_HINT };
  }
  return diagnosis;
}

/**
 * Explains an EINVAL from a read or write of `views` (one, or a readv/writev list) on
 * `fd`: a directory becomes EISDIR, O_DIRECT gets the alignment rule.
 */
export function diagnoseInvalid(fd: number, views: readonly UsedMemory[], offset: number): Diagnosis {
  let stats;
  try {
    stats = fstatSync(fd);
  } catch {
    return { errno: EINVAL };
  }
  if (stats.isDirectory()) return { errno: EISDIR };
  const flags = openFlags(fd);
  if (flags !== undefined && (flags & constants.O_DIRECT) !== 0) {
    const block = Number(stats.blksize) || 4096;
    const wrong = misalignment(views, offset, 512);
    const detail = wrong.length > 0 ? `; misaligned here: ${wrong.join(", ")}` : "";
    return {
      errno: EINVAL,
      hint:
        `O_DIRECT needs the buffer address, length and file offset aligned to the device's logical block size ` +
        `(512 or ${block} bytes; ${block} always works)${detail}. Allocate buffers with allocAligned()`,
    };
  }
  return { errno: EINVAL };
}

/** The error for a failed read or write, explained where caio knows more than the errno (diagnoseTransfer). */
export function transferError(
  result: number,
  syscall: "read" | "write" | "readv" | "writev",
  fd: number,
  views: UsedMemory | readonly ArrayBufferView[],
  offset: number,
  backend: string,
): SystemError {
  const { errno, hint } = diagnoseTransfer(result, fd, Array.isArray(views) ? views : [views as UsedMemory], offset, backend);
  return systemError(errno, syscall, hint);
}
