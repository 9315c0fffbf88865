/**
 * The per-tick scheduler. Operations issued during one tick are queued; one
 * microtask per tick sends the cancels aborts asked for, stages as many operations
 * as there are free slots into the backend's shared array and submits them with one
 * call, then reaps whatever is already complete. Later completions are reaped when
 * the backend calls onReady (its wake socket became readable on Bun's event loop, or
 * node:fs called back for `js`).
 *
 * Ownership rule: an operation sits in its slot, holding the memory the kernel uses,
 * from submission until its completion is reaped, whatever happens to its promise.
 * What an operation is (its memory, its record, how its result is decoded, what an
 * abandoned one leaves to undo) is its kind's business: scheduler/kinds.ts; staging
 * and the one submitting call are scheduler/submit.ts's.
 *
 * A throw while one operation is staged, submitted or settled rejects that operation
 * (ERR_CAIO_INTERNAL, the thrown value as cause) and releases what it held; the rest
 * of the batch goes on, and the context never wedges.
 */
import { ptr } from "bun:ffi";
import type { Backend } from "./backends/backend.ts";
import { internalFailure, type AbortError } from "./errors.ts";
import { AbortWatch, Cancels } from "./scheduler/aborts.ts";
import { Descriptors } from "./scheduler/descriptors.ts";
import { closeOf, kindOf, RETRY } from "./scheduler/kinds.ts";
import { releaseMemory } from "./scheduler/memory.ts";
import { ABANDONED, IN_FLIGHT, QUEUED, SETTLED, type Operation } from "./scheduler/operation.ts";
import { fileOp, freshReadOp, promiseFor, transferOp, vectorOp } from "./scheduler/records.ts";
import { OpQueue, SlotTable } from "./scheduler/slots.ts";
import { Submitter } from "./scheduler/submit.ts";
import { Reaper } from "./scheduler/reap.ts";
import { Lifetime } from "./scheduler/lifetime.ts";
import { turnOverdue } from "./scheduler/turns.ts";
import type { FileOpcode, Opcode, Stats, VectorOpcode } from "./scheduler/types.ts";
import type { ParsedOptions } from "./validate.ts";
import type { OwnView } from "./views.ts";

export type { FileOpcode, Opcode, Stats, VectorOpcode } from "./scheduler/types.ts";

