/**
 * The per-tick scheduler. Operations issued during one tick are queued; one
 * microtask per tick stages as many as there are free slots into the backend's
 * shared array and submits them with one call, then reaps whatever is already
 * complete. Later completions are reaped when the backend's eventfd fires.
 *
 * Ownership rule: an operation sits in its slot, holding its buffer, from
 * submission until its completion is reaped, whatever happens to its promise.
 */
import { ptr } from "bun:ffi";
import { read as readFd, writeSync } from "node:fs";
import {
  DONE_WORDS,
  OP_FDSYNC,
  OP_FSYNC,
  OP_READ,
  OP_READV,
  OP_WRITE,
  OP_WRITEV,
  STAGE_WORDS,
  type Backend,
} from "./backends/backend.ts";
import { AbortError, invalidState } from "./errors.ts";
import { viewLength } from "./validate.ts";

const QUEUED = 0;
const IN_FLIGHT = 1;
const SETTLED = 2;
/** Its promise was rejected (aborted); the slot still holds the buffer until the kernel is done. */
const ABANDONED = 3;

const TWO_POW_32 = 4294967296;
const EAGAIN = -11;
const ONE_WAKE = new BigUint64Array([1n]);

export interface Stats {
  /** Operations handed to the kernel (or the pool) so far. */
  submitted: number;
  /** Operations whose completion has been reaped. */
  completed: number;
  /** Operations the kernel still owns, aborted ones included. */
  inFlight: number;
  /** Operations waiting for a free slot or for this tick's flush. */
  queued: number;
  /** Submitting syscalls made (io_submit / io_uring_enter / pool hand-offs). */
  submitCalls: number;
}

class Operation {
  slot = -1;
  state = QUEUED;
  resolve!: (value: unknown) => void;
  reject!: (reason: unknown) => void;
  onAbort: (() => void) | undefined = undefined;
  /** Vectored ops: the caller's buffers, and the struct iovec array the kernel reads (4 u32 words each). */
  views: readonly ArrayBufferView[] | null = null;
  iov: Uint32Array | null = null;

  constructor(
    readonly opcode: number,
    readonly fd: number,
    readonly offset: number,
    /** The caller's bytes; for reads, the kernel writes into them. */
    public view: ArrayBufferView | null,
    /** Bytes of `view`; for vectored ops, the number of buffers. */
    readonly length: number,
    readonly priority: number,
    readonly signal: AbortSignal | undefined,
  ) {}
}

export type Opcode = typeof OP_READ | typeof OP_WRITE | typeof OP_FSYNC | typeof OP_FDSYNC;
export type VectorOpcode = typeof OP_READV | typeof OP_WRITEV;

export class Scheduler {
  readonly #backend: Backend;
  readonly #slots: (Operation | undefined)[];
  readonly #freeSlots: number[] = [];
  readonly #batch: Operation[] = [];
  #queue: Operation[] = [];
  #queueHead = 0;
  #queued = 0;
  #inFlight = 0;
  #submitted = 0;
  #completed = 0;
  #flushScheduled = false;
  #wakeArmed = false;
  #wakeKicked = false;
  #wakeBroken: Error | undefined;
  #closing = false;
  #closed = false;
  /** The backend's counter as it stood when its handle was freed. */
  #finalSubmitCalls = 0;
  #closeDone: Promise<void> | undefined;
  #resolveClose: (() => void) | undefined;
  readonly #wakeBuffer = Buffer.alloc(8);
  /** Non-null address for zero-length operations, which the kernel never dereferences. */
  readonly #emptyAddress: number;

  constructor(backend: Backend) {
    this.#backend = backend;
    this.#slots = new Array(backend.capacity).fill(undefined);
    for (let slot = backend.capacity - 1; slot >= 0; slot--) this.#freeSlots.push(slot);
    void this.#wakeBuffer.buffer;
    this.#emptyAddress = ptr(this.#wakeBuffer);
    if (backend.wakeFd < 0) backend.onReady = () => this.#pump();
  }

