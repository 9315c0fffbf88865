/**
 * The file operations of a Context: open, closeFd, stat, truncate, allocate, unlink,
 * rename, mkdir. Arguments are checked (each read once) and paths encoded before
 * anything reaches the scheduler; failures become node:fs-shaped errors here, in the
 * awaiting method, so their stacks lead back to the caller.
 */
import {
  OP_CLOSE,
  OP_FALLOCATE,
  OP_FTRUNCATE,
  OP_MKDIRAT,
  OP_OPENAT,
  OP_READ,
  OP_READFILE,
  OP_RENAMEAT,
  OP_STATX,
  OP_UNLINKAT,
  OP_WRITEFILE,
  READFILE_DATA,
  READFILE_STEPS,
  WRITEFILE_CUT,
  WRITEFILE_DATASYNC,
  WRITEFILE_MODE,
  WRITEFILE_OPTIONS,
  WRITEFILE_STEPS,
  type Backend,
} from "../backends/backend.ts";
import { AT_FDCWD, STATX_SIZE } from "../backends/js-files.ts";
import { dropNative, ENOMEM } from "../bounce.ts";
import { contextClosed, invalidArgType, pathError, systemError, type CodedError } from "../errors.ts";
import type { Scheduler } from "../scheduler.ts";
import { checkFd, checkOffset, NO_OPTIONS, parseOptions, type ParsedOptions } from "../validate.ts";
import type { OwnView } from "../views.ts";
import { parseFlags, parseMode } from "./flags.ts";
import { pathBlock, recyclePathBlock, toPath, type FilePath } from "./paths.ts";
import { decodeStats, STATX_MASK, type BigFileStats, type FileStats } from "./stats.ts";

const AT_EMPTY_PATH = 0x1000;
const AT_REMOVEDIR = 0x200;
const FALLOC_FL_KEEP_SIZE = 1;
const TWO_POW_32 = 4294967296;
/** A readFile's one block (steps, data, path): files up to about this size take one operation. */
const WHOLE_FILE_BLOCK = 64 * 1024;
const MIN_WHOLE_FILE_DATA = 4096;
const EEXIST = -17;
const ENOENT = -2;
const ENOTDIR = -20;

export interface StatOptions {
  /** fs.BigIntStats (with the *Ns fields) instead of fs.Stats. */
  bigint?: boolean;
}

export interface MkdirOptions {
  /** Default 0o777 (the umask applies). */
  mode?: number | string;
  /** Create missing parents; resolves with the first directory created, or undefined if none was. */
  recursive?: boolean;
}

export interface AllocateOptions {
  /** FALLOC_FL_KEEP_SIZE: reserve blocks without changing the file's size. */
  keepSize?: boolean;
}

/** Throws the argument error `checked` is, else returns it. */
export function must<T>(checked: T): Exclude<T, Error> {
  if (checked instanceof Error) throw checked;
  return checked as Exclude<T, Error>;
}

function optionsObject(options: unknown): Record<string, unknown> {
  if (options === undefined || options === null) return {};
  if (typeof options !== "object") throw invalidArgType("options", "of type object", options);
  return options as Record<string, unknown>;
}

function booleanOption(name: string, value: unknown): boolean {
  if (value === undefined) return false;
  if (typeof value !== "boolean") throw invalidArgType(`options.${name}`, "of type boolean", value);
  return value;
}

/** Each Context's FileOps, for the File layer: open() in direct mode sends a statx beside its open. */
const opsOfContext = new WeakMap<object, FileOps>();

/** Called by the Context constructor. */
export function registerFileOps(ctx: object, ops: FileOps): void {
  opsOfContext.set(ctx, ops);
}

/** The file operations of `ctx`: every Context registers its own in its constructor. */
export function fileOpsOf(ctx: object): FileOps {
  const ops = opsOfContext.get(ctx);
  if (!ops) throw new Error("caio: a Context without its file operations (a bug in caio)");
  return ops;
}

export class FileOps {
  constructor(
    readonly scheduler: Scheduler,
    readonly backend: Backend,
  ) {}

  /** Refuses new work on a closed context. */
  ready(): void {
    if (this.scheduler.closing) throw contextClosed();
  }

  /**
   * Runs an operation made of several steps (readFile: open, read, close) as one unit
   * of the context's work: close() waits for all of it, so a later step never finds the
   * backend gone and a descriptor it opened is always closed.
   */
  steps<T>(work: () => Promise<T>): Promise<T> {
    this.ready();
    return this.scheduler.busy(work);
  }

