/**
 * The queue of operations waiting for a slot, and the slot table of those in flight.
 * A slot index is the `user_data` the kernel hands back; the table maps it back to
 * its operation.
 */
import type { StagedBuffers } from "../backends/backend.ts";
import { QUEUED, type Operation } from "./operation.ts";

/** FIFO of queued operations; ops the backend did not take go back to the front, in order. */
export class OpQueue {
  #items: Operation[] = [];
  #head = 0;

  push(op: Operation): void {
    this.#items.push(op);
  }

  /** The oldest operation still queued (aborted ones are skipped and dropped). */
  next(): Operation | undefined {
    while (this.#head < this.#items.length) {
      const op = this.#items[this.#head++]!;
      if (op.state === QUEUED) return op;
    }
    return undefined;
  }

  /** Puts an operation taken by next() back in front; call in reverse order to keep the FIFO order. */
  putBack(op: Operation): void {
    this.#items[--this.#head] = op;
  }

  /** Drops consumed entries once they are most of the array. */
  compact(): void {
    if (this.#head === this.#items.length) {
      this.#items.length = 0;
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
  }
}

export class SlotTable {
  readonly #ops: (Operation | undefined)[];
  readonly #free: number[] = [];

  /** `views`: the backend's per-slot buffer table (js), kept in step with the slots. */
  constructor(
    capacity: number,
    private readonly views: (StagedBuffers | null)[] | undefined,
  ) {
    this.#ops = new Array(capacity).fill(undefined);
    for (let slot = capacity - 1; slot >= 0; slot--) this.#free.push(slot);
  }

  get free(): number {
    return this.#free.length;
  }

  /** Gives op a free slot (the caller checked `free`). */
  take(op: Operation): void {
    const slot = this.#free.pop()!;
    this.#ops[slot] = op;
    op.slot = slot;
    if (this.views) this.views[slot] = op.ioViews ?? op.io;
  }

  release(op: Operation): void {
    this.#ops[op.slot] = undefined;
    if (this.views) this.views[op.slot] = null;
    this.#free.push(op.slot);
    op.slot = -1;
  }

  /** The operation in `slot` (a completion's user_data). */
  at(slot: number): Operation {
    return this.#ops[slot]!;
  }

  /** True while op still owns its slot (its completion has not been reaped). */
  holds(op: Operation): boolean {
    return op.slot >= 0 && this.#ops[op.slot] === op;
  }
}
