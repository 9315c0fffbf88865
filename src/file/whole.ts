/**
 * Whole-file reads and writes over a Context's file operations. readFile first asks
 * for the whole file in one operation (OP_READFILE: open, read, a 1-byte read that
 * must find the end, close — one linked chain on uring, one pool task elsewhere),
 * which is all a file of up to about 64 KiB needs. A larger one (or an endless one,
 * /dev/zero) is read in steps: open, stat its path in the same batch, read the stat's
 * size plus one byte into caio's native memory (one read tells both the contents and
 * that the end was reached), follow with reads until EOF when the file is larger
 * than the stat said or its size means nothing (/proc, FIFOs), and close it
 * whatever happened.
 * writeFile opens, writes everything (short writes continue where they stopped),
 * fdatasyncs if asked, and closes.
 */
import { constants } from "node:fs";
import { OP_FDSYNC, OP_FTRUNCATE, OP_READ, OP_WRITE, READFILE_DATA, READFILE_STEPS } from "../backends/backend.ts";
import { dropNative, ENOMEM } from "../bounce.ts";
import { errorWithCode, invalidArgType, invalidArgValue, pathError, systemError } from "../errors.ts";
import { allocReadBuffer, readBufferView, readResult } from "../readbuffers.ts";
import { parseOptions, toWritableBytes, type ParsedOptions } from "../validate.ts";
import { freshOwnView, type OwnView } from "../views.ts";
import { parseFlags, parseMode } from "./flags.ts";
import { FileOps, must } from "./ops.ts";
import { toPath, type FilePath } from "./paths.ts";

const MAX_FILE = 2 ** 31 - 1;
/** Reads past the stat's size (or for files whose size means nothing) ask for this much, doubling to 1 MiB. */
const FIRST_CHUNK = 64 * 1024;
const LAST_CHUNK = 1024 * 1024;
const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const EIO = -5;
const EINVAL = -22;
const EFBIG = -27;
const STEP_SYSCALLS = ["open", "read", "read", "close"] as const;

export interface ReadFileOptions {
  /** Decode to a string with this encoding; a Buffer otherwise. */
  encoding?: BufferEncoding | null;
  /** Default "r". */
  flag?: string | number;
  signal?: AbortSignal;
}

export interface WriteFileOptions {
  /** For string data; default "utf8". */
  encoding?: BufferEncoding | null;
  /** Default "w" ("a" for appendFile). */
  flag?: string | number;
  /** Default 0o666 (the umask applies). */
  mode?: number | string;
  /** fdatasync(2) before closing. */
  sync?: boolean;
  signal?: AbortSignal;
}

function checkEncoding(encoding: unknown): BufferEncoding | undefined {
  if (encoding === undefined || encoding === null || encoding === "buffer") return undefined;
  if (typeof encoding !== "string" || !Buffer.isEncoding(encoding)) return fail(invalidArgValue("encoding", encoding, "is invalid encoding"));
  return encoding;
}

function fail(error: Error): never {
  throw error;
}

/** Options read once: a string is the encoding, as node:fs takes it. */
function readOptions(options: unknown): Record<string, unknown> {
  if (options === undefined || options === null) return {};
  if (typeof options === "string") return { encoding: options };
  if (typeof options !== "object") throw invalidArgType("options", "of type string or object", options);
  const { encoding, flag, mode, sync, signal } = options as Record<string, unknown>;
  return { encoding, flag, mode, sync, signal };
}

function signalOnly(signal: unknown): ParsedOptions {
  return must(parseOptions(signal === undefined ? undefined : { signal }));
}

function fileTooLarge(size: number): RangeError {
  return errorWithCode(new RangeError(`File size (${size}) is greater than 2 GiB`), "ERR_FS_FILE_TOO_LARGE");
}

export async function readFile(files: FileOps, path: unknown, options?: unknown): Promise<Buffer | string> {
  const checked = must(toPath("path", path));
  const { encoding: rawEncoding, flag, signal } = readOptions(options);
  const encoding = checkEncoding(rawEncoding);
  const flags = must(parseFlags(flag, "r", "flag"));
  const parsed = signalOnly(signal);
  return files.steps(async () => {
    const whole = await readWhole(files, checked, flags, encoding, parsed);
    return whole ?? readInSteps(files, checked, flags, encoding, parsed);
  });
}

/** The file by OP_READFILE, decoded if asked; undefined when it holds more than one block (read it in steps). */
async function readWhole(
  files: FileOps,
  path: FilePath,
  flags: number,
  encoding: BufferEncoding | undefined,
  options: ParsedOptions,
): Promise<Buffer | string | undefined> {
  let contents: Buffer | string | undefined;
  let failure: Error | undefined;
  await files.readWholeRaw(path, flags, options, (block, result) => {
    if (result >= 0) contents = decodeWhole(block.subarray(READFILE_DATA, READFILE_DATA + result), encoding);
    else if (result !== EFBIG || block.readInt32LE(8) <= 0) failure = wholeFileError(block, result, path, STEP_SYSCALLS);
  });
  if (failure) throw failure;
  return contents;
}