  get closing(): boolean {
    return this.#closing;
  }

  get stats(): Stats {
    return {
      submitted: this.#submitted,
      completed: this.#completed,
      inFlight: this.#inFlight,
      queued: this.#queued,
      submitCalls: this.#closed ? this.#finalSubmitCalls : this.#backend.submitCalls(),
    };
  }

  /**
   * Queues one operation for this tick's flush. Resolves with the syscall's result:
   * bytes moved, 0, or -errno (the caller turns that into an error, so the error is
   * created where its stack points at the user's code). Rejects only for aborts and
   * detached buffers.
   */
  enqueue(
    opcode: Opcode,
    fd: number,
    offset: number,
    view: ArrayBufferView | null,
    priority: number,
    signal: AbortSignal | undefined,
  ): Promise<number> {
    if (signal?.aborted) return Promise.reject(new AbortError(undefined, { cause: signal.reason }));
    return this.#add(new Operation(opcode, fd, offset, view, view ? view.byteLength : 0, priority, signal));
  }

  /** enqueue() for readv/writev: the buffers are read or filled in order, as one operation. */
  enqueueVector(
    opcode: VectorOpcode,
    fd: number,
    offset: number,
    views: readonly ArrayBufferView[],
    priority: number,
    signal: AbortSignal | undefined,
  ): Promise<number> {
    if (signal?.aborted) return Promise.reject(new AbortError(undefined, { cause: signal.reason }));
    const op = new Operation(opcode, fd, offset, null, views.length, priority, signal);
    op.views = views.slice();
    op.iov = new Uint32Array(views.length * 4);
    for (let i = 0; i < views.length; i++) op.iov[i * 4 + 2] = views[i]!.byteLength;
    return this.#add(op);
  }

