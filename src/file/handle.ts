/**
 * File: an open file with a position, aiofile's API on a caio Context. Positional
 * reads and writes go straight to the Context; the position is only bookkeeping
 * here, moved at the call (see File.position), so concurrent calls take consecutive
 * ranges in call order and still run in parallel.
 */
import { constants } from "node:fs";
import { Context } from "../index.ts";
import { defaultContext } from "../defaults.ts";
import { dropNative } from "../bounce.ts";
import type { ReadManyOptions, ReadManyRequests } from "../readmany.ts";
import { invalidArgType, outOfRange } from "../errors.ts";
import { transferError } from "../diagnose.ts";
import { checkLength, checkOffset, MAX_LENGTH, toOwnView, toWritableBytes } from "../validate.ts";
import { chunks } from "./chunks.ts";
import { FileCore } from "./core.ts";
import { directAlignment, directRefused, unalignedWrite } from "./direct.ts";
import { parseFlags, parseMode } from "./flags.ts";
import { lines } from "./lines.ts";
import { fileReadMany } from "./many.ts";
import { fileOpsOf, must, type AllocateOptions, type StatOptions } from "./ops.ts";
import {
  DEFAULT_CHUNK_SIZE,
  DEFAULT_READABLE_CHUNK_SIZE,
  parseChunks,
  parseLines,
  parseWritable,
  type ChunkOptions,
  type LineOptions,
  type WritableOptions,
} from "./options.ts";
import { toPath } from "./paths.ts";
import type { BigFileStats, FileStats } from "./stats.ts";
import { readable, writable } from "./streams.ts";

export type { ChunkOptions, LineOptions, WritableOptions } from "./options.ts";

export interface OpenOptions {
  /** Mode of a created file. Default 0o666 (the umask applies). */
  mode?: number | string;
  /** O_DIRECT: bypass the page cache. Any offset and length still reads; see README "Direct mode". */
  direct?: boolean;
  /** The Context to run on. Default: defaultContext(). */
  context?: Context;
}

type Data = string | ArrayBufferView | ArrayBufferLike;

/** Backstop for a File dropped without close(): its descriptor still goes back, through its Context. */
const dropped = new FinalizationRegistry<{ ctx: Context; fd: number }>(({ ctx, fd }) => {
  if (!ctx.closing) fileOpsOf(ctx).closeFile(fd).catch(() => {});
});

let makeFile: (core: FileCore) => File;

/**
 * An open file: reads and writes at a position or at offsets, the whole file as
 * text, bytes or JSON, chunks and lines as async iterables, and web streams.
 * Made by open(); close() (or `await using`) gives the descriptor back once every
 * operation on it has completed.
 */
export class File {
  readonly #core: FileCore;
  #position = 0;
  #closing: Promise<void> | undefined;

  private constructor(core: FileCore) {
    this.#core = core;
    core.owner = this;
    dropped.register(this, { ctx: core.ctx, fd: core.fd }, this);
  }

  static {
    makeFile = (core) => new File(core);
  }

  /** The descriptor (valid until close()). */
  get fd(): number {
    return this.#core.fd;
  }

  /**
   * Direct mode's alignment, the multiple that write() and writeAt() offsets and
   * lengths must be: statx's stx_dio_offset_align for this file where the kernel
   * reports it (Linux 6.1+), else 4096. 0 for a file opened without { direct: true }.
   */
  get alignment(): number {
    return this.#core.alignment;
  }

  /** The path as given to open(). */
  get path(): string {
    return this.#core.path;
  }

  /**
   * Where read(), readInto() without an offset, write() and writable() start. A write
   * moves it past its bytes at the call; a read moves it by the bytes it asked for at
   * the call and back to where it really stopped when it comes back short (unless
   * another call moved it since). Setting it seeks.
   */
  get position(): number {
    return this.#position;
  }

  set position(value: number) {
    if (typeof value !== "number") throw invalidArgType("position", "of type number", value);
    if (!Number.isInteger(value) || value < 0 || value > Number.MAX_SAFE_INTEGER) {
      throw outOfRange("position", `an integer >= 0 && <= ${Number.MAX_SAFE_INTEGER}`, value);
    }
    this.#position = value;
  }