export class Scheduler {
  readonly #backend: Backend;
  readonly #slots: SlotTable;
  readonly #queue = new OpQueue();
  #queued = 0;
  /** A pump is scheduled for the next turn to reap completions left there (#reapNextTurn). */
  #reapScheduled = false;
  #inFlight = 0;
  #submitted = 0;
  #completed = 0;
  #flushScheduled = false;
  #pumping = false;
  /** Non-null address for zero-length operations, which the kernel never dereferences. */
  readonly #submitter: Submitter;
  readonly #emptyBuffer = Buffer.alloc(8);
  readonly #aborts = new AbortWatch((op, error) => this.#abort(op, error));
  readonly #cancels: Cancels;
  readonly #descriptors = new Descriptors(
    (ops) => this.#requeue(ops),
    () => this.#inFlight === 0 && !this.#flushScheduled,
  );
  readonly #reaper: Reaper;
  readonly #reapedOps: Operation[] = [];
  readonly #reapedResults: number[] = [];
  readonly #lifetime: Lifetime;

  constructor(backend: Backend) {
    this.#backend = backend;
    this.#slots = new SlotTable(backend.capacity, backend.views);
    this.#cancels = new Cancels(backend.capacity);
    void this.#emptyBuffer.buffer;
    this.#submitter = this.#newSubmitter();
    this.#reaper = this.#newReaper();
    this.#lifetime = this.#newLifetime();
    // Weak: an idle scheduler nobody references may be collected (scheduler/lifetime.ts keeps a busy one).
    // No closure in this constructor may use `this`: they would share one scope with this
    // one, which the backend holds, and the scheduler could never be collected.
    const self = new WeakRef(this);
    backend.onReady = () => self.deref()?.pumpReady();
  }

  /** The reaper, its retry closure made here rather than in the constructor (see there). */
  #newReaper(): Reaper {
    return new Reaper(this.#backend, this.#slots, () => this.#pump());
  }

  /** The lifetime, its idle test made here rather than in the constructor (see there). */
  #newLifetime(): Lifetime {
    // Never idle mid-pump: a hostile signal's removeEventListener (run as an op settles) may call close().
    return new Lifetime(
      this,
      this.#backend,
      () => this.#queued === 0 && this.#inFlight === 0 && !this.#flushScheduled && !this.#pumping,
      () => this.#closeFilesLeft(),
    );
  }

  /**
   * close()'s last step before the backend goes: the descriptors of Files still open
   * here are caio's, so they are given back (a File's own close() then finds nothing
   * to do). True when it queued closes; the pump that settles them comes back here.
   */
  #closeFilesLeft(): boolean {
    const fds = this.#descriptors.ofFiles;
    if (fds.size === 0) return false;
    for (const fd of fds) void this.#add(closeOf(fd, 0));
    fds.clear();
    return true;
  }

  /** The submitter, over closures made here rather than in the constructor (see there). */
  #newSubmitter(): Submitter {
    return new Submitter({
      backend: this.#backend,
      slots: this.#slots,
      queue: this.#queue,
      emptyAddress: ptr(this.#emptyBuffer),
      filesFds: this.#descriptors.ofFiles,
      inFlight: () => this.#inFlight,
      settleQueued: (op, outcome) => this.#settleQueued(op, outcome),
    });
  }

  get closing(): boolean {
    return this.#lifetime.closing;
  }

  get stats(): Stats {
    return {
      submitted: this.#submitted,
      completed: this.#completed,
      inFlight: this.#inFlight,
      queued: this.#queued,
      submitCalls: this.#lifetime.submitCalls(),
      bounced: this.#submitter.bounced,
    };
  }

  /**
   * Queues one operation for this tick's flush. `view` is caio's own view of the
   * memory (validate.ts). Resolves with the syscall's result: bytes moved, 0, or
   * -errno (the caller turns that into an error, so the error is created where its
   * stack points at the user's code). Rejects for aborts, detached buffers and
   * failures inside caio. `privateView`: caio allocated `view` and nobody else can
   * reach it, so the kernel may use it directly.
   */
  enqueue(
    opcode: Opcode,
    fd: number,
    offset: number,
    view: OwnView | null,
    options: ParsedOptions,
    privateView = false,
  ): Promise<number> {
    return this.#add(transferOp(opcode, fd, offset, view, options, privateView));
  }

  /**
   * A read of up to `length` bytes into memory made at its completion: resolves with a
   * new Buffer of exactly the bytes read, or with the -errno (see enqueue).
   */
  enqueueRead(fd: number, offset: number, length: number, options: ParsedOptions): Promise<Buffer | number> {
    return this.#add(freshReadOp(fd, offset, length, options)) as Promise<Buffer | number>;
  }

  /** enqueue() for readv/writev: the views are read or filled in order, as one operation. */
  enqueueVector(opcode: VectorOpcode, fd: number, offset: number, views: Uint8Array[], options: ParsedOptions): Promise<number> {
    return this.#add(vectorOp(opcode, fd, offset, views, options));
  }

  /**
   * A file operation (c/common.h describes each record). `block`: caio's private
   * memory holding its paths (and statx's output), held like a buffer; `arg`: what
   * the record carries in buf instead of an address (fallocate's length) and `mode`
   * in len (fallocate's mode).
   */
  enqueueFile(
    opcode: FileOpcode,
    fd: number,
    offset: number,
    block: Uint8Array | null,
    options: ParsedOptions,
    arg = 0,
    mode = 0,
  ): Promise<number> {
    return this.#add(fileOp(opcode, fd, offset, block, options, arg, mode));
  }

  /** Runs `work` (several operations one after another) as one unit: close() waits until it settles. */
  busy<T>(work: () => Promise<T>): Promise<T> {
    return this.#lifetime.busy(work);
  }

  /**
   * Resolves once no operation of this scheduler uses `fd` any more (undefined when
   * none does now): closeFd waits for it, so the number is never reused under them.
   */
  drained(fd: number): Promise<void> | undefined {
    return this.#descriptors.drained(fd);
  }

  /** Descriptors of this scheduler's open Files (scheduler/descriptors.ts). */
  get filesFds(): Set<number> {
    return this.#descriptors.ofFiles;
  }

  /**
   * Queues operations that settle through their own resolve/reject (set by the caller,
   * called as methods of the op): readMany's reads share one promise per batch, with no
   * promise or closure per read (readmany/batch.ts).
   */
  enqueueOps(ops: readonly Operation[]): void {
    for (let i = 0; i < ops.length; i++) this.#admit(ops[i]!);
  }

  #add(op: Operation): Promise<number> {
    const promise = promiseFor(op);
    this.#admit(op);
    return promise;
  }

  /** Queues op for this tick's flush, or settles it at once when its signal has fired. */
  #admit(op: Operation): void {
    // Counted as queued before the signal's getters run: one that calls close() must not free the backend under op.
    this.#queued++;
    const refused = op.signal && this.#aborts.admit(op);
    if (refused) {
      this.#queued--;
      op.state = SETTLED;
      op.reject(refused);
      this.#lifetime.finishCloseIfIdle();
      return;
    }
    this.#descriptors.track(op, kindOf(op));
    this.#queue.push(op);
    this.#scheduleFlush();
  }

  /**
   * Stops accepting work, lets everything already issued complete, then frees the
   * kernel context. Resolves once no completion can arrive any more.
   */
  close(): Promise<void> {
    return this.#lifetime.close();
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    queueMicrotask(this.#flush);
  }

  readonly #flush = (): void => {
    this.#flushScheduled = false;
    this.#pump();
  };

  /** Called by the backend when completions may be ready. */
  pumpReady(): void {
    this.#pump();
  }

  /** Cancel, submit what fits, reap what is ready, and repeat while reaping frees slots for queued work. */
  #pump(): void {
    this.#pumping = true;
    try {
      for (;;) {
        if (this.#cancels.pending) this.#cancels.send(this.#backend, (op) => op.state === ABANDONED && this.#slots.holds(op));
        const queuedBefore = this.#queued;
        this.#submitQueued();
        const progressed = this.#queued < queuedBefore;
        const reaped = turnOverdue() ? this.#reapNextTurn() : this.#reapReady();
        if (this.#queued === 0) break;
        // Stop only when neither reaping nor submitting moved anything: then a wake-up will.
        if (reaped === 0 && (!progressed || this.#slots.free === 0)) break;
      }
    } finally {
      this.#pumping = false;
      this.#lifetime.setBusy(this.#inFlight > 0);
      if (this.#inFlight === 0) this.#descriptors.whenIdle();
      this.#lifetime.finishCloseIfIdle();
    }
  }

  /** Leaves ready completions for a pump in the event loop's next turn (no wake-up may come for them); reaps none now. */
  #reapNextTurn(): number {
    if (!this.#reapScheduled && this.#inFlight > 0) {
      this.#reapScheduled = true;
      setImmediate(this.#reapInNewTurn);
    }
    return 0;
  }

  readonly #reapInNewTurn = (): void => {
    this.#reapScheduled = false;
    this.#pump();
  };

  /** Hands the queued ops that fit to the backend (scheduler/submit.ts) and books what went in flight. */
  #submitQueued(): void {
    const consumed = this.#submitter.submitQueued();
    this.#inFlight += consumed;
    this.#submitted += consumed;
    this.#queued -= consumed;
  }

  /** A queued op settles without being submitted: with a result (-errno) or a rejection. */
  #settleQueued(op: Operation, outcome: number | Error): void {
    this.#queued--;
    this.#finish(op, SETTLED);
    if (typeof outcome === "number") op.resolve(outcome);
    else op.reject(outcome);
  }

  /** Reaps every ready completion, commits them all, then settles their promises. */
  #reapReady(): number {
    if (this.#inFlight === 0) return 0;
    // Reused from pump to pump (settling never reaps: reactions run later, follow-ups are only queued), and
    // emptied after, so a settled batch is not kept alive; and before, in case a throw skipped that.
    const ops = this.#reapedOps;
    const results = this.#reapedResults;
    ops.length = 0;
    results.length = 0;
    const count = this.#reaper.takeReady(ops, results);
    this.#inFlight -= count;
    this.#completed += count;
    for (let i = 0; i < count; i++) this.#settleReaped(ops[i]!, results[i]!);
    ops.length = 0;
    results.length = 0;
    return count;
  }

  /** Settles a reaped op (its kind decodes the result); its memory is released whatever happens. */
  #settleReaped(op: Operation, result: number): void {
    const kind = kindOf(op);
    if (kind.freesFd && result >= 0) this.#descriptors.freed();
    if (op.state === ABANDONED) {
      let followUp: Operation | null = null;
      try {
        followUp = kind.abandon(op, result);
      } catch {
        // nothing caio knows of is left to undo
      }
      this.#finish(op, SETTLED);
      if (followUp) void this.#add(followUp);
      return;
    }
    let outcome: number | Buffer | Error | typeof RETRY;
    try {
      outcome = kind.complete(op, result, this.#inFlight > 0);
    } catch (error) {
      outcome = internalFailure("settled", error);
    }
    if (outcome === RETRY) {
      this.#park(op);
      return;
    }
    this.#finish(op, SETTLED);
    if (outcome instanceof Error) op.reject(outcome);
    else op.resolve(outcome);
  }

  /** op waits, queued but outside the queue, until a descriptor comes back (or nothing else is in flight). */
  #park(op: Operation): void {
    releaseMemory(op);
    op.state = QUEUED;
    this.#queued++;
    this.#descriptors.park(op);
  }

  #requeue(ops: Operation[]): void {
    for (const op of ops) this.#queue.push(op);
    this.#scheduleFlush();
  }

  /** Marks op finished and drops what it held; the caller settles its promise. */
  #finish(op: Operation, state: number): void {
    releaseMemory(op);
    op.state = state;
    op.view = null;
    op.known = null;
    op.views = null;
    op.lengths = null;
    op.iov = null;
    this.#aborts.unwatch(op);
    this.#descriptors.untrack(op);
  }

  #abort(op: Operation, reason: AbortError): void {
    if (op.state === QUEUED) {
      this.#settleQueued(op, reason);
      this.#lifetime.finishCloseIfIdle();
    } else if (op.state === IN_FLIGHT) {
      // The kernel may still write into the memory: keep it (and the slot) until the completion is reaped.
      op.state = ABANDONED;
      this.#aborts.unwatch(op);
      this.#cancels.add(op);
      this.#scheduleFlush();
      op.reject(reason);
    }
  }
}
