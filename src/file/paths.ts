/**
 * Paths as node:fs takes them (string, Buffer/Uint8Array, file: URL), checked and
 * copied once at the call, made absolute against process.cwd() as it is then (a pool
 * thread runs the operation later, when the cwd may have changed), and encoded as
 * NUL-terminated bytes in caio's native memory for the kernel.
 */
import { fileURLToPath } from "node:url";
import { allocNative, dropNative, ENOMEM } from "../bounce.ts";
import { invalidArgType, invalidArgValue, type CodedError } from "../errors.ts";

/** A checked path: `bytes` as the kernel gets them (absolute), `shown` as error messages quote it. */
export interface FilePath {
  readonly bytes: Buffer;
  readonly shown: string;
}

const SLASH = 0x2f;
const isUint8Array = (value: unknown): value is Uint8Array => value instanceof Uint8Array;

/** The checked path of `value`, or the error for it (ERR_INVALID_ARG_TYPE / ERR_INVALID_ARG_VALUE / ERR_INVALID_URL_SCHEME). */
export function toPath(name: string, value: unknown): FilePath | Error {
  let bytes: Buffer;
  let shown: string;
  if (typeof value === "string") {
    shown = value;
    bytes = Buffer.from(value, "utf8");
  } else if (isUint8Array(value)) {
    bytes = Buffer.from(value); // a copy: the caller may change its bytes later
    shown = bytes.toString("utf8");
  } else if (value instanceof URL) {
    try {
      shown = fileURLToPath(value);
    } catch (error) {
      return error as Error;
    }
    bytes = Buffer.from(shown, "utf8");
  } else {
    return invalidArgType(name, "of type string or an instance of Buffer or URL", value);
  }
  if (bytes.includes(0)) return nulBytes(name, value);
  return { bytes: absolute(bytes), shown };
}

function nulBytes(name: string, value: unknown): CodedError {
  return invalidArgValue(name, typeof value === "string" ? value : String(value), "must be a string, Uint8Array, or URL without null bytes");
}

/** `bytes` resolved against the current directory, without normalising (".." after a symlink means what the kernel says). */
function absolute(bytes: Buffer): Buffer {
  if (bytes.length === 0 || bytes[0] === SLASH) return bytes;
  const cwd = process.cwd();
  return Buffer.concat([Buffer.from(cwd.endsWith("/") ? cwd : cwd + "/", "utf8"), bytes]);
}

/**
 * Idle path blocks by capacity. Wrapping a new native block in an ArrayBuffer costs a
 * few microseconds (and its collection more), so a block goes back here once its
 * operation has been reaped (recyclePathBlock) and the next path reuses it.
 */
const idleBlocks = new Map<number, ArrayBuffer[]>();
const SMALLEST_BLOCK = 512;
/**
 * Idle bytes kept per capacity, and in all. Per capacity, so that readFile's 64 KiB
 * blocks never crowd out stat's 512-byte ones: with one shared budget, a readFile burst
 * left every later stat allocating a new block (186K → 122K stats/s).
 */
const IDLE_BYTES_PER_CAPACITY = 4 << 20;
const IDLE_BYTES_LIMIT = 16 << 20;
let idleBytes = 0;

function capacityFor(size: number): number {
  let capacity = SMALLEST_BLOCK;
  while (capacity < size) capacity *= 2;
  return capacity;
}

/**
 * `prefix` bytes (statx's output) then each path NUL-terminated, in caio's own memory
 * (native when the library is loaded): what a path operation's record points at.
 */
export function pathBlock(prefix: number, ...paths: Buffer[]): Buffer | typeof ENOMEM {
  let size = prefix;
  for (const path of paths) size += path.length + 1;
  const capacity = capacityFor(size);
  const idle = idleBlocks.get(capacity)?.pop();
  let block: Buffer | typeof ENOMEM;
  if (idle) {
    idleBytes -= capacity;
    block = Buffer.from(idle, 0, size);
  } else {
    const fresh = allocNative(capacity, 16, false) ?? Buffer.allocUnsafeSlow(capacity);
    if (fresh === ENOMEM) return ENOMEM;
    block = fresh.subarray(0, size);
  }
  let at = prefix;
  for (const path of paths) {
    block.set(path, at);
    at += path.length;
    block[at++] = 0;
  }
  return block;
}

/**
 * Keeps a path block for the next path operation. Only once its operation was reaped:
 * an aborted one may still be read (or, for statx, written) by the kernel; drop that
 * one instead (dropNative), and it is freed when the backend lets go.
 */
export function recyclePathBlock(block: Buffer): void {
  const buffer = block.buffer as ArrayBuffer;
  const capacity = buffer.byteLength;
  let list = idleBlocks.get(capacity);
  if (idleBytes + capacity > IDLE_BYTES_LIMIT || ((list?.length ?? 0) + 1) * capacity > IDLE_BYTES_PER_CAPACITY) {
    dropNative(block);
    return;
  }
  if (!list) idleBlocks.set(capacity, (list = []));
  list.push(buffer);
  idleBytes += capacity;
}
