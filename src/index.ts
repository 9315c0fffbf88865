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
import { OP_FDSYNC, OP_FSYNC, OP_READ, OP_WRITE } from "./backends/backend.ts";
import { isBackendName, openBackend, openBestBackend, type Backend, type BackendName } from "./backends/index.ts";
import { contextClosed, invalidArgType, outOfRange, type CodedError } from "./errors.ts";
import { RESULT_BYTES, RESULT_COUNT, RESULT_VOID, Scheduler, type OperationRequest, type Stats } from "./scheduler.ts";
import {
  checkFd,
  checkLength,
  checkOffset,
  checkOptions,
  checkView,
  MAX_LENGTH,
  toWritableBytes,
  type OperationOptions,
} from "./validate.ts";

export type { BackendName } from "./backends/index.ts";
export { AbortError, type CodedError, type SystemError } from "./errors.ts";
export type { Stats } from "./scheduler.ts";
export type { OperationOptions } from "./validate.ts";

export interface ContextOptions {
  /** Operations in flight at once (1 … 65536); more are queued in FIFO order, never refused. Default 128. */
  maxRequests?: number;
  /** Force a backend; by default the fastest one that initialises here is used. */
  backend?: BackendName;
}

const DEFAULT_MAX_REQUESTS = 128;
const MAX_REQUESTS_LIMIT = 65536;
/** O_DIRECT needs buffers aligned to the logical block size; a page covers every device. */
const DIRECT_IO_ALIGNMENT = 4096;

const dropped = new FinalizationRegistry<Backend>((backend) => Scheduler.release(backend));

function rejectWith(error: CodedError | Error): Promise<never> {
  return Promise.reject(error);
}

function checkContextOptions(options: unknown): { maxRequests: number; backend?: BackendName } {
  if (options === undefined) return { maxRequests: DEFAULT_MAX_REQUESTS };
  if (options === null || typeof options !== "object") throw invalidArgType("options", "of type object", options);
  const { maxRequests = DEFAULT_MAX_REQUESTS, backend } = options as ContextOptions;
  if (typeof maxRequests !== "number") throw invalidArgType("options.maxRequests", "of type number", maxRequests);
  if (!Number.isInteger(maxRequests) || maxRequests < 1 || maxRequests > MAX_REQUESTS_LIMIT) {
    throw outOfRange("options.maxRequests", `an integer >= 1 && <= ${MAX_REQUESTS_LIMIT}`, maxRequests);
  }
  if (backend !== undefined && !isBackendName(backend)) {
    throw invalidArgType("options.backend", `one of "uring", "linux", "thread", "js"`, backend);
  }
  return { maxRequests, backend };
}

/**
 * Allocates a zero-filled Buffer whose first byte is aligned to `alignment` bytes,
 * as O_DIRECT requires.
 */
export function allocAligned(size: number, alignment = DIRECT_IO_ALIGNMENT): Buffer {
  const sizeError = checkLength("size", size);
  if (sizeError) throw sizeError;
  if (!Number.isInteger(alignment) || alignment < 1 || (alignment & (alignment - 1)) !== 0 || alignment > 1 << 20) {
    throw outOfRange("alignment", "a power of two <= 1048576", alignment);
  }
  const backing = new ArrayBuffer(size + alignment);
  const address = ptr(backing);
  const shift = (alignment - (address % alignment)) % alignment;
  return Buffer.from(backing, shift, size);
}

/** Buffers for read(): block-multiple sizes are page aligned so they also work on O_DIRECT descriptors. */
function allocReadBuffer(nbytes: number): Buffer {
  return nbytes >= 512 && nbytes % 512 === 0 ? allocAligned(nbytes) : Buffer.alloc(nbytes);
}

/**
 * An I/O context: a kernel submission context (or thread pool) plus the scheduler
 * that batches every operation issued in one tick into one submission.
 */
export class Context {
  readonly #scheduler: Scheduler;
  readonly #backend: Backend;

  constructor(options?: ContextOptions) {
    const { maxRequests, backend } = checkContextOptions(options);
    this.#backend = backend ? openBackend(backend, maxRequests) : openBestBackend(maxRequests);
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
  write(payload: string | ArrayBufferView | ArrayBuffer, fd: number, offset: number | bigint, options?: OperationOptions): Promise<number> {
    const bytes = toWritableBytes(payload);
    if (bytes instanceof Error) return rejectWith(bytes);
    return this.#io(OP_WRITE, fd, offset, bytes, RESULT_COUNT, options) as Promise<number>;
  }

  /**
   * Reads up to `nbytes` at `offset` of `fd` into a new Buffer holding exactly the
   * bytes read: short at end of file, empty past it.
   */
  read(nbytes: number, fd: number, offset: number | bigint, options?: OperationOptions): Promise<Buffer> {
    const error = checkLength("nbytes", nbytes);
    if (error) return rejectWith(error);
    return this.#io(OP_READ, fd, offset, null, RESULT_BYTES, options, nbytes) as Promise<Buffer>;
  }

  /** Reads into `buffer` (up to its length) at `offset` of `fd`; resolves with the bytes read. */
  readInto(buffer: ArrayBufferView, fd: number, offset: number | bigint, options?: OperationOptions): Promise<number> {
    const error = checkView("buffer", buffer);
    if (error) return rejectWith(error);
    return this.#io(OP_READ, fd, offset, buffer, RESULT_COUNT, options) as Promise<number>;
  }

  /** fsync(2): flushes data and metadata of `fd`. */
  fsync(fd: number, options?: OperationOptions): Promise<void> {
    return this.#io(OP_FSYNC, fd, 0, null, RESULT_VOID, options) as Promise<void>;
  }

  /** fdatasync(2): flushes the data of `fd` (and metadata only when needed to read it back). */
  fdsync(fd: number, options?: OperationOptions): Promise<void> {
    return this.#io(OP_FDSYNC, fd, 0, null, RESULT_VOID, options) as Promise<void>;
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

  #io(
    opcode: OperationRequest["opcode"],
    fd: unknown,
    offset: unknown,
    view: ArrayBufferView | null,
    resultKind: OperationRequest["resultKind"],
    options: unknown,
    readLength?: number,
  ): Promise<unknown> {
    const site = new Error();
    const error = checkFd(fd) ?? checkOffset(offset) ?? checkOptions(options);
    if (error) return rejectWith(error);
    if (this.#scheduler.closing) return rejectWith(contextClosed());
    const { signal, priority = 0 } = (options ?? {}) as OperationOptions;
    return this.#scheduler.enqueue({
      opcode,
      fd: fd as number,
      offset: Number(offset),
      view: readLength === undefined ? view : allocReadBuffer(readLength),
      priority,
      resultKind,
      signal,
      site,
    });
  }
}

export { MAX_LENGTH };
