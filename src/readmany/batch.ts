/**
 * One readMany call in flight. Each range is read like ctx.read() reads (caio's read
 * buffers, readbuffers.ts: up to 32 KiB copied out of pooled native memory, above it
 * a native block of its own), but its operation settles into the batch rather than a
 * promise of its own: one promise per call, and the functions that settle the reads
 * are shared, finding their read as `this` (no closure per read). As a range
 * completes, its requests' Buffers are cut from its bytes.
 */
import { OP_READ } from "../backends/backend.ts";
import { dropNative, ENOMEM, MAX_TRANSFER } from "../bounce.ts";
import { systemError } from "../errors.ts";
import { allocReadBuffer, readBufferView, readResult } from "../readbuffers.ts";
import type { Scheduler } from "../scheduler.ts";
import { Operation } from "../scheduler/operation.ts";
import type { ParsedOptions } from "../validate.ts";
import type { ReadPlan } from "./ranges.ts";
import type { ParsedRequests } from "./requests.ts";

/** A read that failed: its -errno, the first request (in request order) it served, and what was sent to the kernel. */
export class RangeFailure {
  constructor(
    readonly errno: number,
    readonly request: number,
    readonly offset: number,
    readonly length: number,
  ) {}
}

export type BatchOutcome = Buffer[] | RangeFailure;

/** A range longer than the kernel moves in one call (MAX_TRANSFER) is read in pieces; they complete in any order. */
class Split {
  readonly got: Float64Array;
  left: number;

  constructor(
    pieces: number,
    readonly pieceSize: number,
  ) {
    this.got = new Float64Array(pieces);
    this.left = pieces;
  }

  /** Books one piece; once all are in, the bytes the range has from its start (up to the first short piece), else -1. */
  add(piece: number, got: number): number {
    this.got[piece] = got;
    if (--this.left > 0) return -1;
    let total = 0;
    for (let i = 0; i < this.got.length; i++) {
      total += this.got[i]!;
      if (this.got[i]! < this.pieceSize) break;
    }
    return total;
  }
}

/** One read of a batch: a range, or a piece of a split one. */
class RangeRead extends Operation {
  constructor(
    readonly batch: ReadBatch,
    readonly range: number,
    /** The whole range's memory (the Operation's view is dropped when the op finishes, before it settles). */
    readonly buffer: Buffer,
    readonly split: Split | null,
    readonly piece: number,
    fd: number,
    offset: number,
    view: Buffer,
    options: ParsedOptions,
  ) {
    super(OP_READ, fd, offset, view, view.length, options.priority, options.signal, true);
    this.resolve = readSettled;
    this.reject = readRejected;
  }
}

/** Shared by every read of every batch: the scheduler calls it as a method of the read. */
function readSettled(this: RangeRead, result: number | Buffer): void {
  this.batch.settled(this, result as number); // a batch's reads have memory of their own: never fresh reads, so always a number
}

function readRejected(this: RangeRead, error: unknown): void {
  this.batch.rejected(error);
}

class ReadBatch {
  readonly results: Buffer[];
  #left: number;
  #done = false;
  resolve!: (outcome: BatchOutcome) => void;
  reject!: (error: unknown) => void;

  constructor(
    readonly requests: ParsedRequests,
    readonly plan: ReadPlan,
  ) {
    this.results = new Array(requests.count);
    this.#left = plan.count;
    if (plan.order.length < requests.count) this.#answerEmptyRequests();
  }

