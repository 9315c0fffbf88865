/**
 * The pure TypeScript backend ("js"): each staged operation becomes one node:fs
 * call (pread, pwrite, preadv, pwritev, fsync, fdatasync; the file operations are
 * in js-files.ts). No native code, so it
 * works wherever Bun runs; the scheduler, limits and errors are the same as for
 * the kernel backends.
 */
import { fdatasync, fsync, read, readv, write, writev } from "node:fs";
import {
  DONE_WORDS,
  STAGE_BUF_HI,
  STAGE_BUF_LO,
  OP_FDSYNC,
  OP_FSYNC,
  OP_READ,
  OP_READV,
  OP_WRITE,
  STAGE_FD,
  STAGE_LEN,
  STAGE_OFFSET_HI,
  STAGE_OFFSET_LO,
  STAGE_OPCODE_PRIO,
  STAGE_USER_DATA,
  STAGE_WORDS,
  type Backend,
  type StagedBuffers,
} from "./backend.ts";
import { issueFile, isFileOpcode } from "./js-files.ts";

const EINVAL = -22;
const EIO = -5;
const ESPIPE = -29;
const TWO_POW_32 = 4294967296;

type Done = (error: NodeJS.ErrnoException | null, result?: number) => void;

/** One node:fs call per opcode; `position` null means "the current position" (pipes, FIFOs, ttys). */
function issue(opcode: number, fd: number, buffers: StagedBuffers, position: number | null, done: Done): void {
  switch (opcode) {
    case OP_READ:
      read(fd, buffers as Uint8Array, 0, (buffers as Uint8Array).byteLength, position, done);
      return;
    case OP_WRITE:
      write(fd, buffers as Uint8Array, 0, (buffers as Uint8Array).byteLength, position, done);
      return;
    case OP_READV:
      readv(fd, buffers as Uint8Array[], position, done);
      return;
    case OP_FSYNC:
      fsync(fd, done);
      return;
    case OP_FDSYNC:
      fdatasync(fd, done);
      return;
    default:
      writev(fd, buffers as Uint8Array[], position, done);
  }
}

export class JsBackend implements Backend {
  readonly name = "js";
  readonly stage: Uint32Array;
  readonly done: Int32Array;
  readonly views: (StagedBuffers | null)[];
  onReady: (() => void) | undefined = undefined;
  #ready: number[] = [];
  #readyScheduled = false;
  #submitCalls = 0;

  constructor(readonly capacity: number) {
    this.stage = new Uint32Array(capacity * STAGE_WORDS);
    this.done = new Int32Array(capacity * DONE_WORDS);
    this.views = new Array(capacity).fill(null);
  }

  submit(count: number): number {
    this.#submitCalls++;
    const stage = this.stage;
    for (let i = 0; i < count; i++) {
      const base = i * STAGE_WORDS;
      const slot = stage[base + STAGE_USER_DATA]!;
      const fd = stage[base + STAGE_FD]!;
      const opcode = stage[base + STAGE_OPCODE_PRIO]! & 0xffff;
      const offset = stage[base + STAGE_OFFSET_LO]! + stage[base + STAGE_OFFSET_HI]! * TWO_POW_32;
      // node:fs cannot apply an I/O priority; validation already refused the ones the kernel would.
      if (isFileOpcode(opcode)) this.#startFile(slot, opcode, base, offset);
      else this.#startGuarded(slot, opcode, fd, offset, stage[base + STAGE_LEN]!);
    }
    return count;
  }

  /**
   * #start, with a synchronous throw from node:fs turned into this op's completion
   * (its errno, else EINVAL), so one bad op never stops the rest of the batch.
   */
  #startGuarded(slot: number, opcode: number, fd: number, offset: number, length: number): void {
    try {
      this.#start(slot, opcode, fd, offset, length);
    } catch (error) {
      const errno = (error as NodeJS.ErrnoException | null)?.errno;
      this.#complete(slot, typeof errno === "number" && errno < 0 ? errno : EINVAL);
    }
  }

  /** A file operation (js-files.ts); a synchronous throw is its completion, as for #startGuarded. */
  #startFile(slot: number, opcode: number, base: number, offset: number): void {
    const stage = this.stage;
    const buf = stage[base + STAGE_BUF_LO]! + stage[base + STAGE_BUF_HI]! * TWO_POW_32;
    const finish: Done = (error, result) => this.#complete(slot, error ? (error.errno ?? EIO) : result!);
    try {
      const block = this.views[slot] as Uint8Array | null;
      issueFile(opcode, stage[base + STAGE_FD]! | 0, block, offset, stage[base + STAGE_LEN]!, buf, finish);
    } catch (error) {
      const errno = (error as NodeJS.ErrnoException | null)?.errno;
      this.#complete(slot, typeof errno === "number" && errno < 0 ? errno : EINVAL);
    }
  }

  /** Starts one op; a descriptor that cannot seek (pipe, FIFO) is retried at its current position. */
  #start(slot: number, opcode: number, fd: number, offset: number, length: number): void {
    const buffers = this.views[slot]!;
    const positional = opcode !== OP_FSYNC && opcode !== OP_FDSYNC;
    if (positional && length === 0) {
      this.#complete(slot, 0);
      return;
    }
    const finish: Done = (error, result) => this.#complete(slot, error ? (error.errno ?? EIO) : result!);
    issue(opcode, fd, buffers, positional ? offset : null, (error, result) => {
      if (error?.errno === ESPIPE && positional) issue(opcode, fd, buffers, null, finish);
      else finish(error, result);
    });
  }

  #complete(slot: number, result: number): void {
    this.views[slot] = null;
    this.#ready.push(slot, result);
    if (this.#readyScheduled) return;
    this.#readyScheduled = true;
    // One wake-up for every completion that lands before the next microtask checkpoint.
    queueMicrotask(() => {
      this.#readyScheduled = false;
      this.onReady?.();
    });
  }

  reap(): number {
    const ready = this.#ready;
    const count = Math.min(ready.length / 2, this.capacity);
    const done = this.done;
    for (let i = 0; i < count * 2; i++) done[i] = ready[i]!;
    if (count * 2 === ready.length) ready.length = 0;
    else this.#ready = ready.slice(count * 2);
    return count;
  }

  /** node:fs calls cannot be cancelled; each op completes normally and its buffer is kept until then. */
  cancel(_slots: Uint32Array, count: number): number {
    return count;
  }

  submitCalls(): number {
    return this.#submitCalls;
  }

  features(): number {
    return 0;
  }

  /** Pending node:fs calls keep the process alive by themselves. */
  hold(): void {}

  release(): void {}

  close(): void {}
}

export function openJsBackend(capacity: number): Backend {
  return new JsBackend(capacity);
}
