/**
 * caio — asynchronous positional file I/O for Bun. Every operation issued during
 * one tick is submitted to the kernel with a single system call.
 *
 * @example
 * ```ts
 * import { Context } from "caio";
 * await using ctx = new Context();
 * await ctx.write("Hello world", fd, 0);
 * const bytes = await ctx.read(32, fd, 0);
 * ```
 */
import { ptr } from "bun:ffi";
import { OP_FDSYNC, OP_FSYNC, OP_READ, OP_READV, OP_WRITE, OP_WRITEV } from "./backends/backend.ts";
import { isBackendName, openBackend, type Backend, type BackendName } from "./backends/index.ts";
import { MAX_THREADS } from "./backends/thread.ts";
import { allocNative, dropNative, ENOMEM } from "./bounce.ts";
import { diagnoseTransfer } from "./diagnose.ts";
import { contextClosed, invalidArgType, outOfRange, systemError } from "./errors.ts";
import { Scheduler, type Opcode, type Stats, type VectorOpcode } from "./scheduler.ts";
import { openDefaultBackend } from "./select.ts";
import {
  checkFd,
  checkLength,
  checkOffset,
  MAX_BUFFERS,
  MAX_LENGTH,
  parseOptions,
  toOwnView,
  toOwnViews,
  toWritableBytes,
  type OperationOptions,
  type ParsedOptions,
} from "./validate.ts";
import { freshOwnView } from "./views.ts";

export type { BackendName } from "./backends/index.ts";
export { AbortError, type CodedError, type SystemError } from "./errors.ts";
export type { Stats } from "./scheduler.ts";
export { availableBackends, type BackendAvailability } from "./select.ts";
export { nativeLibrary, type NativeLibrary, type NativeLoadPath } from "./native.ts";
export type { AbortSignalLike, OperationOptions } from "./validate.ts";

export interface ContextOptions {
  /** Operations in flight at once (1 … 65536); more are queued in FIFO order, never refused. Default 128. */
  maxRequests?: number;
  /**
   * Use this backend or throw (naming the reason) if it cannot run here. By default
   * CAIO_IMPL, then the package's `default_implementation` file, then the fastest
   * backend that initialises here decide.
   */
  backend?: BackendName;
  /**
   * Worker threads for the "thread" backend (1 … 1024); other backends ignore it.
   * Default: enough to keep the CPUs and a fast SSD busy (see README).
   */
  threads?: number;
}

const DEFAULT_MAX_REQUESTS = 128;
const MAX_REQUESTS_LIMIT = 65536;
/** O_DIRECT needs buffers aligned to the logical block size; a page covers every device. */
const DIRECT_IO_ALIGNMENT = 4096;

/** Backstop for contexts dropped without close(): the scheduler is unreachable only once idle. */
const dropped = new FinalizationRegistry<Backend>((backend) => backend.close());

function checkContextOptions(options: unknown): { maxRequests: number; backend?: BackendName; threads?: number } {
  if (options === undefined) return { maxRequests: DEFAULT_MAX_REQUESTS };
  if (options === null || typeof options !== "object") throw invalidArgType("options", "of type object", options);
  const { maxRequests = DEFAULT_MAX_REQUESTS, backend, threads } = options as ContextOptions;
  if (typeof maxRequests !== "number") throw invalidArgType("options.maxRequests", "of type number", maxRequests);
  if (!Number.isInteger(maxRequests) || maxRequests < 1 || maxRequests > MAX_REQUESTS_LIMIT) {
    throw outOfRange("options.maxRequests", `an integer >= 1 && <= ${MAX_REQUESTS_LIMIT}`, maxRequests);
  }
  if (backend !== undefined && !isBackendName(backend)) {
    throw invalidArgType("options.backend", `one of "uring", "linux", "thread", "js"`, backend);
  }
  if (threads !== undefined) {
    if (typeof threads !== "number") throw invalidArgType("options.threads", "of type number", threads);
    if (!Number.isInteger(threads) || threads < 1 || threads > MAX_THREADS) {
      throw outOfRange("options.threads", `an integer >= 1 && <= ${MAX_THREADS}`, threads);
    }
  }
  return { maxRequests, backend, threads };
}

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