  /** Requests of length 0 need no read. */
  #answerEmptyRequests(): void {
    const { count, lengths } = this.requests;
    for (let i = 0; i < count; i++) if (lengths[i] === 0) this.results[i] = Buffer.alloc(0);
  }

  /** Resolves at once when nothing needs reading. */
  finishIfEmpty(): void {
    if (this.#left === 0) this.#finish(this.results);
  }

  settled(read: RangeRead, result: number): void {
    if (result < 0) {
      this.#failed(read, result);
      return;
    }
    let got = result;
    if (read.split) {
      got = read.split.add(read.piece, result);
      if (got < 0) return;
    }
    if (this.#done) {
      dropNative(read.buffer);
      return;
    }
    this.#serve(read.range, read.buffer, got);
    if (--this.#left === 0) this.#finish(this.results);
  }

  /** Aborted (the batch's signal), or failed inside caio: the batch rejects with the first such error. */
  rejected(error: unknown): void {
    if (this.#done) return;
    this.#done = true;
    this.#dropResults();
    this.reject(error);
  }

  #failed(read: RangeRead, errno: number): void {
    if (this.#done) return;
    this.#finish(new RangeFailure(errno, this.#firstRequest(read.range), read.offset, read.length));
    this.#dropResults();
  }

  #finish(outcome: BatchOutcome): void {
    this.#done = true;
    this.resolve(outcome);
  }

  /** The lowest request index a range serves: the one the caller listed first. */
  #firstRequest(range: number): number {
    const { order, first, members } = this.plan;
    let lowest = order[first[range]!]!;
    for (let k = first[range]! + 1; k < first[range]! + members[range]!; k++) lowest = Math.min(lowest, order[k]!);
    return lowest;
  }

  /**
   * Gives each request of `range` its bytes, `got` bytes having been read from the
   * range's start: those that exist, so a request past the end gets an empty Buffer.
   */
  #serve(range: number, buffer: Buffer, got: number): void {
    const { order, first, members, start } = this.plan;
    const { offsets, lengths } = this.requests;
    const from = first[range]!;
    if (members[range] === 1) {
      this.results[order[from]!] = readResult(buffer, got);
      return;
    }
    for (let k = from; k < from + members[range]!; k++) {
      const request = order[k]!;
      const skip = offsets[request]! - start[range]!;
      this.results[request] = copyOut(buffer, skip, Math.max(0, Math.min(got - skip, lengths[request]!)));
    }
    dropNative(buffer);
  }

  /** A failed batch frees the native blocks of results already cut (read() sizes above 32 KiB) rather than leave them to the GC. */
  #dropResults(): void {
    for (const result of this.results) if (result !== undefined) dropNative(result);
  }
}

/** Exactly `length` bytes of `buffer` from `skip`, in memory of their own: a result never keeps its range alive. */
function copyOut(buffer: Buffer, skip: number, length: number): Buffer {
  if (length === 0) return Buffer.alloc(0);
  const out = Buffer.allocUnsafeSlow(length);
  out.set(buffer.subarray(skip, skip + length));
  return out;
}

/** The reads of `range`: one, or one per `pieceSize` bytes of a longer range. */
function readsOf(batch: ReadBatch, range: number, fd: number, options: ParsedOptions, pieceSize: number, reads: RangeRead[]): void {
  const start = batch.plan.start[range]!;
  const length = batch.plan.length[range]!;
  const buffer = allocReadBuffer(length);
  if (buffer === ENOMEM) throw systemError(ENOMEM, "read");
  if (length <= pieceSize) {
    const read = new RangeRead(batch, range, buffer, null, 0, fd, start, buffer, options);
    read.known = readBufferView(buffer);
    reads.push(read);
    return;
  }
  const pieces = Math.ceil(length / pieceSize);
  const split = new Split(pieces, pieceSize);
  for (let piece = 0; piece < pieces; piece++) {
    const at = piece * pieceSize;
    const view = buffer.subarray(at, Math.min(length, at + pieceSize));
    reads.push(new RangeRead(batch, range, buffer, split, piece, fd, start + at, view, options));
  }
}

/**
 * Queues the reads of `plan` for this tick's flush; resolves with every request's
 * Buffer in request order, or the failure of the first read that failed. Rejects
 * when the signal aborts the batch. Throws ENOMEM (nothing queued) when there is no
 * memory for the reads. `pieceSize` is the kernel's limit but for tests, which cannot
 * afford 2 GiB reads everywhere.
 */
export function readBatch(
  scheduler: Scheduler,
  fd: number,
  requests: ParsedRequests,
  plan: ReadPlan,
  options: ParsedOptions,
  pieceSize = MAX_TRANSFER,
): Promise<BatchOutcome> {
  const batch = new ReadBatch(requests, plan);
  const promise = new Promise<BatchOutcome>((resolve, reject) => {
    batch.resolve = resolve;
    batch.reject = reject;
  });
  const reads: RangeRead[] = [];
  try {
    for (let range = 0; range < plan.count; range++) readsOf(batch, range, fd, options, pieceSize, reads);
  } catch (error) {
    for (const read of reads) if (read.piece === 0) dropNative(read.buffer);
    throw error;
  }
  batch.finishIfEmpty();
  scheduler.enqueueOps(reads);
  return promise;
}