/** The data as a string, or copied into a Buffer of its own (the block goes back to the pool). */
function decodeWhole(data: Buffer, encoding: BufferEncoding | undefined): Buffer | string {
  if (encoding) return data.toString(encoding);
  // Its own ArrayBuffer, as node:fs's readFile gives: a shared slab measured ~20% faster,
  // but one caller transferring its result's .buffer would detach other callers' results.
  const own = Buffer.allocUnsafeSlow(data.length);
  own.set(data);
  return own;
}

/**
 * The error of a whole-file op's first failed step (open's with the path), passing over
 * failures `harmless` excuses; when no step failed at all (the op was refused before
 * its open), its own result as an open error. undefined when only excused steps failed.
 */
function wholeFileError(
  block: Buffer,
  result: number,
  path: FilePath,
  syscalls: readonly string[],
  harmless: (step: number, stepResult: number) => boolean = () => false,
): Error | undefined {
  let stepFailed = false;
  for (let step = 0; step < syscalls.length; step++) {
    const stepResult = block.readInt32LE(step * 4);
    if (stepResult >= 0) continue;
    stepFailed = true;
    if (harmless(step, stepResult)) continue;
    return step === 0 ? pathError(stepResult, "open", path.shown) : systemError(stepResult, syscalls[step]!);
  }
  return stepFailed ? undefined : pathError(result, "open", path.shown);
}

/** readFile of a file larger than one block: open with stat, reads until EOF, close (see the top of this file). */
async function readInSteps(
  files: FileOps,
  checked: FilePath,
  flags: number,
  encoding: BufferEncoding | undefined,
  parsed: ParsedOptions,
): Promise<Buffer | string> {
  // The size is only a hint (the file is read to EOF anyway), so its stat goes out with the open.
  let size = -1;
  const sizing = files
    .statRaw(checked, parsed, (block) => {
      if ((block.readUInt16LE(28) & S_IFMT) === S_IFREG) size = Number(block.readBigUInt64LE(40));
    })
    .catch(() => -1);
  const fd = await files.openRaw(checked, flags, 0o666, parsed);
  if (fd < 0) throw pathError(fd, "open", checked.shown);
  let bytes: Buffer;
  try {
    await sizing;
    bytes = await readAll(files, fd, size, parsed);
  } catch (error) {
    await files.closeRaw(fd);
    throw error;
  }
  const closed = await files.closeRaw(fd);
  if (closed < 0) {
    dropNative(bytes);
    throw systemError(closed, "close");
  }
  if (!encoding) return bytes;
  const text = bytes.toString(encoding);
  dropNative(bytes);
  return text;
}

/** Reads fd from offset 0 to EOF; `size` is the stat's size of a regular file, -1 when unknown. */
async function readAll(files: FileOps, fd: number, size: number, options: ParsedOptions): Promise<Buffer> {
  if (size > MAX_FILE) throw fileTooLarge(size);
  const chunks: Buffer[] = [];
  let total = 0;
  if (size > 0) {
    const first = await readAt(files, fd, size + 1, 0, options);
    // Exactly the size: the end. Fewer (the file shrank, or a FUSE or network file system
    // answered short) goes on reading until a read finds the end.
    if (first.length === size) return first;
    chunks.push(first);
    total = first.length;
  }
  for (let chunk = FIRST_CHUNK; ; chunk = Math.min(chunk * 2, LAST_CHUNK)) {
    const got = await readAt(files, fd, chunk, total, options);
    if (got.length === 0) break;
    chunks.push(got);
    total += got.length;
    if (total > MAX_FILE) throw fileTooLarge(total);
  }
  if (chunks.length === 1) return chunks[0]!;
  const whole = Buffer.concat(chunks, total);
  for (const chunk of chunks) dropNative(chunk);
  return whole;
}

/** One read into caio's native memory; the Buffer holds exactly the bytes read (see readResult). */
async function readAt(files: FileOps, fd: number, length: number, position: number, options: ParsedOptions): Promise<Buffer> {
  const buffer = allocReadBuffer(length);
  if (buffer === ENOMEM) throw systemError(ENOMEM, "read");
  let result: number;
  try {
    result = await files.scheduler.enqueue(OP_READ, fd, position, readBufferView(buffer), options, true);
  } catch (error) {
    dropNative(buffer);
    throw error;
  }
  if (result < 0) {
    dropNative(buffer);
    throw systemError(result, "read");
  }
  return readResult(buffer, result);
}

