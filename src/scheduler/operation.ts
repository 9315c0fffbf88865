/** One queued or in-flight operation: what the scheduler owns for it until its completion is reaped. */
import type { BounceBlock } from "../bounce.ts";
import type { AbortSignalLike } from "../validate.ts";
import type { OwnView } from "../views.ts";

export const QUEUED = 0;
export const IN_FLIGHT = 1;
export const SETTLED = 2;
/** Its promise was rejected (aborted); the slot still holds the memory until the kernel is done. */
export const ABANDONED = 3;

export class Operation {
  slot = -1;
  state = QUEUED;
  /**
   * Settle the op's promise (a Buffer only for a fresh read, Scheduler.enqueueRead).
   * Always called as methods of the op (`op.resolve(result)`), so one shared function
   * can serve many ops and find its op as `this` (readMany).
   */
  resolve!: (value: number | Buffer) => void;
  reject!: (reason: unknown) => void;
  /** Vectored ops: caio's own views of the caller's buffers, and the struct iovec array the kernel reads (4 u32 words each). */
  views: Uint8Array[] | null = null;
  /** The views' lengths at the call: a different length later means a view's memory was detached. */
  lengths: number[] | null = null;
  iov: Uint32Array | null = null;
  /** What the kernel reads or fills while in flight: the view itself if pinned, else a bounce region. */
  io: Uint8Array | null = null;
  ioViews: Uint8Array[] | null = null;
  /** Bounce memory this op holds until it is reaped. */
  block: BounceBlock | null = null;
  /** The native block (c/memory.c handle) the kernel uses for this op, held in flight: its memory, bounce block or iovec array; 0 if none. */
  hold = 0;
  /** caio holds `hold` itself (from staging until the op is reaped) rather than the backend. */
  jsHold = false;
  /** What caio knows about `view`'s memory (views.ts), shared by every op on the same caller buffer. */
  known: OwnView | null = null;
  /** Position among the operations watching the same AbortSignal (scheduler/aborts.ts). */
  watchIndex = -1;
  /** A number the record carries besides its memory (fallocate's length, in the buf field). */
  arg = 0;
  /** fallocate's mode, which the record carries in its len field. */
  mode = 0;
  /** Counted among the users of `fd` that closeFd waits for (scheduler/descriptors.ts). */
  tracked = false;
  /** An open retried with nothing else in flight: a descriptor limit now reaches the caller. */
  lastTry = false;
  /**
   * A read whose result memory is made at its completion (read()): the kernel fills a
   * bounce region, and `view` becomes a new Buffer of exactly the bytes read.
   */
  fresh = false;

  constructor(
    readonly opcode: number,
    readonly fd: number,
    readonly offset: number,
    /** caio's own view of the caller's bytes (views.ts); for reads, the kernel's bytes end up there. */
    public view: Uint8Array | null,
    /** Bytes of `view` at the call; for vectored ops, the number of buffers. */
    readonly length: number,
    readonly priority: number,
    readonly signal: AbortSignalLike | undefined,
    /** `view` was allocated by caio and is not visible to anyone else until the op settles. */
    readonly privateView = false,
  ) {}
}

