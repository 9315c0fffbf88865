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
import { OP_FDSYNC, OP_FSYNC, OP_READ, OP_READV, OP_WRITE, OP_WRITEV } from "./backends/backend.ts";
import { openBackend, type Backend, type BackendName } from "./backends/index.ts";
import { SETUP_SQPOLL } from "./backends/uring.ts";
import { dropNative, ENOMEM, hasNativeMemory } from "./bounce.ts";
import { transferError } from "./diagnose.ts";
import { contextClosed, systemError } from "./errors.ts";
import { Scheduler, type Opcode, type Stats, type VectorOpcode } from "./scheduler.ts";
import { openDefaultBackend } from "./select.ts";
import { checkContextOptions, type ContextOptions } from "./context-options.ts";
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
import { FileOps, registerFileOps, type AllocateOptions, type MkdirOptions, type StatOptions } from "./file/ops.ts";
import type { BigFileStats, FileStats } from "./file/stats.ts";
import { readFile, writeFile, type ReadFileOptions, type WriteFileOptions } from "./file/whole.ts";
import { allocReadBuffer, COPY_READS_UP_TO, readBufferView, readResult } from "./readbuffers.ts";
import { readMany, type ReadManyOptions, type ReadManyRequests } from "./readmany.ts";

export type { BackendName } from "./backends/index.ts";
export { AbortError, type CodedError, type SystemError } from "./errors.ts";
export type { Stats } from "./scheduler.ts";
export { availableBackends, type BackendAvailability } from "./select.ts";
export { nativeLibrary, type NativeLibrary, type NativeLoadPath } from "./native.ts";
export type { AbortSignalLike, OperationOptions } from "./validate.ts";
export type { AllocateOptions, MkdirOptions, StatOptions } from "./file/ops.ts";
export type { BigFileStats, FileStats } from "./file/stats.ts";
export type { ReadFileOptions, WriteFileOptions } from "./file/whole.ts";
export type { FixedSizeReads, ReadManyError, ReadManyOptions, ReadManyRequests, ReadRequest } from "./readmany.ts";
export { appendFile, defaultContext, mkdir, readFile, rename, stat, unlink, writeFile } from "./defaults.ts";
export { allocAligned } from "./aligned.ts";
export type { ContextOptions } from "./context-options.ts";
export { File, open, type ChunkOptions, type LineOptions, type OpenOptions, type WritableOptions } from "./file/handle.ts";

/** Backstop for contexts dropped without close(): the scheduler is unreachable only once idle. */
const dropped = new FinalizationRegistry<Backend>((backend) => backend.close());

/**
 * An I/O context: a kernel submission context (or thread pool) plus the scheduler
 * that batches every operation issued in one tick into one submission.
 */
export class Context {
  readonly #scheduler: Scheduler;
  readonly #backend: Backend;
  readonly #files: FileOps;
  readonly #sqpoll: boolean;