export async function writeFile(files: FileOps, path: unknown, data: unknown, options: unknown, append: boolean): Promise<void> {
  const checked = must(toPath("path", path));
  const { encoding: rawEncoding, flag, mode, sync, signal } = readOptions(options);
  const encoding = checkEncoding(rawEncoding) ?? "utf8";
  if (typeof data !== "string" && !ArrayBuffer.isView(data) && !(data instanceof ArrayBuffer) && !(data instanceof SharedArrayBuffer)) {
    throw invalidArgType("data", "of type string or an instance of Buffer, TypedArray, DataView or ArrayBuffer", data);
  }
  const bytes: OwnView =
    typeof data === "string" ? freshOwnView(Buffer.from(data, encoding)) : must(toWritableBytes(data) as OwnView | Error);
  const flags = must(parseFlags(flag, append ? "a" : "w", "flag"));
  const parsedMode = must(parseMode(mode, 0o666));
  if (sync !== undefined && typeof sync !== "boolean") throw invalidArgType("options.sync", "of type boolean", sync);
  const parsed = signalOnly(signal);
  return files.steps(async () => {
    // ext4 writes a file truncated to zero and rewritten back to disk inside close(2)
    // (auto_da_alloc): with O_TRUNC, writeFile ran ~10x slower than Bun's. So, as Bun does,
    // the file is opened without it, written, then cut to the bytes written.
    const cutAfter = (flags & constants.O_TRUNC) !== 0 && (flags & constants.O_APPEND) === 0;
    const openFlags = cutAfter ? flags & ~constants.O_TRUNC : flags;
    if (FileOps.fitsWhole(bytes.bytes.length, checked)) {
      const how = { cut: cutAfter, sync: sync === true };
      if (await writeWhole(files, checked, openFlags, parsedMode, how, bytes.bytes, parsed)) return;
    }
    const fd = await files.openRaw(checked, openFlags, parsedMode, parsed);
    if (fd < 0) throw pathError(fd, "open", checked.shown);
    try {
      await writeAll(files, fd, bytes, typeof data === "string", parsed);
      if (cutAfter) await cutAt(files, fd, bytes.bytes.length, parsed);
      if (sync) {
        const synced = await files.scheduler.enqueue(OP_FDSYNC, fd, 0, null, parsed);
        if (synced < 0) throw systemError(synced, "fdatasync");
      }
    } catch (error) {
      await files.closeRaw(fd);
      throw error;
    }
    const closed = await files.closeRaw(fd);
    if (closed < 0) throw systemError(closed, "close");
  });
}

const WRITE_STEP_SYSCALLS = ["open", "write", "ftruncate", "fdatasync", "close"] as const;
const CUT_STEP = 2;
/** ftruncate's EINVAL: a FIFO, a character device, nothing to cut (as in cutAt). */
const cutNotApplicable = (step: number, stepResult: number) => step === CUT_STEP && stepResult === EINVAL;

/**
 * writeFile of small data in one operation (OP_WRITEFILE). True when it is done; false
 * after a short write (a full disk, a signal): the caller then writes it all again in
 * steps. A failed step throws its error; ftruncate's EINVAL (a FIFO, a character
 * device: nothing to cut) is no error, as in cutAt.
 */
async function writeWhole(
  files: FileOps,
  path: FilePath,
  flags: number,
  mode: number,
  how: { cut: boolean; sync: boolean },
  data: Uint8Array,
  options: ParsedOptions,
): Promise<boolean> {
  let failure: Error | undefined;
  let written = 0;
  await files.writeWholeRaw(path, flags, mode, how, data, options, (block, result) => {
    written = block.readInt32LE(4);
    if (result < 0) failure = wholeFileError(block, result, path, WRITE_STEP_SYSCALLS, cutNotApplicable);
  });
  if (failure) throw failure;
  return written === data.length;
}

/** ftruncate(fd, length); EINVAL (a FIFO, a character device: nothing to cut) is no error. */
async function cutAt(files: FileOps, fd: number, length: number, options: ParsedOptions): Promise<void> {
  const result = await files.scheduler.enqueueFile(OP_FTRUNCATE, fd, length, null, options);
  if (result < 0 && result !== EINVAL) throw systemError(result, "ftruncate");
}

/** Writes every byte from offset 0 (O_APPEND files append whatever the offset); a short write continues where it stopped. */
async function writeAll(files: FileOps, fd: number, own: OwnView, isPrivate: boolean, options: ParsedOptions): Promise<void> {
  const length = own.bytes.length;
  let view = own;
  for (let done = 0; done < length; ) {
    const result = await files.scheduler.enqueue(OP_WRITE, fd, done, view, options, isPrivate);
    if (result < 0) throw systemError(result, "write");
    if (result === 0) throw systemError(EIO, "write", "the kernel wrote nothing");
    done += result;
    if (done < length) view = freshOwnView(own.bytes.subarray(done));
  }
}
