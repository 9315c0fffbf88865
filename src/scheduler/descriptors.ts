/**
 * What the scheduler knows about descriptors: which operations use each one (so
 * closeFd can wait until none does, and a number is never reused under them), and
 * the opens parked after the kernel said EMFILE/ENFILE, waiting for a descriptor to
 * come back (graceful-fs's rule: one retry per close that succeeded; when nothing
 * is in flight any more, every parked open tries once more and a limit reached
 * then is the caller's).
 */
import type { OpKind } from "./kinds.ts";
import { QUEUED, type Operation } from "./operation.ts";

export class Descriptors {
  /**
   * Descriptors of open Files: caio opened them and only caio closes them, so the
   * backend may keep what it learnt about them until then (OP_F_OWNED).
   */
  readonly ofFiles = new Set<number>();
  /** Queued and in-flight operations per descriptor. */
  readonly #users = new Map<number, number>();
  readonly #drains = new Map<number, (() => void)[]>();
  #parked: Operation[] = [];
  #head = 0;
  #checkScheduled = false;

  /** `requeue`: puts parked ops back in the scheduler's queue; `idle`: nothing is in flight. */
  constructor(
    private readonly requeue: (ops: Operation[]) => void,
    private readonly idle: () => boolean,
  ) {}

  /** Counts op among fd's users if its kind uses fd as a descriptor. */
  track(op: Operation, kind: OpKind): void {
    if (!kind.usesFd || op.fd < 0) return;
    op.tracked = true;
    this.#users.set(op.fd, (this.#users.get(op.fd) ?? 0) + 1);
  }

  /** op is finished: no kernel or worker touches its fd for it any more. */
  untrack(op: Operation): void {
    if (!op.tracked) return;
    op.tracked = false;
    const left = this.#users.get(op.fd)! - 1;
    if (left > 0) {
      this.#users.set(op.fd, left);
      return;
    }
    this.#users.delete(op.fd);
    const drains = this.#drains.get(op.fd);
    if (!drains) return;
    this.#drains.delete(op.fd);
    for (const resolve of drains) resolve();
  }

  /** Resolves once no operation of this scheduler uses `fd`; undefined if none does now. */
  drained(fd: number): Promise<void> | undefined {
    if (!this.#users.has(fd)) return undefined;
    return new Promise((resolve) => {
      const drains = this.#drains.get(fd);
      if (drains) drains.push(resolve);
      else this.#drains.set(fd, [resolve]);
    });
  }

  park(op: Operation): void {
    this.#parked.push(op);
    this.whenIdle();
  }

  /** A descriptor came back: the oldest parked open tries again. */
  freed(): void {
    const ops = this.#unpark(1);
    if (ops.length > 0) this.requeue(ops);
  }

  /**
   * Once this turn's callbacks have run (a readFile may be about to close another
   * file), parked opens with nothing in flight to wait for try one last time.
   */
  whenIdle(): void {
    if (this.#checkScheduled || !this.#hasParked()) return;
    this.#checkScheduled = true;
    setImmediate(() => {
      this.#checkScheduled = false;
      if (!this.idle()) return; // the scheduler calls whenIdle again once nothing is in flight
      const ops = this.#unpark(Infinity);
      for (const op of ops) op.lastTry = true;
      if (ops.length > 0) this.requeue(ops);
    });
  }

  /** True while some parked op still waits (aborted ones are dropped). */
  #hasParked(): boolean {
    while (this.#head < this.#parked.length && this.#parked[this.#head]!.state !== QUEUED) this.#head++;
    this.#compact();
    return this.#head < this.#parked.length;
  }

  /** Up to `count` parked ops, oldest first, no longer parked; Infinity takes them all. */
  #unpark(count: number): Operation[] {
    const taken: Operation[] = [];
    while (this.#head < this.#parked.length && taken.length < count) {
      const op = this.#parked[this.#head++]!;
      if (op.state === QUEUED) taken.push(op);
    }
    this.#compact();
    return taken;
  }

  #compact(): void {
    if (this.#head === this.#parked.length) {
      // In place: this runs on every pump that leaves nothing in flight, usually with nothing parked.
      this.#parked.length = 0;
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#parked.length) {
      this.#parked = this.#parked.slice(this.#head);
      this.#head = 0;
    }
  }
}
