/**
 * The per-tick scheduler. Operations issued during one tick are queued; one
 * microtask per tick stages as many as there are free slots into the backend's
 * shared array and submits them with one call, then reaps whatever is already
 * complete. Later completions are reaped when the backend calls onReady (its wake
 * socket became readable on Bun's event loop, or node:fs called back for `js`).
 *
 * Ownership rule: an operation sits in its slot, holding the memory the kernel
 * uses, from submission until its completion is reaped, whatever happens to its
 * promise. That memory is never the caller's detachable ArrayBuffer (see bounce.ts).
 */
import { ptr } from "bun:ffi";
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
import { addressOf, bouncePool, bytesOf, isPinned, MAX_TRANSFER, regionAddress, regionOf, type BounceBlock } from "./bounce.ts";
import { AbortError, invalidState } from "./errors.ts";
import { viewLength } from "./validate.ts";

const QUEUED = 0;
const IN_FLIGHT = 1;
const SETTLED = 2;
/** Its promise was rejected (aborted); the slot still holds the buffer until the kernel is done. */
const ABANDONED = 3;

const TWO_POW_32 = 4294967296;
const EAGAIN = -11;
const ENOMEM = -12;

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
  /**
   * Operations whose bytes went through caio's own memory (a copy) because the
   * caller's buffer was a detachable ArrayBuffer; SharedArrayBuffer-backed buffers
   * (allocAligned) and read()'s results never are.
   */
  bounced: number;
}

class Operation {
  slot = -1;
  state = QUEUED;
  resolve!: (value: unknown) => void;
  reject!: (reason: unknown) => void;
  onAbort: (() => void) | undefined = undefined;
  /** Vectored ops: the caller's buffers, and the struct iovec array the kernel reads (4 u32 words each). */
  views: readonly ArrayBufferView[] | null = null;
  /** The views' byteLengths at the call: a different length later means a view was detached. */
  lengths: number[] | null = null;
  iov: Uint32Array | null = null;
  /** What the kernel reads or fills while in flight: the caller's view if pinned, else a bounce region. */
  io: ArrayBufferView | null = null;
  ioViews: readonly ArrayBufferView[] | null = null;
  /** Bounce memory this op holds until it is reaped. */
  block: BounceBlock | null = null;

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
    /** `view` was allocated by caio and is not visible to anyone else until the op settles. */
    readonly privateView = false,
  ) {}
}

function isRead(opcode: number): boolean {
  return opcode === OP_READ || opcode === OP_READV;
}

export type Opcode = typeof OP_READ | typeof OP_WRITE | typeof OP_FSYNC | typeof OP_FDSYNC;
export type VectorOpcode = typeof OP_READV | typeof OP_WRITEV;

