/**
 * A scheduler's lifetime, apart from its per-tick work: what keeps the process (and
 * the scheduler itself) alive while operations are in flight, and when close() may
 * free the kernel context. The scheduler says when it went busy or idle; this decides
 * what that means for the backend's hold, the `working` set and a pending close().
 */
import type { Backend } from "../backends/backend.ts";

/** Schedulers with operations in flight: reachable until their completions are reaped, whoever else lets go. */
const working = new Set<object>();

export class Lifetime {
  /** The backend keeps the process alive: something is in flight. */
  #held = false;
  #closing = false;
  #closed = false;
  /** Multi-step operations under way (busy()): close() waits for them. */
  #units = 0;
  /** The backend's counter as it stood when its handle was freed. */
  #finalSubmitCalls = 0;
  #closeDone: Promise<void> | undefined;
  #resolveClose: (() => void) | undefined;

  constructor(
    /** Kept reachable (in `working`) while it has work in flight. */
    readonly owner: object,
    readonly backend: Backend,
    /** Nothing of the owner's is queued, in flight or about to be flushed. */
    readonly idle: () => boolean,
    /** Last work before the backend is freed; true when it queued some (close() then waits for it too). */
    readonly beforeFree: () => boolean,
  ) {}

  get closing(): boolean {
    return this.#closing;
  }

  /** Submitting calls made, still readable once the backend's handle is freed. */
  submitCalls(): number {
    return this.#closed ? this.#finalSubmitCalls : this.backend.submitCalls();
  }

  /**
   * While anything is in flight the process stays alive and the owner stays reachable
   * (the kernel owns its buffers); once idle, neither is held any more.
   */
  setBusy(busy: boolean): void {
    if (busy === this.#held) return;
    this.#held = busy;
    if (busy) {
      working.add(this.owner);
      this.backend.hold();
    } else {
      working.delete(this.owner);
      this.backend.release();
    }
  }

  /** Runs `work` (several operations one after another) as one unit: close() waits until it settles. */
  async busy<T>(work: () => Promise<T>): Promise<T> {
    this.#units++;
    try {
      return await work();
    } finally {
      this.#units--;
      this.finishCloseIfIdle();
    }
  }

  /** Resolves once the owner is idle and the backend freed: no completion can arrive any more. */
  close(): Promise<void> {
    if (this.#closeDone) return this.#closeDone;
    this.#closing = true;
    this.#closeDone = new Promise((resolve) => (this.#resolveClose = resolve));
    this.finishCloseIfIdle();
    return this.#closeDone;
  }

  /** Frees the backend if close() was asked for and nothing is left to wait for. */
  finishCloseIfIdle(): void {
    if (!this.#closing || this.#closed) return;
    if (this.#units > 0 || !this.idle() || this.beforeFree()) return;
    this.#finalSubmitCalls = this.backend.submitCalls();
    this.#closed = true;
    this.backend.close();
    // After the microtasks that the last settlements queued: callers' handlers run before close() resolves.
    setImmediate(this.#resolveClose!);
  }
}
