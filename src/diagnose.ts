/**
 * Turns the kernel's bare EINVAL into the error a user can act on. Runs only on the
 * failure path, so the extra syscalls cost nothing in normal operation.
 */
import { ptr } from "bun:ffi";
import { constants, fstatSync, readFileSync } from "node:fs";

const EINVAL = -22;
const EISDIR = -21;

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

function misalignment(views: readonly ArrayBufferView[], offset: number, block: number): string[] {
  const wrong: string[] = [];
  views.forEach((view, i) => {
    const which = views.length > 1 ? `buffers[${i}] ` : "";
    if (view.byteLength > 0 && ptr(view as Uint8Array) % block !== 0) wrong.push(`${which}buffer address`);
    if (view.byteLength % block !== 0) wrong.push(`${which}length ${view.byteLength}`);
  });
  if (offset % block !== 0) wrong.push(`offset ${offset}`);
  return wrong;
}

/**
 * Explains an EINVAL from a read or write of `views` (one, or a readv/writev list) on
 * `fd`: a directory becomes EISDIR, O_DIRECT gets the alignment rule.
 */
export function diagnoseInvalid(fd: number, views: readonly ArrayBufferView[], offset: number): Diagnosis {
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
