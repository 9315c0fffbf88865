/**
 * The js backend's file operations: each record (c/common.h) becomes one node:fs
 * call, and statx's output is written in the kernel's struct statx layout, so every
 * backend hands the same bytes to src/file/stats.ts.
 */
import {
  close,
  fstat,
  fdatasync,
  read,
  write,
  ftruncate,
  lstat,
  mkdir,
  open,
  rename,
  rmdir,
  stat,
  unlink,
  type BigIntStats,
} from "node:fs";
import {
  OP_CLOSE,
  OP_FALLOCATE,
  OP_FTRUNCATE,
  OP_OPENAT,
  OP_READFILE,
  OP_RENAMEAT,
  OP_STATX,
  OP_UNLINKAT,
  OP_WRITEFILE,
  READFILE_DATA,
  READFILE_SCRATCH,
  READFILE_STEPS,
  WRITEFILE_CUT,
  WRITEFILE_DATASYNC,
  WRITEFILE_MODE,
  WRITEFILE_OPTIONS,
  WRITEFILE_STEPS,
} from "./backend.ts";

type Done = (error: NodeJS.ErrnoException | null, result?: number) => void;

export const AT_FDCWD = -100;
const AT_REMOVEDIR = 0x200;
const AT_SYMLINK_NOFOLLOW = 0x100;
const AT_EMPTY_PATH = 0x1000;
const FALLOC_FL_KEEP_SIZE = 1;
/** Offset of the path in a STATX block, after the struct statx. */
export const STATX_SIZE = 256;
const STATX_BASIC_STATS = 0x7ff;
const STATX_BTIME = 0x800;
const EINVAL = -22;
const EIO = -5;
const EFBIG = -27;
const ENOENT = -2;
const EOPNOTSUPP = -95;
const TWO_POW_32 = 4294967296;

/** The NUL-terminated path starting at `from` in `block`, as a Buffer (node:fs takes the bytes as they are). */
function pathAt(block: Uint8Array, from: number, dirfd: number): Buffer {
  let end = block.indexOf(0, from);
  if (end < 0) end = block.length;
  const path = Buffer.from(block.buffer, block.byteOffset + from, end - from);
  // caio passes absolute paths; a relative one is relative to dirfd, which node:fs cannot take.
  if (path.length > 0 && path[0] !== 0x2f && dirfd !== AT_FDCWD) return Buffer.concat([Buffer.from(`/proc/self/fd/${dirfd}/`), path]);
  return Buffer.from(path);
}

/** True for the file opcodes this module handles. */
export function isFileOpcode(opcode: number): boolean {
  return opcode >= OP_OPENAT && opcode <= OP_WRITEFILE;
}

/** Starts one file op; `buf` is the record's buf field as a number (fallocate's length). */
export function issueFile(opcode: number, fd: number, block: Uint8Array | null, offset: number, mode: number, buf: number, done: Done): void {
  const low = offset % TWO_POW_32;
  const high = Math.floor(offset / TWO_POW_32);
  const ok = (error: NodeJS.ErrnoException | null) => done(error, 0);
  if (opcode === OP_READFILE) return readWhole(fd, block!, low, high, done);
  if (opcode === OP_WRITEFILE) return writeWhole(fd, block!, low, high, done);
  // The kernel answers ENOENT for an empty path; node:fs would throw EINVAL.
  if (block && opcode !== OP_STATX && block[0] === 0) return done(null, ENOENT);
  if (opcode === OP_RENAMEAT && block![low] === 0) return done(null, ENOENT);
  if (opcode === OP_STATX && block![STATX_SIZE] === 0 && !(low & AT_EMPTY_PATH)) return done(null, ENOENT);
  switch (opcode) {
    case OP_OPENAT:
      open(pathAt(block!, 0, fd), low | 0, high, done);
      return;
    case OP_CLOSE:
      close(fd, ok);
      return;
    case OP_STATX:
      statx(fd, block!, low, done);
      return;
    case OP_FTRUNCATE:
      ftruncate(fd, offset, ok);
      return;
    case OP_FALLOCATE:
      fallocate(fd, mode, offset, buf, done);
      return;
    case OP_UNLINKAT:
      if (offset & AT_REMOVEDIR) rmdir(pathAt(block!, 0, fd), ok);
      else unlink(pathAt(block!, 0, fd), ok);
      return;
    case OP_RENAMEAT:
      if (high !== 0) done(null, EINVAL); // renameat2 flags: node:fs has no way to pass them
      else rename(pathAt(block!, 0, fd), pathAt(block!, low, fd), ok);
      return;
    default:
      mkdir(pathAt(block!, 0, fd), { mode: offset }, ok);
  }
}

