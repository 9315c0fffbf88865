/** The scheduler's public shapes: its counters (Context.stats) and the opcodes each enqueue takes. */
import type { OP_FDSYNC, OP_FSYNC, OP_READ, OP_READV, OP_WRITE, OP_WRITEV } from "../backends/backend.ts";

export interface Stats {
  /** Operations handed to the kernel (or the pool) so far. */
  submitted: number;
  /** Operations whose completion has been reaped. */
  completed: number;
  /** Operations the kernel still owns, aborted ones included. */
  inFlight: number;
  /** Operations waiting for a slot, for this tick's flush, or (opens) for a descriptor to come back. */
  queued: number;
  /** Submitting syscalls made (io_submit / io_uring_enter / pool hand-offs). */
  submitCalls: number;
  /**
   * Operations whose bytes went through caio's own memory (a copy) because the
   * caller's buffer was not caio's native memory: views on ArrayBuffers and, when the
   * native library is loaded, on SharedArrayBuffers too. allocAligned() buffers and
   * read()'s results never are.
   */
  bounced: number;
}

export type Opcode = typeof OP_READ | typeof OP_WRITE | typeof OP_FSYNC | typeof OP_FDSYNC;
/** File operations (backend.ts OP_OPENAT … OP_WRITEFILE). */
export type FileOpcode = 6 | 7 | 8 | 9 | 10 | 11 | 12 | 13 | 14 | 15;
export type VectorOpcode = typeof OP_READV | typeof OP_WRITEV;