  constructor(options?: ContextOptions) {
    const { maxRequests, backend, threads, sqpoll } = checkContextOptions(options);
    this.#backend = backend
      ? openBackend(backend, maxRequests, { threads, sqpoll })
      : openDefaultBackend(maxRequests, { threads, sqpoll });
    this.#sqpoll = this.#backend.name === "uring" && (this.#backend.features() & SETUP_SQPOLL) !== 0;
    this.#scheduler = new Scheduler(this.#backend);
    this.#files = new FileOps(this.#scheduler, this.#backend);
    registerFileOps(this, this.#files);
    dropped.register(this.#scheduler, this.#backend, this.#scheduler);
  }

  /** The backend in use: "uring" | "linux" | "thread" | "js". */
  get backend(): BackendName {
    return this.#backend.name;
  }

  /** True once close() was called: the context accepts no more operations. */
  get closing(): boolean {
    return this.#scheduler.closing;
  }

  /**
   * True when a kernel thread polls this context's submission queue: asked for with
   * `sqpoll: true` and granted by the kernel (false on a refusal, and on backends
   * other than "uring").
   */
  get sqpoll(): boolean {
    return this.#sqpoll;
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
    if (nbytes <= COPY_READS_UP_TO && hasNativeMemory()) {
      // The kernel fills pooled memory; the Buffer is made at completion, of exactly the bytes read.
      const made = await this.#scheduler.enqueueRead(fd, position, nbytes, parsed);
      if (typeof made !== "number") return made;
      throw transferError(made, "read", fd, { byteLength: nbytes }, position, this.backend);
    }
    const buffer = allocReadBuffer(nbytes);
    if (buffer === ENOMEM) throw systemError(ENOMEM, "read");
    let result: number;
    try {
      result = await this.#scheduler.enqueue(OP_READ, fd, position, readBufferView(buffer), parsed, true);
    } catch (error) {
      dropNative(buffer);
      throw error;
    }
    if (result < 0) {
      // caio's own memory is page aligned: only the length and the offset can be wrong for O_DIRECT.
      const error = transferError(result, "read", fd, { byteLength: nbytes }, position, this.backend);
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
   * Reads many ranges of `fd` with one promise: `requests` is an Array of
   * `{ offset, length }` or `{ offsets, length }` (fixed-size reads at each offset). Resolves
   * with a Buffer per request, in request order, holding the bytes that exist (short at
   * end of file, empty past it). Adjacent or overlapping ranges are read as one up to
   * `options.mergeLimit` bytes (default 128 KiB); all reads go out in one submission.
   * A failed read rejects with its system error, `request` naming the request.
   */
  readMany(fd: number, requests: ReadManyRequests, options?: ReadManyOptions): Promise<Buffer[]> {
    return readMany(this.#scheduler, this.backend, fd, requests, options);
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
   * Opens `path` (string, Buffer or file: URL; relative to process.cwd() at the call)
   * and resolves with the new descriptor. `flags`: a node:fs flag string ("r", "r+",
   * "w", "wx", "w+", "a", "a+", …) or a number of fs.constants, default "r"; `mode`
   * for created files, default 0o666. While this process is out of descriptors
   * (EMFILE/ENFILE) and caio has other operations in flight, the open waits for one of
   * them to give a descriptor back. Descriptors are close-on-exec.
   */
  async open(path: string | Buffer | URL, flags?: string | number, mode?: number | string): Promise<number> {
    return this.#files.open(path, flags, mode);
  }

  /**
   * Waits for this context's operations on `fd` to complete, then close(2)s it, so
   * its number is never reused under them.
   */
  async closeFd(fd: number): Promise<void> {
    return this.#files.closeFd(fd);
  }

  /**
   * statx(2) of a path or a descriptor, as node:fs's fs.Stats (the same fields and
   * is*() methods as statSync); fs.BigIntStats with `{ bigint: true }`. Symbolic links
   * are followed.
   */
  async stat(path: string | Buffer | URL | number, options?: StatOptions & { bigint?: false }): Promise<FileStats>;
  async stat(path: string | Buffer | URL | number, options: StatOptions & { bigint: true }): Promise<BigFileStats>;
  async stat(path: string | Buffer | URL | number, options?: StatOptions): Promise<FileStats | BigFileStats>;
  async stat(path: string | Buffer | URL | number, options?: StatOptions): Promise<FileStats | BigFileStats> {
    return this.#files.stat(path, options);
  }

  /** ftruncate(2): sets the size of `fd`'s file to `length` (default 0). */
  async truncate(fd: number, length: number | bigint = 0): Promise<void> {
    return this.#files.truncate(fd, length);
  }

  /**
   * fallocate(2): reserves `length` bytes at `offset` of `fd`'s file, growing it unless
   * `keepSize`. The js backend (node:fs has no fallocate) only grows the file.
   */
  async allocate(fd: number, offset: number | bigint, length: number | bigint, options?: AllocateOptions): Promise<void> {
    return this.#files.allocate(fd, offset, length, options);
  }

  /** Removes a file (unlink(2)). */
  async unlink(path: string | Buffer | URL): Promise<void> {
    return this.#files.unlink(path);
  }

  /** rename(2): moves `from` to `to`, replacing a file there. */
  async rename(from: string | Buffer | URL, to: string | Buffer | URL): Promise<void> {
    return this.#files.rename(from, to);
  }

  /**
   * Creates a directory; with `recursive`, its missing parents too, resolving with the
   * first directory created (undefined when all existed), as node:fs does.
   */
  async mkdir(path: string | Buffer | URL, options?: MkdirOptions | number | string): Promise<string | undefined> {
    return this.#files.mkdir(path, options);
  }

  /**
   * Reads a whole file: a Buffer (caio's own memory, exactly the file's bytes), or a
   * string with `encoding` (or an encoding name as options). Reads to end of file, so
   * growing files and /proc files (whose size says 0) come back whole. Open, stat, read
   * and close all go through this context's batches; the file is closed whatever
   * happens.
   */
  async readFile(path: string | Buffer | URL, options?: (ReadFileOptions & { encoding?: null }) | null): Promise<Buffer>;
  async readFile(path: string | Buffer | URL, options: (ReadFileOptions & { encoding: BufferEncoding }) | BufferEncoding): Promise<string>;
  async readFile(path: string | Buffer | URL, options?: ReadFileOptions | BufferEncoding | null): Promise<Buffer | string>;
  async readFile(path: string | Buffer | URL, options?: ReadFileOptions | BufferEncoding | null): Promise<Buffer | string> {
    return readFile(this.#files, path, options);
  }

  /**
   * Writes `data` as the whole file (flag "w": created or truncated), looping over short
   * writes; `sync` fdatasyncs before closing. Strings are encoded with `encoding` (UTF-8).
   */
  async writeFile(
    path: string | Buffer | URL,
    data: string | ArrayBufferView | ArrayBufferLike,
    options?: WriteFileOptions | BufferEncoding | null,
  ): Promise<void> {
    return writeFile(this.#files, path, data, options, false);
  }

  /** writeFile with flag "a": appends `data`, creating the file if needed. */
  async appendFile(
    path: string | Buffer | URL,
    data: string | ArrayBufferView | ArrayBufferLike,
    options?: WriteFileOptions | BufferEncoding | null,
  ): Promise<void> {
    return writeFile(this.#files, path, data, options, true);
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

export { MAX_BUFFERS, MAX_LENGTH };