  #add(op: Operation): Promise<number> {
    const promise = new Promise<number>((resolve, reject) => {
      op.resolve = resolve as (value: unknown) => void;
      op.reject = reject;
    });
    if (op.signal) {
      op.onAbort = () => this.#abort(op);
      op.signal.addEventListener("abort", op.onAbort, { once: true });
    }
    this.#queue.push(op);
    this.#queued++;
    this.#scheduleFlush();
    return promise;
  }

  /**
   * Stops accepting work, lets everything already issued complete, then frees the
   * kernel context. Resolves once no completion can arrive any more.
   */
  close(): Promise<void> {
    if (this.#closeDone) return this.#closeDone;
    this.#closing = true;
    this.#closeDone = new Promise((resolve) => (this.#resolveClose = resolve));
    this.#finishCloseIfIdle();
    return this.#closeDone;
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

  readonly #onWake = (error: NodeJS.ErrnoException | null): void => {
    this.#wakeArmed = false;
    this.#wakeKicked = false;
    if (error) {
      // Only if someone closed our descriptor: keep completions flowing by polling instead of hanging.
      this.#wakeBroken ??= error;
      process.emitWarning(`caio: the completion eventfd failed (${error.message}); polling instead`);
    }
    this.#pump();
  };

  /** Submit what fits, reap what is ready, and repeat while reaping frees slots for queued work. */
  #pump(): void {
    for (;;) {
      const queuedBefore = this.#queued;
      this.#submitQueued();
      const progressed = this.#queued < queuedBefore;
      const reaped = this.#reapReady();
      if (this.#queued === 0) break;
      // Stop only when neither reaping nor submitting moved anything: then a wake-up will.
      if (reaped === 0 && (!progressed || this.#freeSlots.length === 0)) break;
    }
    this.#updateWake();
    this.#finishCloseIfIdle();
  }

  #nextQueued(): Operation | undefined {
    while (this.#queueHead < this.#queue.length) {
      const op = this.#queue[this.#queueHead++]!;
      if (op.state === QUEUED) return op;
    }
    return undefined;
  }

  #compactQueue(): void {
    if (this.#queueHead === this.#queue.length) {
      this.#queue.length = 0;
      this.#queueHead = 0;
    } else if (this.#queueHead > 1024 && this.#queueHead * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#queueHead);
      this.#queueHead = 0;
    }
  }

  #submitQueued(): void {
    const batch = this.#batch;
    while (this.#freeSlots.length > 0) {
      const op = this.#nextQueued();
      if (!op) break;
      if (!this.#stage(op, batch.length)) continue;
      batch.push(op);
    }
    if (batch.length > 0) this.#submitBatch(batch);
    batch.length = 0;
    this.#compactQueue();
  }

  /** Writes op into staging position `index` and gives it a slot; false if it was rejected instead. */
  #stage(op: Operation, index: number): boolean {
    const views = this.#backend.views;
    const address = views ? this.#checkUnchanged(op) : op.iov ? this.#iovAddress(op) : this.#bufferAddress(op);
    if (address < 0) {
      this.#queued--;
      this.#finish(op, SETTLED);
      op.reject(invalidState("The buffer was detached before the operation was submitted"));
      return false;
    }
    const slot = this.#freeSlots.pop()!;
    this.#slots[slot] = op;
    op.slot = slot;
    if (views) views[slot] = op.views ?? op.view;
    const stage = this.#backend.stage;
    const base = index * STAGE_WORDS;
    stage[base] = address >>> 0;
    stage[base + 1] = (address / TWO_POW_32) >>> 0;
    stage[base + 2] = op.offset >>> 0;
    stage[base + 3] = (op.offset / TWO_POW_32) >>> 0;
    stage[base + 4] = op.length;
    stage[base + 5] = op.fd;
    stage[base + 6] = slot;
    stage[base + 7] = op.opcode | (op.priority << 16);
    return true;
  }

  /** For backends that take the buffers themselves: 0, or -1 if a buffer was detached since the call. */
  #checkUnchanged(op: Operation): number {
    if (op.view) return viewLength(op.view) === op.length ? 0 : -1;
    const views = op.views;
    if (!views) return 0;
    for (let i = 0; i < views.length; i++) if (viewLength(views[i]!) !== op.iov![i * 4 + 2]) return -1;
    return 0;
  }

  /** The address of op's bytes, or -1 if its buffer was detached (its length changed) since the call. */
  #bufferAddress(op: Operation): number {
    if (!op.view || op.length === 0) return this.#emptyAddress;
    if (viewLength(op.view) !== op.length) return -1;
    void op.view.buffer;
    return ptr(op.view as Uint8Array);
  }

  /** Fills op's struct iovec array with the buffers' addresses; -1 if any was detached since the call. */
  #iovAddress(op: Operation): number {
    const iov = op.iov!;
    const views = op.views!;
    for (let i = 0; i < views.length; i++) {
      const view = views[i]!;
      const length = viewLength(view);
      if (length !== iov[i * 4 + 2]) return -1;
      let address = this.#emptyAddress;
      if (length > 0) {
        void view.buffer;
        address = ptr(view as Uint8Array);
      }
      iov[i * 4] = address >>> 0;
      iov[i * 4 + 1] = (address / TWO_POW_32) >>> 0;
    }
    void iov.buffer;
    return ptr(iov);
  }

  #submitBatch(batch: Operation[]): void {
    const result = this.#backend.submit(batch.length);
    let consumed = result < 0 ? 0 : result;
    for (let i = 0; i < consumed; i++) batch[i]!.state = IN_FLIGHT;
    this.#inFlight += consumed;
    this.#submitted += consumed;
    this.#queued -= consumed;
    if (result < 0 && (result !== EAGAIN || this.#inFlight === 0)) {
      // Nothing in flight will free resources, so the first op takes the error rather than waiting forever.
      const first = batch[0]!;
      this.#releaseSlot(first);
      this.#queued--;
      this.#finish(first, SETTLED);
      first.resolve(result);
      consumed = 1;
    }
    // Whatever was not consumed goes back to the front of the queue, in order.
    for (let i = batch.length - 1; i >= consumed; i--) {
      this.#releaseSlot(batch[i]!);
      this.#queue[--this.#queueHead] = batch[i]!;
    }
  }

  #releaseSlot(op: Operation): void {
    this.#slots[op.slot] = undefined;
    if (this.#backend.views) this.#backend.views[op.slot] = null;
    this.#freeSlots.push(op.slot);
    op.slot = -1;
  }

  /** Reaps every ready completion, commits them all, then settles their promises. */
  #reapReady(): number {
    if (this.#inFlight === 0) return 0;
    const finished: (Operation | number)[] = [];
    const { done, capacity } = this.#backend;
    for (;;) {
      const count = this.#backend.reap();
      if (count <= 0) break;
      for (let i = 0; i < count; i++) {
        const slot = done[i * DONE_WORDS]!;
        const op = this.#slots[slot]!;
        this.#releaseSlot(op);
        finished.push(op, done[i * DONE_WORDS + 1]!);
      }
      this.#inFlight -= count;
      this.#completed += count;
      if (count < capacity) break;
    }
    for (let i = 0; i < finished.length; i += 2) {
      this.#settle(finished[i] as Operation, finished[i + 1] as number);
    }
    return finished.length / 2;
  }

  #settle(op: Operation, result: number): void {
    const abandoned = op.state === ABANDONED;
    this.#finish(op, SETTLED);
    if (!abandoned) op.resolve(result);
  }

  /** Marks op finished and drops what it held; the caller settles its promise. */
  #finish(op: Operation, state: number): void {
    op.state = state;
    op.view = null;
    op.views = null;
    op.iov = null;
    if (op.onAbort) {
      op.signal!.removeEventListener("abort", op.onAbort);
      op.onAbort = undefined;
    }
  }

  #abort(op: Operation): void {
    const reason = new AbortError(undefined, { cause: op.signal!.reason });
    if (op.state === QUEUED) {
      this.#queued--;
      this.#finish(op, SETTLED);
      op.reject(reason);
      this.#finishCloseIfIdle();
    } else if (op.state === IN_FLIGHT) {
      // The kernel may still write into the buffer: keep it (and the slot) until the completion is reaped.
      op.state = ABANDONED;
      op.onAbort = undefined;
      this.#backend.cancel(op.slot);
      op.reject(reason);
    }
  }

  /**
   * While anything is in flight, one pending read of the eventfd keeps the process
   * alive and wakes us when completions arrive. Once idle, a pending read is made
   * to return (it would otherwise keep the process alive with nothing to wait for).
   */
  #updateWake(): void {
    if (this.#backend.wakeFd < 0) return;
    if (this.#inFlight > 0) {
      if (this.#wakeArmed) return;
      this.#wakeArmed = true;
      if (this.#wakeBroken) setTimeout(this.#onWake, 1, null);
      else readFd(this.#backend.wakeFd, this.#wakeBuffer, 0, 8, null, this.#onWake);
    } else if (this.#wakeArmed && !this.#wakeKicked && !this.#wakeBroken) {
      this.#wakeKicked = true;
      writeSync(this.#backend.wakeFd, ONE_WAKE);
    }
  }

  #finishCloseIfIdle(): void {
    if (!this.#closing || this.#closed) return;
    if (this.#queued > 0 || this.#inFlight > 0 || this.#flushScheduled) return;
    // The pending read must return before its descriptor is closed; its callback comes back here.
    if (this.#wakeArmed) return;
    this.#finalSubmitCalls = this.#backend.submitCalls();
    this.#closed = true;
    this.#backend.close();
    // After the microtasks that the last settlements queued: callers' handlers run before close() resolves.
    setImmediate(this.#resolveClose!);
  }
}