function alignedIn(backing: ArrayBuffer | SharedArrayBuffer, size: number, alignment: number): Buffer {
  const address = ptr(new Uint8Array(backing));
  const shift = (alignment - (address % alignment)) % alignment;
  return Buffer.from(backing, shift, size);
}

/** Node's error when an ArrayBuffer cannot be allocated. */
function allocationFailed(size: number): RangeError {
  return Object.assign(new RangeError(`Array buffer allocation failed (${size} bytes)`), { code: "ERR_MEMORY_ALLOCATION_FAILED" });
}

/**
 * Buffers for read(): caio's own native memory, private until the read settles, so the
 * kernel fills them directly. Block-multiple sizes are page aligned so they also work on
 * O_DIRECT descriptors. ENOMEM when there is no memory.
 */
function allocReadBuffer(nbytes: number): Buffer | typeof ENOMEM {
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
function readResult(buffer: Buffer, result: number): Buffer {
  if (result === buffer.length) return buffer;
  const exact = Buffer.allocUnsafeSlow(result);
  exact.set(buffer.subarray(0, result));
  dropNative(buffer);
  return exact;
}

/**
 * An I/O context: a kernel submission context (or thread pool) plus the scheduler
 * that batches every operation issued in one tick into one submission.
 */
export class Context {
  readonly #scheduler: Scheduler;
  readonly #backend: Backend;

  constructor(options?: ContextOptions) {
    const { maxRequests, backend, threads } = checkContextOptions(options);
    this.#backend = backend
      ? openBackend(backend, maxRequests, { threads })
      : openDefaultBackend(maxRequests, { threads });
    this.#scheduler = new Scheduler(this.#backend);
    dropped.register(this.#scheduler, this.#backend, this.#scheduler);
  }

  /** The backend in use: "uring" | "linux" | "thread" | "js". */
  get backend(): BackendName {
    return this.#backend.name;
  }

  /** Operations allowed in flight at once. */
  get maxRequests(): number {
    return this.#backend.capacity;
  }

  /** Counters since the context was created. */
  get stats(): Stats {
    return this.#scheduler.stats;
  }

  /**
   * Writes `payload` at `offset` of `fd`. Resolves with the bytes written (one
   * pwrite's result: it can be short, e.g. on a full disk).
   */
  async write(
    payload: string | ArrayBufferView | ArrayBufferLike,
    fd: number,
    offset: number | bigint,
    options?: OperationOptions,
  ): Promise<number> {
    const bytes = toWritableBytes(payload);
    if (bytes instanceof Error) throw bytes;
    const parsed = this.#checkTarget(fd, offset, options);
    const position = Number(offset);
    const result = await this.#scheduler.enqueue(OP_WRITE, fd, position, bytes, parsed, typeof payload === "string");
    if (result < 0) throw transferError(result, "write", fd, bytes.bytes, position, this.backend);
    return result;
  }

  /**
   * Reads up to `nbytes` at `offset` of `fd` into a new Buffer holding exactly the
   * bytes read: short at end of file, empty past it.
   */
  async read(nbytes: number, fd: number, offset: number | bigint, options?: OperationOptions): Promise<Buffer> {
    const error = checkLength("nbytes", nbytes);
    if (error) throw error;
    const parsed = this.#checkTarget(fd, offset, options);
    const position = Number(offset);
    const buffer = allocReadBuffer(nbytes);
    if (buffer === ENOMEM) throw systemError(ENOMEM, "read");
    let result: number;
    try {
      result = await this.#scheduler.enqueue(OP_READ, fd, position, freshOwnView(buffer), parsed, true);
    } catch (error) {
      dropNative(buffer);
      throw error;
    }
    if (result < 0) {
      const error = transferError(result, "read", fd, buffer, position, this.backend);
      dropNative(buffer);
      throw error;
    }
    return readResult(buffer, result);
  }

  /** Reads into `buffer` (up to its length) at `offset` of `fd`; resolves with the bytes read. */
  async readInto(buffer: ArrayBufferView, fd: number, offset: number | bigint, options?: OperationOptions): Promise<number> {
    const own = toOwnView("buffer", buffer);
    if (own instanceof Error) throw own;
    const parsed = this.#checkTarget(fd, offset, options);
    const position = Number(offset);
    const result = await this.#scheduler.enqueue(OP_READ, fd, position, own, parsed);
    if (result < 0) throw transferError(result, "read", fd, own.bytes, position, this.backend);
    return result;
  }

  /**
   * Reads into `buffers` in order, as one operation (preadv(2)), at `offset` of `fd`.
   * Resolves with the total bytes read, which can be short at end of file.
   */
  async readv(
    buffers: readonly ArrayBufferView[],
    fd: number,
    offset: number | bigint,
    options?: OperationOptions,
  ): Promise<number> {
    return this.#vectored(OP_READV, buffers, fd, offset, options);
  }

  /**
   * Writes `buffers` in order, as one operation (pwritev(2)), at `offset` of `fd`.
   * Resolves with the total bytes written (one syscall's result: it can be short).
   */
  async writev(
    buffers: readonly ArrayBufferView[],
    fd: number,
    offset: number | bigint,
    options?: OperationOptions,
  ): Promise<number> {
    return this.#vectored(OP_WRITEV, buffers, fd, offset, options);
  }

  /** fsync(2): flushes data and metadata of `fd`. */
  async fsync(fd: number, options?: OperationOptions): Promise<void> {
    const parsed = this.#checkTarget(fd, 0, options);
    const result = await this.#scheduler.enqueue(OP_FSYNC, fd, 0, null, parsed);
    if (result < 0) throw systemError(result, "fsync");
  }

  /** fdatasync(2): flushes the data of `fd` (and metadata only when needed to read it back). */
  async fdsync(fd: number, options?: OperationOptions): Promise<void> {
    const parsed = this.#checkTarget(fd, 0, options);
    const result = await this.#scheduler.enqueue(OP_FDSYNC, fd, 0, null, parsed);
    if (result < 0) throw systemError(result, "fdatasync");
  }

  /**
   * Stops accepting operations, lets every operation already issued complete, and
   * frees the kernel context. Idempotent; resolves when no completion can arrive.
   */
  close(): Promise<void> {
    return this.#scheduler.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Validates what every operation shares (fd, offset); returns the options, each read once. */
  #checkTarget(fd: unknown, offset: unknown, options: unknown): ParsedOptions {
    const error = checkFd(fd) ?? checkOffset(offset);
    if (error) throw error;
    const parsed = parseOptions(options);
    if (parsed instanceof Error) throw parsed;
    if (this.#scheduler.closing) throw contextClosed();
    return parsed;
  }

  /** readv/writev: validates, submits the views as one operation, explains a failure. */
  async #vectored(
    opcode: VectorOpcode,
    buffers: readonly ArrayBufferView[],
    fd: number,
    offset: number | bigint,
    options: OperationOptions | undefined,
  ): Promise<number> {
    const owns = toOwnViews("buffers", buffers);
    if (owns instanceof Error) throw owns;
    const parsed = this.#checkTarget(fd, offset, options);
    const position = Number(offset);
    const result = await this.#scheduler.enqueueVector(opcode, fd, position, owns, parsed);
    if (result < 0) throw transferError(result, opcode === OP_READV ? "readv" : "writev", fd, owns, position, this.backend);
    return result;
  }
}

/** The error for a failed read or write, explained where caio knows more than the errno (see diagnose.ts). */
function transferError(
  result: number,
  syscall: "read" | "write" | "readv" | "writev",
  fd: number,
  views: ArrayBufferView | readonly ArrayBufferView[],
  offset: number,
  backend: BackendName,
) {
  const { errno, hint } = diagnoseTransfer(result, fd, ArrayBuffer.isView(views) ? [views] : views, offset, backend);
  return systemError(errno, syscall, hint);
}

export { MAX_BUFFERS, MAX_LENGTH };