/** Schedulers with operations in flight: reachable until their completions are reaped, whoever else lets go. */
const working = new Set<Scheduler>();

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
  #bounced = 0;
  #flushScheduled = false;
  /** The backend keeps the process alive: something is in flight. */
  #held = false;
  #closing = false;
  #closed = false;
  /** The backend's counter as it stood when its handle was freed. */
  #finalSubmitCalls = 0;
  #closeDone: Promise<void> | undefined;
  #resolveClose: (() => void) | undefined;
  /** Non-null address for zero-length operations, which the kernel never dereferences. */
  readonly #emptyAddress: number;
  readonly #emptyBuffer = Buffer.alloc(8);

  constructor(backend: Backend) {
    this.#backend = backend;
    this.#slots = new Array(backend.capacity).fill(undefined);
    for (let slot = backend.capacity - 1; slot >= 0; slot--) this.#freeSlots.push(slot);
    void this.#emptyBuffer.buffer;
    this.#emptyAddress = ptr(this.#emptyBuffer);
    // Weak: an idle scheduler nobody references may be collected (see `working` for a busy one).
    const self = new WeakRef(this);
    backend.onReady = () => self.deref()?.pumpReady();
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
      bounced: this.#bounced,
    };
  }

  /**
   * Queues one operation for this tick's flush. Resolves with the syscall's result:
   * bytes moved, 0, or -errno (the caller turns that into an error, so the error is
   * created where its stack points at the user's code). Rejects only for aborts and
   * detached buffers. `privateView`: caio allocated `view` and nobody else can reach
   * it, so the kernel may use it directly.
   */
  enqueue(
    opcode: Opcode,
    fd: number,
    offset: number,
    view: ArrayBufferView | null,
    priority: number,
    signal: AbortSignal | undefined,
    privateView = false,
  ): Promise<number> {
    if (signal?.aborted) return Promise.reject(new AbortError(undefined, { cause: signal.reason }));
    const length = view ? view.byteLength : 0;
    return this.#add(new Operation(opcode, fd, offset, view, length, priority, signal, privateView));
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
    op.lengths = views.map((view) => view.byteLength);
    op.iov = new Uint32Array(views.length * 4);
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

  /** Called by the backend when completions may be ready. */
  pumpReady(): void {
    this.#pump();
  }

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
    this.#updateHold();
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

  /** Writes op into staging position `index` and gives it a slot; false if it was settled instead. */
  #stage(op: Operation, index: number): boolean {
    const claimed = this.#claimMemory(op);
    if (claimed !== true) {
      this.#queued--;
      this.#finish(op, SETTLED);
      if (claimed === ENOMEM) op.resolve(ENOMEM);
      else op.reject(invalidState("The buffer was detached before the operation was submitted"));
      return false;
    }
    const slot = this.#freeSlots.pop()!;
    this.#slots[slot] = op;
    op.slot = slot;
    const views = this.#backend.views;
    if (views) views[slot] = op.ioViews ?? op.io;
    const address = views ? 0 : op.iov ? this.#iovAddress(op) : this.#bufferAddress(op);
    const stage = this.#backend.stage;
    const base = index * STAGE_WORDS;
    stage[base] = address >>> 0;
    stage[base + 1] = (address / TWO_POW_32) >>> 0;
    stage[base + 2] = op.offset >>> 0;
    stage[base + 3] = (op.offset / TWO_POW_32) >>> 0;
    // Bytes of the memory staged (a bounce region can be shorter than the view: see MAX_TRANSFER), or the iovec count.
    stage[base + 4] = op.iov ? op.length : op.io ? op.io.byteLength : 0;
    stage[base + 5] = op.fd;
    stage[base + 6] = slot;
    stage[base + 7] = op.opcode | (op.priority << 16);
    return true;
  }

  /**
   * Sets op.io / op.ioViews to memory that cannot be freed while the kernel uses it,
   * copying a write's bytes into bounce memory now. false if a buffer was detached
   * since the call; ENOMEM if bounce memory could not be allocated.
   */
  #claimMemory(op: Operation): true | false | typeof ENOMEM {
    if (op.views) return this.#claimVector(op);
    const view = op.view;
    if (!view) return true;
    if (viewLength(view) !== op.length) return false;
    if (op.length === 0 || op.privateView || isPinned(view)) {
      op.io = view;
      return true;
    }
    const region = this.#takeBounce(op, Math.min(op.length, MAX_TRANSFER), addressOf(view));
    if (!region) return ENOMEM;
    if (op.opcode === OP_WRITE) region.set(bytesOf(view).subarray(0, region.length));
    op.io = region;
    return true;
  }

  /** #claimMemory for readv/writev: all views pinned, or one bounce region split into a segment per view. */
  #claimVector(op: Operation): true | false | typeof ENOMEM {
    const views = op.views!;
    const lengths = op.lengths!;
    let total = 0;
    let pinned = true;
    let firstAddress = 0;
    for (let i = 0; i < views.length; i++) {
      const view = views[i]!;
      const length = viewLength(view);
      if (length !== lengths[i]) return false;
      if (length === 0 || isPinned(view)) continue;
      if (pinned) firstAddress = addressOf(view);
      pinned = false;
      total += length;
    }
    if (pinned) {
      op.ioViews = views;
      return true;
    }
    const region = this.#takeBounce(op, Math.min(total, MAX_TRANSFER), firstAddress);
    if (!region) return ENOMEM;
    op.ioViews = this.#splitRegion(op, region);
    return true;
  }

  /** The bounce segments of a vectored op, in view order; a write's bytes are copied in. */
  #splitRegion(op: Operation, region: Uint8Array): ArrayBufferView[] {
    const views = op.views!;
    const segments: ArrayBufferView[] = new Array(views.length);
    let at = 0;
    for (let i = 0; i < views.length; i++) {
      const view = views[i]!;
      if (view.byteLength === 0 || isPinned(view)) {
        segments[i] = view;
        continue;
      }
      const segment = region.subarray(at, at + view.byteLength);
      if (op.opcode === OP_WRITEV) segment.set(bytesOf(view).subarray(0, segment.length));
      segments[i] = segment;
      at += segment.length;
    }
    return segments;
  }

  #takeBounce(op: Operation, length: number, likeAddress: number): Uint8Array | undefined {
    try {
      op.block = bouncePool.take(length);
    } catch {
      return undefined;
    }
    return regionOf(op.block, length, likeAddress);
  }

  /** The bounce memory goes back to the pool: only once no kernel or worker can touch it. */
  #releaseMemory(op: Operation): void {
    if (op.block) bouncePool.give(op.block);
    op.block = null;
    op.io = null;
    op.ioViews = null;
  }

  /** The address of the memory the kernel uses for op's bytes. */
  #bufferAddress(op: Operation): number {
    if (op.block) return regionAddress(op.block);
    if (!op.io || op.length === 0) return this.#emptyAddress;
    return addressOf(op.io);
  }

  /** Fills op's struct iovec array with the addresses of its in-flight memory. */
  #iovAddress(op: Operation): number {
    const iov = op.iov!;
    const views = op.ioViews!;
    for (let i = 0; i < views.length; i++) {
      const view = views[i]!;
      const address = view.byteLength > 0 ? addressOf(view) : this.#emptyAddress;
      iov[i * 4] = address >>> 0;
      iov[i * 4 + 1] = (address / TWO_POW_32) >>> 0;
      iov[i * 4 + 2] = view.byteLength;
    }
    return addressOf(iov);
  }

  #submitBatch(batch: Operation[]): void {
    const result = this.#backend.submit(batch.length);
    let consumed = result < 0 ? 0 : result;
    for (let i = 0; i < consumed; i++) {
      batch[i]!.state = IN_FLIGHT;
      if (batch[i]!.block) this.#bounced++;
    }
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
    // Whatever was not consumed goes back to the front of the queue, in order; it is staged afresh later.
    for (let i = batch.length - 1; i >= consumed; i--) {
      this.#releaseSlot(batch[i]!);
      this.#releaseMemory(batch[i]!);
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
    if (op.state === ABANDONED) {
      this.#finish(op, SETTLED);
      return;
    }
    const detached = result > 0 && op.block !== null && isRead(op.opcode) && !this.#copyBack(op, result);
    this.#finish(op, SETTLED);
    if (detached) {
      op.reject(invalidState(`The buffer was detached while the read was in flight; the ${result} bytes read were discarded`));
    } else {
      op.resolve(result);
    }
  }

  /** Copies a bounced read's bytes into the caller's views; false if a view was detached meanwhile. */
  #copyBack(op: Operation, result: number): boolean {
    if (op.view) {
      if (viewLength(op.view) !== op.length) return false;
      const region = op.io as Uint8Array;
      bytesOf(op.view).set(result === region.length ? region : region.subarray(0, result));
      return true;
    }
    const views = op.views!;
    const segments = op.ioViews!;
    let left = result;
    for (let i = 0; i < views.length && left > 0; i++) {
      const view = views[i]!;
      const length = Math.min(left, segments[i]!.byteLength);
      if (viewLength(view) !== op.lengths![i]) return false;
      if (segments[i] !== view) bytesOf(view).set((segments[i] as Uint8Array).subarray(0, length));
      left -= length;
    }
    return true;
  }

  /** Marks op finished and drops what it held; the caller settles its promise. */
  #finish(op: Operation, state: number): void {
    this.#releaseMemory(op);
    op.state = state;
    op.view = null;
    op.views = null;
    op.lengths = null;
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
   * While anything is in flight the process stays alive and this scheduler stays
   * reachable (the kernel owns its buffers); once idle, neither is held any more.
   */
  #updateHold(): void {
    const busy = this.#inFlight > 0;
    if (busy === this.#held) return;
    this.#held = busy;
    if (busy) {
      working.add(this);
      this.#backend.hold();
    } else {
      working.delete(this);
      this.#backend.release();
    }
  }

  #finishCloseIfIdle(): void {
    if (!this.#closing || this.#closed) return;
    if (this.#queued > 0 || this.#inFlight > 0 || this.#flushScheduled) return;
    this.#finalSubmitCalls = this.#backend.submitCalls();
    this.#closed = true;
    this.#backend.close();
    // After the microtasks that the last settlements queued: callers' handlers run before close() resolves.
    setImmediate(this.#resolveClose!);
  }
}