/** -errno of a node:fs error (its errno is negative already). */
function errnoOf(error: NodeJS.ErrnoException): number {
  return typeof error.errno === "number" && error.errno < 0 ? error.errno : EIO;
}

/**
 * c/fileops.h's readfile_outcome and writefile_outcome: the first of `count` steps that
 * failed, else (a read, `confirms`) EFBIG when the confirming read found more, else the
 * bytes the second step moved.
 */
function wholeOutcome(steps: DataView, count: number, confirms: boolean): number {
  for (let i = 0; i < count; i++) if (steps.getInt32(i * 4, true) < 0) return steps.getInt32(i * 4, true);
  return confirms && steps.getInt32(8, true) > 0 ? EFBIG : steps.getInt32(4, true);
}

/** OP_READFILE as c/fileops.h's readfile_run does it, step by step through node:fs; the results go into the block. */
function readWhole(dirfd: number, block: Uint8Array, flags: number, cap: number, done: Done): void {
  const steps = new DataView(block.buffer, block.byteOffset, READFILE_STEPS * 4);
  for (let i = 0; i < READFILE_STEPS; i++) steps.setInt32(i * 4, 0, true);
  const path = pathAt(block, READFILE_DATA + cap, dirfd);
  if (path.length === 0) return done(null, ENOENT);
  const step = (index: number, error: NodeJS.ErrnoException | null, value: number) => steps.setInt32(index * 4, error ? errnoOf(error) : value, true);
  open(path, flags, (error, fd) => {
    step(0, error, 0);
    if (error) return done(null, wholeOutcome(steps, READFILE_STEPS, true));
    const closing = () =>
      close(fd, (failed) => {
        step(3, failed, 0);
        done(null, wholeOutcome(steps, READFILE_STEPS, true));
      });
    read(fd, block, READFILE_DATA, cap, null, (failed, bytes) => {
      step(1, failed, bytes);
      if (failed) return closing();
      read(fd, block, READFILE_SCRATCH, 1, null, (confirmFailed, more) => {
        step(2, confirmFailed, more);
        closing();
      });
    });
  });
}

/** OP_WRITEFILE as c/fileops.h's writefile_run does it, step by step through node:fs. */
function writeWhole(dirfd: number, block: Uint8Array, flags: number, length: number, done: Done): void {
  const steps = new DataView(block.buffer, block.byteOffset, READFILE_DATA);
  for (let i = 0; i < WRITEFILE_STEPS; i++) steps.setInt32(i * 4, 0, true);
  const mode = steps.getUint32(WRITEFILE_MODE, true);
  const options = steps.getUint32(WRITEFILE_OPTIONS, true);
  const path = pathAt(block, READFILE_DATA + length, dirfd);
  if (path.length === 0) return done(null, ENOENT);
  const step = (index: number, error: NodeJS.ErrnoException | null, value = 0) => steps.setInt32(index * 4, error ? errnoOf(error) : value, true);
  open(path, flags, mode, (error, fd) => {
    step(0, error);
    if (error) return done(null, wholeOutcome(steps, WRITEFILE_STEPS, false));
    const closing = () =>
      close(fd, (failed) => {
        step(4, failed);
        done(null, wholeOutcome(steps, WRITEFILE_STEPS, false));
      });
    const syncing = () => (options & WRITEFILE_DATASYNC ? fdatasync(fd, (failed) => (step(3, failed), closing())) : closing());
    write(fd, block, READFILE_DATA, length, null, (failed, written) => {
      step(1, failed, written);
      if (options & WRITEFILE_CUT) ftruncate(fd, length, (cutFailed) => (step(2, cutFailed), syncing()));
      else syncing();
    });
  });
}