  /** Reads up to `nbytes` at the position (to the end of file without `nbytes`); empty past the end. */
  async read(nbytes?: number): Promise<Buffer> {
    if (nbytes !== undefined) must(checkLength("nbytes", nbytes) ?? true);
    this.#core.enter("read");
    if (nbytes === undefined) {
      const at = this.#reserve(0);
      const bytes = await this.#readToEnd(at);
      if (this.#position === at) this.#position = at + bytes.length;
      return bytes;
    }
    const at = this.#reserve(nbytes);
    const bytes = await this.#core.readAt(nbytes, at);
    this.#settle(at, nbytes, bytes.length);
    return bytes;
  }

  /** Reads up to `nbytes` at `offset`; the position does not move. */
  async readAt(nbytes: number, offset: number | bigint): Promise<Buffer> {
    must(checkLength("nbytes", nbytes) ?? checkOffset(offset) ?? true);
    this.#core.enter("read");
    return this.#core.readAt(nbytes, Number(offset));
  }

  /**
   * Fills `buffer` from `offset` (from the position, moving it, when omitted); resolves
   * with the bytes read. A buffered read awaits the scheduler's own promise, counted in
   * flight by hand: each layer of promises (Context.readInto, track()'s finally) costs a
   * few hundred ns, a tenth of a cached read.
   */
  async readInto(buffer: ArrayBufferView, offset?: number | bigint): Promise<number> {
    const own = must(toOwnView("buffer", buffer));
    if (offset !== undefined) must(checkOffset(offset) ?? true);
    const core = this.#core;
    core.enter("read");
    const length = own.bytes.length;
    const at = offset === undefined ? this.#reserve(length) : Number(offset);
    let got: number;
    if (core.alignment) {
      got = await core.readInto(own.bytes, at);
    } else {
      core.begin();
      try {
        got = await core.files.readInto(core.fd, at, own);
      } finally {
        core.end();
      }
      if (got < 0) throw transferError(got, "read", core.fd, own.bytes, at, core.files.backend.name);
    }
    if (offset === undefined) this.#settle(at, length, got);
    return got;
  }

  /**
   * Context.readMany on this file: a Buffer per request, in request order, with the
   * bytes that exist; the position does not move. A direct File reads the aligned
   * blocks around each request and hands back exactly the bytes asked for.
   */
  async readMany(requests: ReadManyRequests, options?: ReadManyOptions): Promise<Buffer[]> {
    this.#core.enter("read");
    return this.#core.track(fileReadMany(this.#core, requests, options));
  }

  /** Writes all of `data` (a string as UTF-8) at the position, which moves past it at once; resolves with the bytes written. */
  async write(data: Data): Promise<number> {
    const bytes = must(toWritableBytes(data)).bytes;
    this.#core.enter("write");
    this.#checkAligned(this.#position, bytes.length);
    return this.#core.writeAt(bytes, this.#reserve(bytes.length));
  }

  /** Writes all of `data` at `offset`; the position does not move. */
  async writeAt(data: Data, offset: number | bigint): Promise<number> {
    const bytes = must(toWritableBytes(data)).bytes;
    must(checkOffset(offset) ?? true);
    this.#core.enter("write");
    this.#checkAligned(Number(offset), bytes.length);
    return this.#core.writeAt(bytes, Number(offset));
  }

  /** fstat: node:fs's Stats (BigIntStats with { bigint: true }). */
  async stat(options?: StatOptions & { bigint?: false }): Promise<FileStats>;
  async stat(options: StatOptions & { bigint: true }): Promise<BigFileStats>;
  async stat(options?: StatOptions): Promise<FileStats | BigFileStats> {
    this.#core.enter("fstat");
    return this.#core.track(this.#core.ctx.stat(this.#core.fd, options));
  }

  /** ftruncate(2) to `length` (default 0); the position does not move. */
  async truncate(length: number | bigint = 0): Promise<void> {
    this.#core.enter("ftruncate");
    return this.#core.track(this.#core.ctx.truncate(this.#core.fd, length));
  }

  /** fallocate(2): reserves `length` bytes at `offset`. */
  async allocate(offset: number | bigint, length: number | bigint, options?: AllocateOptions): Promise<void> {
    this.#core.enter("fallocate");
    return this.#core.track(this.#core.ctx.allocate(this.#core.fd, offset, length, options));
  }

  /** fsync(2). */
  async sync(): Promise<void> {
    this.#core.enter("fsync");
    return this.#core.track(this.#core.ctx.fsync(this.#core.fd));
  }

  /** fdatasync(2). */
  async datasync(): Promise<void> {
    this.#core.enter("fdatasync");
    return this.#core.track(this.#core.ctx.fdsync(this.#core.fd));
  }

  /** The whole file (from offset 0, whatever the position) as UTF-8 text. */
  async text(): Promise<string> {
    const bytes = await this.bytes();
    const text = bytes.toString("utf8");
    dropNative(bytes);
    return text;
  }

  /** The whole file, from offset 0 to the end a read finds; the position does not move. */
  async bytes(): Promise<Buffer> {
    this.#core.enter("read");
    return this.#readToEnd(0);
  }

  /** The whole file parsed as JSON. */
  async json<T = unknown>(): Promise<T> {
    return JSON.parse(await this.text()) as T;
  }

  /** Chunks of `chunkSize` bytes (the last shorter) from `start` (default 0) to `end` or the end of file, read ahead. */
  chunks(options?: ChunkOptions): AsyncIterable<Buffer> {
    const parsed = parseChunks(options);
    this.#core.enter("read");
    return chunks(this.#core, parsed);
  }

  /** The lines from `start` (default 0), without their "\n" or "\r\n"; a last line without a newline included. */
  lines(options?: LineOptions): AsyncIterableIterator<string> {
    const parsed = parseLines(options);
    this.#core.enter("read");
    return lines(this.#core, parsed);
  }

  /** A byte ReadableStream (BYOB readers welcome) from `start` (default 0) to `end` or the end of file, in reads of `chunkSize` (default 128 KiB). */
  readable(options?: ChunkOptions): ReadableStream<Uint8Array> {
    const parsed = parseChunks(options, DEFAULT_READABLE_CHUNK_SIZE);
    this.#core.enter("read");
    return readable(this.#core, parsed);
  }

  /**
   * A WritableStream writing at the position (which follows it), gathering chunks into
   * blocks with `writeBehind` writes in flight; closing it writes the rest (and
   * fdatasyncs with `sync`). In direct mode the last block is padded, then the file
   * truncated back to its true length.
   */
  writable(options?: WritableOptions): WritableStream<string | ArrayBufferView> {
    const parsed = parseWritable(options);
    this.#core.enter("write");
    return writable(this.#core, this.#position, parsed, (end) => (this.#position = end));
  }

  /** Waits for every operation in flight on this file, then closes it. Idempotent. */
  close(): Promise<void> {
    return (this.#closing ??= this.#close());
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #close(): Promise<void> {
    const core = this.#core;
    core.closed = true;
    dropped.unregister(this);
    await core.idle();
    // A closed or closing Context gives back its Files' descriptors itself (see Scheduler.#closeFilesLeft).
    await core.files.closeFile(core.fd);
  }

  /** The position for a call taking `length` bytes; the position moves past them. */
  #reserve(length: number): number {
    const at = this.#position;
    this.#position = at + length;
    return at;
  }

  /** A read of `asked` at `at` gave `got`: the position goes back to where it stopped, unless moved since. */
  #settle(at: number, asked: number, got: number): void {
    if (got < asked && this.#position === at + asked) this.#position = at + got;
  }

  #checkAligned(offset: number, length: number): void {
    const align = this.#core.alignment;
    if (align === 0) return;
    if (offset % align !== 0) throw unalignedWrite("offset", offset, align);
    if (length % align !== 0) throw unalignedWrite("data.byteLength", length, align);
  }

  /** Bytes from `from` to the end a read finds: the size stat gives, then reads until one comes back empty. */
  async #readToEnd(from: number): Promise<Buffer> {
    const { size } = await this.#core.track(this.#core.ctx.stat(this.#core.fd));
    const parts: Buffer[] = [];
    let total = 0;
    for (let ask = size > from ? Math.min(size - from, MAX_LENGTH) : DEFAULT_CHUNK_SIZE; ; ask = DEFAULT_CHUNK_SIZE) {
      const part = await this.#core.readAt(ask, from + total);
      if (part.length === 0) break;
      parts.push(part);
      total += part.length;
    }
    if (parts.length <= 1) return parts[0] ?? Buffer.alloc(0);
    const whole = Buffer.concat(parts, total);
    for (const part of parts) dropNative(part);
    return whole;
  }
}

function openOptions(options: unknown): { mode: number; direct: boolean; context: Context | undefined } {
  if (options === undefined || options === null) return { mode: 0o666, direct: false, context: undefined };
  if (typeof options !== "object") throw invalidArgType("options", "of type object", options);
  const { mode, direct = false, context } = options as OpenOptions;
  if (typeof direct !== "boolean") throw invalidArgType("options.direct", "of type boolean", direct);
  if (context !== undefined && !(context instanceof Context)) throw invalidArgType("options.context", "an instance of Context", context);
  return { mode: must(parseMode(mode, 0o666)), direct, context };
}

/**
 * Opens `path` as a File. `flags` as Context.open takes them (default "r"); options
 * `{ mode, direct, context }`. With `direct: true` (O_DIRECT) reads of any range work,
 * writes at offsets must be aligned (writable() takes anything).
 */
export async function open(path: string | Buffer | URL, flags?: string | number, options?: OpenOptions): Promise<File> {
  const checked = must(toPath("path", path));
  const parsedFlags = must(parseFlags(flags, "r"));
  const { mode, direct, context } = openOptions(options);
  const ctx = context ?? defaultContext();
  const opening = ctx.open(path, direct ? parsedFlags | constants.O_DIRECT : parsedFlags, mode);
  const files = fileOpsOf(ctx);
  const alignmentOf = direct ? directAlignment(files, checked) : undefined;
  let fd: number;
  try {
    fd = await opening;
  } catch (error) {
    throw direct && (error as { code?: string }).code === "EINVAL" ? directRefused(error as Error, checked.shown) : error;
  }
  const alignment = alignmentOf ? await alignmentOf(fd) : 0;
  files.adopt(fd);
  return makeFile(new FileCore(ctx, fd, checked.shown, alignment, files));
}
