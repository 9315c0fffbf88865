/**
 * Submission: stages queued operations into free slots of the backend's shared array
 * and hands them over in one call. What is not consumed goes back to the front of the
 * queue in order; a throw while one op is staged or submitted rejects that op alone.
 */
import { STAGE_OPCODE_PRIO, STAGE_WORDS, type Backend } from "../backends/backend.ts";
import { internalFailure, invalidState } from "../errors.ts";
import { kindOf } from "./kinds.ts";
import { ENOMEM, OP_F_OWNED, releaseMemory } from "./memory.ts";
import { IN_FLIGHT, type Operation } from "./operation.ts";
import type { OpQueue, SlotTable } from "./slots.ts";

const EAGAIN = -11;

/** What the scheduler lends the submitter: its queue and slots, and how a queued op settles without running. */
export interface SubmitContext {
  readonly backend: Backend;
  readonly slots: SlotTable;
  readonly queue: OpQueue;
  /** The address staged for zero-length memory. */
  readonly emptyAddress: number;
  /** Descriptors of open Files, whose ops are flagged OP_F_OWNED for a native backend. */
  readonly filesFds: ReadonlySet<number>;
  /** Operations in flight before this submission. */
  inFlight(): number;
  /** A queued op settles without being submitted: with a result (-errno) or a rejection. */
  settleQueued(op: Operation, outcome: number | Error): void;
}

export class Submitter {
  readonly #batch: Operation[] = [];
  /** Operations whose bytes went through a bounce block (Stats.bounced). */
  bounced = 0;
  #consumed = 0;

  constructor(private readonly host: SubmitContext) {}

  /** Stages as many queued ops as there are free slots and submits them; returns how many are now in flight. */
  submitQueued(): number {
    const { slots, queue } = this.host;
    const batch = this.#batch;
    this.#consumed = 0;
    try {
      while (slots.free > 0) {
        const op = queue.next();
        if (!op) break;
        if (this.#stage(op, batch.length)) batch.push(op);
      }
      if (batch.length > 0) this.#submitBatch(batch);
    } finally {
      batch.length = 0;
      queue.compact();
    }
    return this.#consumed;
  }

  /** Writes op into staging position `index` and gives it a slot; false if it was settled instead. */
  #stage(op: Operation, index: number): boolean {
    const { backend, slots } = this.host;
    try {
      const kind = kindOf(op);
      const claimed = kind.claim(op);
      if (claimed !== true) {
        this.host.settleQueued(op, claimed === ENOMEM ? ENOMEM : invalidState("The buffer was detached before the operation was submitted"));
        return false;
      }
      slots.take(op);
      kind.encode(op, backend.stage, index, backend.views ? -1 : this.host.emptyAddress);
      if (kind.usesFd && this.#ofFile(op.fd)) {
        const at = index * STAGE_WORDS + STAGE_OPCODE_PRIO;
        backend.stage[at] = backend.stage[at]! | OP_F_OWNED;
      }
      return true;
    } catch (error) {
      if (op.slot >= 0) slots.release(op);
      this.host.settleQueued(op, internalFailure("staged", error));
      return false;
    }
  }

  /** fd belongs to an open File and the backend is native (the js backend reads no flags). */
  #ofFile(fd: number): boolean {
    const files = this.host.filesFds;
    return files.size > 0 && !this.host.backend.views && files.has(fd);
  }

  #submitBatch(batch: Operation[]): void {
    let result: number;
    try {
      result = this.host.backend.submit(batch.length);
    } catch {
      // A backend that throws has consumed nothing: find the op that makes it throw by submitting one at a time.
      this.#submitOneByOne(batch);
      return;
    }
    this.#afterSubmit(batch, 0, batch.length, result);
  }

  /**
   * Books the result of submitting batch[from, to): the consumed prefix is in flight,
   * a hard error settles the first op, the rest go back to the front of the queue.
   */
  #afterSubmit(batch: Operation[], from: number, to: number, result: number): void {
    const { slots, queue } = this.host;
    let consumed = result < 0 ? 0 : result;
    for (let i = from; i < from + consumed; i++) {
      batch[i]!.state = IN_FLIGHT;
      if (batch[i]!.block) this.bounced++;
    }
    this.#consumed += consumed;
    if (result < 0 && (result !== EAGAIN || this.host.inFlight() + this.#consumed === 0)) {
      // Nothing in flight will free resources, so the first op takes the error rather than waiting forever.
      const first = batch[from]!;
      slots.release(first);
      this.host.settleQueued(first, result);
      consumed = 1;
    }
    // Whatever was not consumed goes back to the front of the queue, in order; it is staged afresh later.
    for (let i = to - 1; i >= from + consumed; i--) {
      slots.release(batch[i]!);
      releaseMemory(batch[i]!);
      queue.putBack(batch[i]!);
    }
  }

  /** Submits each staged op of `batch` on its own; an op whose submission throws is rejected alone. */
  #submitOneByOne(batch: Operation[]): void {
    const { backend, slots } = this.host;
    const stage = backend.stage;
    for (let i = 0; i < batch.length; i++) {
      const op = batch[i]!;
      if (i > 0) stage.copyWithin(0, i * STAGE_WORDS, (i + 1) * STAGE_WORDS);
      let result: number;
      try {
        result = backend.submit(1);
      } catch (error) {
        slots.release(op);
        this.host.settleQueued(op, internalFailure("submitted", error));
        continue;
      }
      if (result === 1) {
        this.#afterSubmit(batch, i, i + 1, result);
        continue;
      }
      // Not taken: this op and everything after it wait for the next pump, in order.
      this.#afterSubmit(batch, i, batch.length, result);
      return;
    }
  }
}