/** stat, lstat or fstat by the statx flags, written into the block's struct statx. */
function statx(fd: number, block: Uint8Array, flags: number, done: Done): void {
  const fill = (error: NodeJS.ErrnoException | null, stats?: BigIntStats) => {
    if (error) done(error);
    else {
      writeStatx(block, stats!);
      done(null, 0);
    }
  };
  const path = pathAt(block, STATX_SIZE, fd);
  if (path.length === 0 && flags & AT_EMPTY_PATH) fstat(fd, { bigint: true }, fill);
  else if (flags & AT_SYMLINK_NOFOLLOW) lstat(path, { bigint: true }, fill);
  else stat(path, { bigint: true }, fill);
}

/**
 * node:fs has no fallocate: mode 0 extends the file to offset + length (the size
 * posix_fallocate leaves, without reserving blocks), KEEP_SIZE reserves nothing and
 * succeeds, any other mode (punching holes, …) is EOPNOTSUPP.
 */
function fallocate(fd: number, mode: number, offset: number, length: number, done: Done): void {
  if (mode === FALLOC_FL_KEEP_SIZE) return done(null, 0);
  if (mode !== 0) return done(null, EOPNOTSUPP);
  fstat(fd, (error, stats) => {
    if (error) return done(error);
    if (!stats.isFile()) return done(null, stats.isDirectory() ? -21 : -19); // EISDIR, ENODEV as fallocate(2)
    if (stats.size >= offset + length) return done(null, 0);
    ftruncate(fd, offset + length, (failed) => done(failed, 0));
  });
}

/** struct statx (linux/stat.h), little-endian, from node:fs's BigIntStats. */
function writeStatx(block: Uint8Array, s: BigIntStats): void {
  const view = new DataView(block.buffer, block.byteOffset, STATX_SIZE);
  for (let i = 0; i < STATX_SIZE; i += 4) view.setUint32(i, 0, true);
  const birth = s.birthtimeNs !== 0n;
  view.setUint32(0, STATX_BASIC_STATS | (birth ? STATX_BTIME : 0), true);
  view.setUint32(4, Number(s.blksize), true);
  view.setUint32(16, Number(s.nlink), true);
  view.setUint32(20, Number(s.uid), true);
  view.setUint32(24, Number(s.gid), true);
  view.setUint16(28, Number(s.mode), true);
  view.setBigUint64(32, s.ino, true);
  view.setBigUint64(40, s.size, true);
  view.setBigUint64(48, s.blocks, true);
  timestamp(view, 64, s.atimeNs);
  timestamp(view, 80, s.birthtimeNs);
  timestamp(view, 96, s.ctimeNs);
  timestamp(view, 112, s.mtimeNs);
  device(view, 128, s.rdev);
  device(view, 136, s.dev);
}

function timestamp(view: DataView, at: number, ns: bigint): void {
  let seconds = ns / 1_000_000_000n;
  let nanos = ns % 1_000_000_000n;
  if (nanos < 0n) {
    seconds -= 1n;
    nanos += 1_000_000_000n;
  }
  view.setBigInt64(at, seconds, true);
  view.setUint32(at + 8, Number(nanos), true);
}

/** A dev_t (glibc's encoding) as statx's major and minor. */
function device(view: DataView, at: number, dev: bigint): void {
  const major = ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn);
  const minor = (dev & 0xffn) | ((dev >> 12n) & ~0xffn);
  view.setUint32(at, Number(major & 0xffffffffn), true);
  view.setUint32(at + 4, Number(minor & 0xffffffffn), true);
}
