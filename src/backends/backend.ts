/**
 * The interface every backend gives the scheduler, and the shared memory layout
 * of staged operations and completions (mirrors struct caio_op / caio_done in c/common.h).
 */
export type BackendName = "uring" | "linux" | "thread" | "js";

/** u32 words per staged operation (32 bytes). */
export const STAGE_WORDS = 8;
export const STAGE_BUF_LO = 0;
export const STAGE_BUF_HI = 1;
export const STAGE_OFFSET_LO = 2;
export const STAGE_OFFSET_HI = 3;
export const STAGE_LEN = 4;
export const STAGE_FD = 5;
export const STAGE_USER_DATA = 6;
/** opcode in the low 16 bits, ioprio in the high 16 bits */
export const STAGE_OPCODE_PRIO = 7;

/** i32 words per completion (8 bytes): user_data, res. */
export const DONE_WORDS = 2;

export const OP_READ = 0;
export const OP_WRITE = 1;
export const OP_FSYNC = 2;
export const OP_FDSYNC = 3;
/** Vectored: buf is a struct iovec array, len its element count. */
export const OP_READV = 4;
export const OP_WRITEV = 5;
/**
 * File operations; the record encoding of each is in c/common.h (enum caio_opcode).
 * Paths are NUL-terminated bytes in caio's native memory, held like a buffer.
 */
export const OP_OPENAT = 6;
export const OP_CLOSE = 7;
export const OP_STATX = 8;
export const OP_FTRUNCATE = 9;
export const OP_FALLOCATE = 10;
export const OP_UNLINKAT = 11;
export const OP_RENAMEAT = 12;
export const OP_MKDIRAT = 13;
/**
 * A whole small file in one op (open, read, a confirming 1-byte read, close): its
 * memory is the four steps' int32 results, 16 bytes of scratch, the data, the path.
 */
export const OP_READFILE = 14;
/**
 * A whole small file written in one op (open, write, ftruncate and fdatasync if asked,
 * close): its memory is the five steps' int32 results, the mode and options words, the
 * data from READFILE_DATA, the path.
 */
export const OP_WRITEFILE = 15;
export const WRITEFILE_STEPS = 5;
export const WRITEFILE_MODE = 20;
export const WRITEFILE_OPTIONS = 24;
export const WRITEFILE_CUT = 1;
export const WRITEFILE_DATASYNC = 2;
/** Layout of an OP_READFILE block: the steps' results, the scratch byte, the data. */
export const READFILE_STEPS = 4;
export const READFILE_SCRATCH = 16;
export const READFILE_DATA = 32;

/** What an op reads into or writes from: one of caio's own views, or a readv/writev list of them. */
export type StagedBuffers = Uint8Array | readonly Uint8Array[];

export interface Backend {
  readonly name: BackendName;
  /** Operations the backend accepts in flight; slot indexes are 0 .. capacity-1. */
  readonly capacity: number;
  /** Staged operations, STAGE_WORDS per op, read by submit(). */
  readonly stage: Uint32Array;
  /** Completions written by reap(), DONE_WORDS per completion. */
  readonly done: Int32Array;
  /** Set by the scheduler; the backend calls it on this thread when reap() may have something. */
  onReady?: (() => void) | undefined;
  /** Completions are expected: keep the process alive until release(). */
  hold(): void;
  /** Nothing is in flight any more: the process may exit. */
  release(): void;
  /**
   * Present on backends that need the buffers themselves rather than their
   * addresses (js): the scheduler stores each op's buffers at views[slot] when staging.
   */
  readonly views?: (StagedBuffers | null)[];
  /**
   * Submits stage[0 .. count); returns how many were consumed from the front, or
   * -errno. A submit that throws must have consumed nothing.
   */
  submit(count: number): number;
  /** Copies ready completions into `done` without blocking; returns the count. */
  reap(): number;
  /**
   * Best effort: asks the kernel to cancel the in-flight ops in slots[0 .. count), in
   * one call. Returns how many were taken from the front (the rest may be offered
   * again later), or -errno. Each op's completion still arrives via reap().
   */
  cancel(slots: Uint32Array, count: number): number;
  /** Submitting syscalls made so far. */
  submitCalls(): number;
  /** Backend-specific bits fixed at open, for diagnostics (io_uring: accepted IORING_SETUP_* flags). */
  features(): number;
  /** Frees the kernel context; call only when nothing is in flight. */
  close(): void;
}
