/**
 * A Backend over one native contract (c/common.h). Shared by every C backend; they
 * differ only in their symbol prefix and how they explain a refused setup.
 */
import { ptr, type Pointer } from "bun:ffi";
import type { NativeContract } from "../native.ts";
import { DONE_WORDS, STAGE_WORDS, type Backend, type BackendName } from "./backend.ts";
import { WakeSocket } from "./wake.ts";

/** Address of a typed array whose storage will not move (see Bun issue #32054: touch .buffer first). */
export function stableAddress(view: ArrayBufferView): number {
  void view.buffer;
  return ptr(view as Uint8Array);
}

export class NativeBackend implements Backend {
  readonly stage: Uint32Array;
  readonly done: Int32Array;
  onReady: (() => void) | undefined = undefined;
  readonly #wake: WakeSocket;
  #handle: Pointer | 0;
  #stageAddress: number;
  #doneAddress: number;
  #info = new BigUint64Array(2);
  #infoAddress = stableAddress(this.#info);
  #cancelSlots: Uint32Array | undefined = undefined;
  #cancelAddress = 0;

  constructor(
    readonly name: BackendName,
    private readonly native: NativeContract,
    readonly capacity: number,
    explainOpenError: (negativeErrno: number) => Error,
    option = 0,
  ) {
    const out = new BigUint64Array(1);
    const rc = native.open(capacity, option, stableAddress(out) as Pointer);
    if (rc < 0) throw explainOpenError(rc);
    this.#handle = Number(out[0]) as Pointer;
    this.stage = new Uint32Array(capacity * STAGE_WORDS);
    this.done = new Int32Array(capacity * DONE_WORDS);
    this.#stageAddress = stableAddress(this.stage);
    this.#doneAddress = stableAddress(this.done);
    this.#wake = new WakeSocket(native.wake_fd(this.#handle), () => this.onReady?.());
  }

  submit(count: number): number {
    return this.native.submit(this.#live(), this.#stageAddress as Pointer, count);
  }

  reap(): number {
    return this.native.reap(this.#live(), this.#doneAddress as Pointer, this.capacity);
  }

  /**
   * Asks the backend to cancel the ops in slots[0 .. count); returns how many were
   * taken from the front (offer the rest again after the next reap), or -errno.
   * Each op still completes once through reap(); reap right after this call.
   */
  cancel(slots: Uint32Array, count: number): number {
    if (count === 0) return 0;
    if (count > slots.length) throw new RangeError("caio: cancel count exceeds its slot array (a bug in caio)");
    return this.native.cancel(this.#live(), this.#cancelAddressOf(slots) as Pointer, count);
  }

  submitCalls(): number {
    this.native.info(this.#live(), this.#infoAddress as Pointer);
    return Number(this.#info[0]);
  }

  /** Backend-specific bits fixed at open (io_uring: the IORING_SETUP_* flags the kernel accepted). */
  features(): number {
    this.native.info(this.#live(), this.#infoAddress as Pointer);
    return Number(this.#info[1]! >> 32n);
  }

  hold(): void {
    this.#wake.hold();
  }

  release(): void {
    this.#wake.release();
  }

  close(): void {
    if (this.#handle === 0) return;
    const handle = this.#handle;
    this.#handle = 0;
    this.native.close(handle);
    this.#wake.close();
  }

  /** The scheduler passes the same array every time: its address is looked up once. */
  #cancelAddressOf(slots: Uint32Array): number {
    if (slots !== this.#cancelSlots) {
      this.#cancelSlots = slots;
      this.#cancelAddress = stableAddress(slots);
    }
    return this.#cancelAddress;
  }

  #live(): Pointer {
    if (this.#handle === 0) throw new Error("caio: native backend used after close (a bug in caio)");
    return this.#handle;
  }
}
