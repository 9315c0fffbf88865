/**
 * One "abort" listener per signal, however many operations share it. A listener per
 * operation made one AbortSignal over N operations cost O(N) per listener removal,
 * O(N²) in all; here watching, unwatching and aborting are O(1) per operation.
 */
import type { Backend } from "../backends/backend.ts";
import { AbortError, abortErrors, invalidArgType } from "../errors.ts";
import type { AbortSignalLike } from "../validate.ts";
import type { Operation } from "./operation.ts";

interface Watched {
  readonly listener: () => void;
  /** Unordered; each op knows its index (op.watchIndex), so removal swaps the last one in. */
  readonly ops: Operation[];
}

export class AbortWatch {
  readonly #watched = new Map<AbortSignalLike, Watched>();

  /** `onAbort` is called for every watched operation of a signal that fires, with its own AbortError. */
  constructor(private readonly onAbort: (op: Operation, error: AbortError) => void) {}

  /** Starts watching op.signal for op; the error to reject op with if its signal has fired or cannot be watched. */
  admit(op: Operation): Error | undefined {
    try {
      if (op.signal!.aborted) return new AbortError(undefined, { cause: op.signal!.reason });
      this.watch(op);
      return undefined;
    } catch (error) {
      const refused = invalidArgType("options.signal", "an AbortSignal whose listeners can be added", op.signal);
      return Object.assign(refused, { cause: error });
    }
  }

  /** Starts watching op.signal for op. Throws what the signal's addEventListener throws (a hostile signal-like object). */
  watch(op: Operation): void {
    const signal = op.signal!;
    const watched = this.#watched.get(signal);
    if (watched) {
      op.watchIndex = watched.ops.push(op) - 1;
      return;
    }
    const ops = [op];
    op.watchIndex = 0;
    const listener = () => this.#fire(signal);
    signal.addEventListener("abort", listener);
    this.#watched.set(signal, { listener, ops });
  }

  /** Stops watching op (it settled); the signal's listener goes with its last operation. */
  unwatch(op: Operation): void {
    const signal = op.signal;
    if (!signal) return;
    const watched = this.#watched.get(signal);
    if (!watched || watched.ops[op.watchIndex] !== op) return;
    const last = watched.ops.pop()!;
    if (last !== op) {
      watched.ops[op.watchIndex] = last;
      last.watchIndex = op.watchIndex;
    }
    if (watched.ops.length > 0) return;
    this.#watched.delete(signal);
    try {
      signal.removeEventListener("abort", watched.listener);
    } catch {
      // A signal-like object that refuses: its listener finds nothing left to abort.
    }
  }

  #fire(signal: AbortSignalLike): void {
    const watched = this.#watched.get(signal);
    if (!watched) return;
    this.#watched.delete(signal);
    let reason: unknown;
    try {
      reason = signal.reason;
    } catch (error) {
      reason = error; // a signal-like object whose reason getter throws still aborts its operations
    }
    const ops = watched.ops;
    const errors = abortErrors(ops.length, reason);
    for (let i = 0; i < ops.length; i++) this.onAbort(ops[i]!, errors[i]!);
  }
}

const EAGAIN = -11;

/**
 * Aborted in-flight operations whose cancel goes out with the next flush, all in one
 * backend call. Cancelling is best effort: each op still completes on its own.
 */
export class Cancels {
  #pending: Operation[] = [];
  readonly #slots: Uint32Array;

  constructor(capacity: number) {
    this.#slots = new Uint32Array(capacity);
    void this.#slots.buffer;
  }

  get pending(): boolean {
    return this.#pending.length > 0;
  }

  add(op: Operation): void {
    this.#pending.push(op);
  }

  /**
   * Sends every pending cancel whose op still owns its slot (`live`: one that completed
   * since its abort may share the slot with another op by now). Cancels the backend did
   * not take stay pending for the next flush.
   */
  send(backend: Pick<Backend, "cancel">, live: (op: Operation) => boolean): void {
    const ops = this.#pending.filter(live);
    for (let i = 0; i < ops.length; i++) this.#slots[i] = ops[i]!.slot;
    let taken = ops.length;
    if (ops.length > 0) {
      try {
        taken = backend.cancel(this.#slots, ops.length);
      } catch {
        taken = ops.length;
      }
    }
    // Not taken (the ring had no room) or -EAGAIN: offer them again. Any other -errno: the ops complete on their own.
    if (taken === EAGAIN) taken = 0;
    this.#pending = taken >= 0 && taken < ops.length ? ops.slice(taken) : [];
  }
}
