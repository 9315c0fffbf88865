/**
 * The engine of file.writable() (glommio's DmaStreamWriter): bytes are gathered into
 * blocks of caio's native memory (the kernel writes from them directly, and the
 * caller may reuse its own buffer as soon as its write resolves), each full block is
 * written at once, and up to `writeBehind` writes stay in flight; the next block waits
 * for the oldest, which is the stream's backpressure. A chunk at least a block long
 * that finds no bytes waiting is written as one block of its own.
 *
 * On a direct (O_DIRECT) File blocks are aligned: a start inside a block first reads
 * that block's head, and close() writes the last block padded to the alignment (with
 * the file's own bytes past ours, read first) and truncates the file back to its true
 * length.
 */
import { dropNative } from "../bounce.ts";
import { alignDown, alignedBlock, alignUp, directRead, writeBlock } from "./direct.ts";
import type { FileCore } from "./core.ts";

export class BlockWriter {
  readonly #core: FileCore;
  readonly #align: number;
  readonly #blockSize: number;
  readonly #writeBehind: number;
  readonly #inFlight: Promise<void>[] = [];
  #stage: Buffer | null = null;
  #staged = 0;
  /** File offset of the stage's first byte (aligned in direct mode). */
  #stageOffset: number;
  /** File offset after the last byte written to this writer. */
  #end: number;
  #failure: unknown;
  /** Called with the first failed write's error (the stream errors itself with it). */
  onFailure: (error: unknown) => void = () => {};

  constructor(core: FileCore, start: number, chunkSize: number, writeBehind: number) {
    this.#core = core;
    this.#align = core.alignment;
    this.#blockSize = this.#align ? alignUp(chunkSize, this.#align) : chunkSize;
    this.#writeBehind = writeBehind;
    this.#stageOffset = this.#align ? alignDown(start, this.#align) : start;
    this.#end = start;
  }

  async write(bytes: Uint8Array): Promise<void> {
    if (this.#stage === null && this.#stageOffset < this.#end) await this.#readHead();
    for (let from = 0; from < bytes.length; ) {
      this.#check();
      const rest = bytes.length - from;
      if (this.#staged === 0 && rest >= this.#blockSize) {
        const length = this.#align ? alignDown(rest, this.#align) : rest;
        const block = alignedBlock(length, "write");
        block.set(bytes.subarray(from, from + length));
        this.#end += length;
        from += length;
        await this.#issue(block, block);
        continue;
      }
      const stage = (this.#stage ??= alignedBlock(this.#blockSize, "write"));
      const taken = Math.min(stage.length - this.#staged, rest);
      stage.set(bytes.subarray(from, from + taken), this.#staged);
      this.#staged += taken;
      this.#end += taken;
      from += taken;
      if (this.#staged === stage.length) await this.#flushStage(stage.length);
    }
  }

  /** Writes what is staged (the last block padded in direct mode), waits for every write, then truncates back if padded. */
  async close(): Promise<void> {
    this.#check();
    let trueEnd = -1;
    if (this.#staged > 0 && this.#align) trueEnd = await this.#padTail();
    if (this.#staged > 0) await this.#flushStage(this.#align ? alignUp(this.#staged, this.#align) : this.#staged);
    await Promise.all(this.#inFlight.splice(0));
    this.#check();
    if (trueEnd >= 0) await this.#core.ctx.truncate(this.#core.fd, trueEnd);
  }

  /** Stops: nothing more is written; resolves once every write in flight has settled. */
  async abort(): Promise<void> {
    this.#failure ??= new Error("aborted");
    if (this.#stage) dropNative(this.#stage);
    this.#stage = null;
    await Promise.allSettled(this.#inFlight.splice(0));
  }

  #check(): void {
    if (this.#failure !== undefined) throw this.#failure;
  }

  /** Direct mode, start inside a block: the block's bytes before the start are the file's own (zeros past its end). */
  async #readHead(): Promise<void> {
    const stage = (this.#stage = alignedBlock(this.#blockSize, "write"));
    const head = this.#end - this.#stageOffset;
    stage.fill(0, 0, head);
    const { bytes } = await this.#existing(this.#stageOffset, this.#end);
    stage.set(bytes);
    this.#staged = head;
  }

  /**
   * Direct mode, close: the last block goes out whole, padded with zeros or, where the
   * file goes on past our bytes, with its own bytes. Resolves with the length to
   * truncate back to, or -1 when the file already reached past the block.
   */
  async #padTail(): Promise<number> {
    const stage = this.#stage!;
    const padded = alignUp(this.#staged, this.#align);
    if (padded === this.#staged) return -1;
    const ourEnd = this.#stageOffset + this.#staged;
    const blockEnd = this.#stageOffset + padded;
    stage.fill(0, this.#staged, padded);
    const { bytes, size } = await this.#existing(ourEnd, blockEnd);
    stage.set(bytes, this.#staged);
    return size >= blockEnd ? -1 : Math.max(size, ourEnd);
  }

  /** The file's bytes in [from, to) as far as it has them (read only when it has any: a write-only file can be padded too), and its size. */
  async #existing(from: number, to: number): Promise<{ bytes: Buffer; size: number }> {
    const { size } = await this.#core.track(this.#core.ctx.stat(this.#core.fd));
    if (size <= from) return { bytes: Buffer.alloc(0), size };
    return { bytes: await directRead(this.#core, Math.min(size, to) - from, from), size };
  }

  async #flushStage(length: number): Promise<void> {
    const stage = this.#stage!;
    this.#stage = null;
    this.#staged = 0;
    await this.#issue(length === stage.length ? stage : stage.subarray(0, length), stage);
  }

  /** Writes `block` at the stage's offset; waits for the oldest write while writeBehind are in flight. */
  async #issue(block: Buffer, owner: Buffer): Promise<void> {
    const offset = this.#stageOffset;
    this.#stageOffset += block.length;
    const write = this.#core.track(this.#align ? writeBlock(this.#core, block, offset) : this.#core.writeAt(block, offset));
    this.#inFlight.push(
      write.then(
        () => dropNative(owner),
        (error) => {
          dropNative(owner);
          if (this.#failure === undefined) {
            this.#failure = error;
            this.onFailure(error);
          }
        },
      ),
    );
    if (this.#inFlight.length >= this.#writeBehind) await this.#inFlight.shift();
    this.#check();
  }
}
