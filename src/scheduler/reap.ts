/**
 * Taking completions out of the backend: every ready one, in as many backend.reap()
 * calls as it takes (each fills the shared completion array up to the capacity), the
 * ops found by their slots and their slots freed. Settling them is the scheduler's,
 * after all are taken (settling can re-enter the scheduler).
 *
 * A backend.reap() that throws leaves its completions in the backend, and since no
 * wake-up may come for them, the pump is retried on a timer (1 ms, doubling to 1 s
 * while reaping keeps failing).
 */
import { DONE_WORDS, type Backend } from "../backends/backend.ts";
import type { Operation } from "./operation.ts";
import type { SlotTable } from "./slots.ts";

export class Reaper {
  #retry: ReturnType<typeof setTimeout> | undefined;
  #retryMs = 0;

  constructor(
    private readonly backend: Backend,
    private readonly slots: SlotTable,
    /** Pumps the scheduler again: the retry after a failed reap. */
    private readonly pump: () => void,
  ) {}

  /**
   * Appends every ready completion to `ops` and `results` (two monomorphic arrays, not
   * one of ops and numbers: this runs once per wake-up at up to a million completions a
   * second). Returns how many it took.
   */
  takeReady(ops: Operation[], results: number[]): number {
    const { done, capacity } = this.backend;
    let taken = 0;
    for (;;) {
      const count = this.#reapOnce();
      if (count <= 0) break;
      for (let i = 0; i < count; i++) {
        const op = this.slots.at(done[i * DONE_WORDS]!);
        this.slots.release(op);
        ops.push(op);
        results.push(done[i * DONE_WORDS + 1]!);
      }
      taken += count;
      if (count < capacity) break;
    }
    return taken;
  }

  /** backend.reap(), or 0 when it throws (see the top of this file). */
  #reapOnce(): number {
    try {
      const count = this.backend.reap();
      this.#retryMs = 0;
      return count;
    } catch {
      if (this.#retry === undefined) {
        this.#retryMs = Math.min(Math.max(1, this.#retryMs * 2), 1000);
        this.#retry = setTimeout(() => {
          this.#retry = undefined;
          this.pump();
        }, this.#retryMs);
      }
      return 0;
    }
  }
}