  /** A new block for `paths` after `prefix` bytes, or ENOMEM as an error. */
  #block(syscall: string, prefix: number, ...paths: FilePath[]): Buffer {
    const block = pathBlock(prefix, ...paths.map((path) => path.bytes));
    if (block === ENOMEM) throw systemError(ENOMEM, syscall);
    return block;
  }

  /** Runs one path operation on its own block, freed once the op settles; resolves with the raw result. */
  async #onBlock(
    opcode: 6 | 8 | 11 | 12 | 13 | 14 | 15,
    block: Buffer,
    offset: number,
    options: ParsedOptions,
    use?: (block: Buffer) => void,
  ): Promise<number> {
    return this.#settleOnBlock(block, use, () => this.scheduler.enqueueFile(opcode, AT_FDCWD, offset, block, options));
  }

  /**
   * Awaits `run`, lets `use` read the block (after a failure too when `always`), then
   * recycles it — or drops it if the op may still be in flight (aborted).
   */
  async #settleOnBlock(block: Buffer, use: ((block: Buffer, result: number) => void) | undefined, run: () => Promise<number>, always = false): Promise<number> {
    let reaped = false;
    try {
      const result = await run();
      reaped = true;
      if ((result >= 0 || always) && use) use(block, result);
      return result;
    } finally {
      if (reaped) recyclePathBlock(block);
      else dropNative(block); // an aborted op still holds it: freed once the backend lets go
    }
  }

  /** openat(2) of a checked path: the new fd or -errno. */
  openRaw(path: FilePath, flags: number, mode: number, options: ParsedOptions): Promise<number> {
    const offset = (flags >>> 0) + mode * TWO_POW_32;
    return this.#onBlock(OP_OPENAT, this.#block("open", 0, path), offset, options);
  }

  /**
   * A whole file of up to about WHOLE_FILE_BLOCK bytes in one operation (OP_READFILE:
   * open, read, confirming read, close; one linked chain on uring). `use` gets the
   * block and the op's result whatever the outcome: the steps' results are its first
   * READFILE_STEPS int32s, the data at READFILE_DATA when the result is >= 0.
   */
  readWholeRaw(path: FilePath, flags: number, options: ParsedOptions, use: (block: Buffer, result: number) => void): Promise<number> {
    const cap = Math.max(MIN_WHOLE_FILE_DATA, WHOLE_FILE_BLOCK - READFILE_DATA - path.bytes.length - 1);
    const block = this.#block("open", READFILE_DATA + cap, path);
    block.fill(0, 0, READFILE_STEPS * 4); // a refused op never runs to clear the last op's results
    const offset = (flags >>> 0) + cap * TWO_POW_32;
    return this.#settleOnBlock(
      block,
      use,
      () => this.scheduler.enqueueFile(OP_READFILE, AT_FDCWD, offset, block, options),
      true,
    );
  }

  /** Whether `bytes` and `path` fit in one block, for writeWholeRaw. */
  static fitsWhole(bytes: number, path: FilePath): boolean {
    return READFILE_DATA + bytes + path.bytes.length + 1 <= WHOLE_FILE_BLOCK;
  }

  /**
   * A whole file written in one operation (OP_WRITEFILE: open, write, ftruncate to the
   * length if `cut`, fdatasync if `sync`, close; one linked chain on uring), when
   * fitsWhole. `use` gets the block and the op's result: the steps' results are its
   * first WRITEFILE_STEPS int32s.
   */
  writeWholeRaw(
    path: FilePath,
    flags: number,
    mode: number,
    how: { cut: boolean; sync: boolean },
    data: Uint8Array,
    options: ParsedOptions,
    use: (block: Buffer, result: number) => void,
  ): Promise<number> {
    const block = this.#block("open", READFILE_DATA + data.length, path);
    block.fill(0, 0, WRITEFILE_STEPS * 4);
    block.writeUInt32LE(mode, WRITEFILE_MODE);
    block.writeUInt32LE((how.cut ? WRITEFILE_CUT : 0) | (how.sync ? WRITEFILE_DATASYNC : 0), WRITEFILE_OPTIONS);
    block.set(data, READFILE_DATA);
    const offset = (flags >>> 0) + data.length * TWO_POW_32;
    return this.#settleOnBlock(block, use, () => this.scheduler.enqueueFile(OP_WRITEFILE, AT_FDCWD, offset, block, options), true);
  }

  async open(path: unknown, flags?: unknown, mode?: unknown): Promise<number> {
    const checked = must(toPath("path", path));
    const parsedFlags = must(parseFlags(flags, "r"));
    const parsedMode = must(parseMode(mode, 0o666));
    this.ready();
    const fd = await this.openRaw(checked, parsedFlags, parsedMode, NO_OPTIONS);
    if (fd < 0) throw pathError(fd, "open", checked.shown);
    return fd;
  }

  /** Waits for this context's operations on fd, then close(2): the number is never reused under them. */
  async closeFd(fd: unknown): Promise<void> {
    must(checkFd(fd) ?? true);
    this.ready();
    const result = await this.closeRaw(fd as number);
    if (result < 0) throw systemError(result, "close");
  }

  /**
   * A File's close: waits for its operations, then gives fd back, unless it is no
   * longer a File's (this context's close() gave it back, or a closeFd of the number
   * did): then the number may already belong to someone else.
   */
  async closeFile(fd: number): Promise<void> {
    const result = await this.closeRaw(fd, true);
    if (result < 0) throw systemError(result, "close");
  }

  /** close(2) once this context's operations on fd are done; with `onlyFiles`, 0 without closing when fd is no File's. */
  async closeRaw(fd: number, onlyFiles = false): Promise<number> {
    await this.scheduler.drained(fd);
    // Before the CLOSE: its number may come back for another file.
    if (!this.scheduler.filesFds.delete(fd) && onlyFiles) return 0;
    return this.scheduler.enqueueFile(OP_CLOSE, fd, 0, null, NO_OPTIONS);
  }

  /**
   * A read into caio's own view of the caller's memory, checked by the caller (File.readInto):
   * the bytes read or -errno, straight from the scheduler, with no layer of its own.
   */
  readInto(fd: number, position: number, own: OwnView): Promise<number> {
    this.ready();
    return this.scheduler.enqueue(OP_READ, fd, position, own, NO_OPTIONS);
  }

  /** fd, just opened by caio, now belongs to a File: only closeRaw gives it back (see Descriptors.ofFiles). */
  adopt(fd: number): void {
    this.scheduler.filesFds.add(fd);
  }

  /** statx(2) of a path or a descriptor, decoded as node:fs's Stats (BigIntStats with { bigint: true }). */
  async stat(target: unknown, options?: unknown): Promise<FileStats | BigFileStats> {
    const { bigint } = optionsObject(options);
    const big = booleanOption("bigint", bigint);
    const isFd = typeof target === "number";
    const path = isFd ? undefined : must(toPath("path", target));
    if (isFd) must(checkFd(target) ?? true);
    this.ready();
    let stats: FileStats | BigFileStats | undefined;
    const result = await this.statRaw(path ?? (target as number), NO_OPTIONS, (block) => (stats = decodeStats(block, big)));
    if (result < 0) throw path ? pathError(result, "stat", path.shown) : systemError(result, "fstat");
    return stats!;
  }

  /**
   * statx of a path, or of fd with AT_EMPTY_PATH, asking for `mask` (default: what
   * node:fs reports); `use` reads the struct statx before the block is freed.
   */
  statRaw(target: FilePath | number, options: ParsedOptions, use: (block: Buffer) => void, mask = STATX_MASK): Promise<number> {
    if (typeof target !== "number") {
      return this.#onBlock(OP_STATX, this.#block("stat", STATX_SIZE, target), mask * TWO_POW_32, options, use);
    }
    const block = this.#block("fstat", STATX_SIZE, { bytes: Buffer.alloc(0), shown: "" });
    const offset = AT_EMPTY_PATH + mask * TWO_POW_32;
    return this.#settleOnBlock(block, use, () => this.scheduler.enqueueFile(OP_STATX, target, offset, block, options));
  }

  async truncate(fd: unknown, length: unknown = 0): Promise<void> {
    must(checkFd(fd) ?? checkOffset(length) ?? true);
    this.ready();
    const result = await this.scheduler.enqueueFile(OP_FTRUNCATE, fd as number, Number(length), null, NO_OPTIONS);
    if (result < 0) throw systemError(result, "ftruncate");
  }

  async allocate(fd: unknown, offset: unknown, length: unknown, options?: unknown): Promise<void> {
    const { keepSize } = optionsObject(options);
    const keep = booleanOption("keepSize", keepSize);
    must(checkFd(fd) ?? checkOffset(offset) ?? checkLength(length) ?? true);
    this.ready();
    const mode = keep ? FALLOC_FL_KEEP_SIZE : 0;
    const result = await this.scheduler.enqueueFile(OP_FALLOCATE, fd as number, Number(offset), null, NO_OPTIONS, Number(length), mode);
    if (result < 0) throw systemError(result, "fallocate");
  }

  async unlink(path: unknown): Promise<void> {
    const checked = must(toPath("path", path));
    this.ready();
    const result = await this.#onBlock(OP_UNLINKAT, this.#block("unlink", 0, checked), 0, NO_OPTIONS);
    if (result < 0) throw pathError(result, "unlink", checked.shown);
  }

  /** rmdir(2), for mkdir's tests and callers that need it beside unlink. */
  async rmdirRaw(path: FilePath): Promise<number> {
    return this.#onBlock(OP_UNLINKAT, this.#block("rmdir", 0, path), AT_REMOVEDIR, NO_OPTIONS);
  }

  async rename(from: unknown, to: unknown): Promise<void> {
    const old = must(toPath("oldPath", from));
    const renamed = must(toPath("newPath", to));
    this.ready();
    const block = this.#block("rename", 0, old, renamed);
    const result = await this.#onBlock(OP_RENAMEAT, block, old.bytes.length + 1, NO_OPTIONS);
    if (result < 0) throw pathError(result, "rename", old.shown, renamed.shown);
  }

  async mkdir(path: unknown, options?: unknown): Promise<string | undefined> {
    const checked = must(toPath("path", path));
    const settings = typeof options === "number" || typeof options === "string" ? { mode: options } : optionsObject(options);
    const { mode, recursive } = settings;
    const parsedMode = must(parseMode(mode, 0o777));
    const deep = booleanOption("recursive", recursive);
    this.ready();
    if (!deep) {
      const result = await this.#mkdirRaw(checked.bytes, parsedMode);
      if (result < 0) throw pathError(result, "mkdir", checked.shown);
      return undefined;
    }
    return this.#mkdirRecursive(checked, parsedMode);
  }

  #mkdirRaw(bytes: Buffer, mode: number): Promise<number> {
    return this.#onBlock(OP_MKDIRAT, this.#block("mkdir", 0, { bytes, shown: "" }), mode, NO_OPTIONS);
  }

  /** mkdir -p as node:fs does it: the first directory created, or undefined if none was. */
  async #mkdirRecursive(path: FilePath, mode: number): Promise<string | undefined> {
    const target = trimSlashes(path.bytes);
    /** Directories still to create, deepest first. */
    const pending: Buffer[] = [];
    let first: Buffer | undefined;
    for (let at = target; ; at = parentOf(at)) {
      const result = at.length === 0 ? EEXIST : await this.#mkdirRaw(at, mode);
      if (result === 0) {
        first = at;
        break;
      }
      if (result === ENOENT) {
        pending.push(at);
        continue;
      }
      if (result !== EEXIST) throw pathError(result, "mkdir", path.shown);
      if (at.length > 0 && !(await this.#isDirectory(at))) throw pathError(at === target ? EEXIST : ENOTDIR, "mkdir", path.shown);
      break;
    }
    for (let i = pending.length - 1; i >= 0; i--) {
      const result = await this.#mkdirRaw(pending[i]!, mode);
      if (result === 0) first ??= pending[i];
      else if (result !== EEXIST) throw pathError(result, "mkdir", path.shown);
    }
    return first?.toString("utf8");
  }

  async #isDirectory(bytes: Buffer): Promise<boolean> {
    let mode = 0;
    const result = await this.statRaw({ bytes, shown: "" }, NO_OPTIONS, (block) => (mode = block.readUInt16LE(28)));
    return result >= 0 && (mode & 0o170000) === 0o040000;
  }
}

function checkLength(value: unknown): CodedError | undefined {
  return checkOffset(value);
}

function trimSlashes(bytes: Buffer): Buffer {
  let end = bytes.length;
  while (end > 1 && bytes[end - 1] === 0x2f) end--;
  return end === bytes.length ? bytes : bytes.subarray(0, end);
}

function parentOf(bytes: Buffer): Buffer {
  const slash = bytes.lastIndexOf(0x2f);
  return slash <= 0 ? Buffer.alloc(0) : bytes.subarray(0, slash);
}

export { parseOptions };
