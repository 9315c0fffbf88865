/**
 * The kinds of operation, one table entry per opcode: the scheduler core keeps the
 * queue, slots, batching, aborts and the context's lifetime, and asks an op's kind
 * everything that depends on what the op is:
 *
 * - `claim(op)`: pin the memory the kernel uses (a buffer, a bounce region, an iovec
 *   array, a NUL-terminated path, a struct statx to fill) until the op is reaped;
 * - `encode(op, stage, index, empty)`: write its struct caio_op record;
 * - `complete(op, result, busy)`: the outcome of a completion whose promise still
 *   waits (copy a bounced read back; RETRY puts an open that hit the descriptor
 *   limit back to wait while `busy`, i.e. while other operations are in flight);
 * - `abandon(op, result)`: undo what an aborted op did anyway, as a follow-up op
 *   (an open that succeeded after its promise was rejected must close its fd).
 *
 * A new kind of operation is a new entry here, not a branch in the scheduler.
 */
import {
  OP_CLOSE,
  OP_FALLOCATE,
  OP_FDSYNC,
  OP_FSYNC,
  OP_FTRUNCATE,
  OP_MKDIRAT,
  OP_OPENAT,
  OP_READ,
  OP_READFILE,
  OP_READV,
  OP_RENAMEAT,
  OP_STATX,
  OP_UNLINKAT,
  OP_WRITE,
  OP_WRITEFILE,
  OP_WRITEV,
  STAGE_BUF_HI,
  STAGE_BUF_LO,
  STAGE_LEN,
  STAGE_WORDS,
} from "../backends/backend.ts";
import { invalidState } from "../errors.ts";
import { copyOut } from "../readbuffers.ts";
import { claimFresh, claimMemory, copyBack, encodeStaged, type Claim } from "./memory.ts";
import { Operation } from "./operation.ts";

const EMFILE = -24;
const ENFILE = -23;
const TWO_POW_32 = 4294967296;

/** complete()'s answer for an op that must wait and be submitted again (see Scheduler's descriptor waiters). */
export const RETRY = "retry";

export interface OpKind {
  claim(op: Operation): Claim;
  encode(op: Operation, stage: Uint32Array, index: number, empty: number): void;
  complete(op: Operation, result: number, busy: boolean): number | Buffer | Error | typeof RETRY;
  /** A follow-up operation undoing what an aborted op did anyway, or null. */
  abandon(op: Operation, result: number): Operation | null;
  /** A successful completion gives a descriptor back: an open waiting for one may retry. */
  readonly freesFd: boolean;
  /** The op uses `op.fd` as an open descriptor (closeFd waits for it); otherwise fd is a directory or unused. */
  readonly usesFd: boolean;
}

function noFollowUp(): null {
  return null;
}

/** Reads, writes, syncs and the path operations: memory as scheduler/memory.ts claims it, results as they come. */
const plain: OpKind = {
  claim: claimMemory,
  encode: encodeStaged,
  complete: (_op, result) => result,
  abandon: noFollowUp,
  freesFd: false,
  usesFd: true,
};

/** Operations that fill caller-visible memory: a bounced read's bytes are copied back at completion. */
const reading: OpKind = {
  ...plain,
  complete(op, result) {
    if (result > 0 && op.block !== null && !copyBack(op, result)) {
      return invalidState(`The buffer was detached while the read was in flight; the ${result} bytes read were discarded`);
    }
    return result;
  },
};

/**
 * A read whose result is made at its completion (read(), Scheduler.enqueueRead): the
 * kernel fills a bounce region, and a successful one settles with a new Buffer of
 * exactly the bytes read.
 */
const freshReading: OpKind = {
  ...plain,
  claim: claimFresh,
  complete: (op, result) => (result >= 0 ? copyOut(op.io, result) : result),
};

/** Path operations: `fd` is the directory the path is relative to (AT_FDCWD), not a descriptor in use. */
const pathOp: OpKind = { ...plain, usesFd: false };

/** statx: on a descriptor (AT_EMPTY_PATH, fd >= 0) it uses fd like a read; on a path, like pathOp. */
const statx: OpKind = { ...plain, usesFd: true };

const opening: OpKind = {
  ...pathOp,
  complete(op, result, busy) {
    if (result !== EMFILE && result !== ENFILE) return result;
    // graceful-fs's rule: while caio has other work in flight a descriptor will come back, so wait for it.
    if (busy || !op.lastTry) {
      op.lastTry = false;
      return RETRY;
    }
    return result;
  },
  abandon(op, result) {
    return result >= 0 ? closeOf(result, op.priority) : null;
  },
};

const closing: OpKind = { ...plain, freesFd: true, usesFd: false };

/**
 * A whole small file read or written in one op (open, read or write, close): it waits for a descriptor as
 * an open does, gives it back when it completes, and leaves nothing open to undo.
 */
const wholeFile: OpKind = { ...pathOp, complete: opening.complete, freesFd: true };

/** fallocate's length travels in the record's buf field (not an address), its mode in len. */
const allocating: OpKind = {
  ...plain,
  encode(op, stage, index, empty) {
    encodeStaged(op, stage, index, empty);
    const base = index * STAGE_WORDS;
    stage[base + STAGE_BUF_LO] = op.arg >>> 0;
    stage[base + STAGE_BUF_HI] = (op.arg / TWO_POW_32) >>> 0;
    stage[base + STAGE_LEN] = op.mode;
  },
};

const KINDS: OpKind[] = [];
KINDS[OP_READ] = reading;
KINDS[OP_WRITE] = plain;
KINDS[OP_FSYNC] = plain;
KINDS[OP_FDSYNC] = plain;
KINDS[OP_READV] = reading;
KINDS[OP_WRITEV] = plain;
KINDS[OP_OPENAT] = opening;
KINDS[OP_CLOSE] = closing;
KINDS[OP_STATX] = statx;
KINDS[OP_FTRUNCATE] = plain;
KINDS[OP_FALLOCATE] = allocating;
KINDS[OP_UNLINKAT] = pathOp;
KINDS[OP_RENAMEAT] = pathOp;
KINDS[OP_MKDIRAT] = pathOp;
KINDS[OP_READFILE] = wholeFile;
KINDS[OP_WRITEFILE] = wholeFile;

export function kindOf(op: Operation): OpKind {
  return op.fresh ? freshReading : KINDS[op.opcode]!;
}

/** An internal close(2) nobody awaits (its promise settles unobserved). */
export function closeOf(fd: number, priority: number): Operation {
  return new Operation(OP_CLOSE, fd, 0, null, 0, priority, undefined);
}
