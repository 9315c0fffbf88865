/**
 * Sequential reads with read-ahead (glommio's DmaStreamReader): `readAhead` reads of
 * `chunkSize` stay in flight ahead of the consumer — issued in one tick, they go to
 * the kernel in one submission — and each chunk is the native Buffer its read filled,
 * handed over without a copy.
 *
 * The end of the file is whatever the reads see: a read that comes back short ends
 * its chunk there, the reads issued after it are dropped (their bytes would leave a
 * gap, or be stale), and reading goes on from where it stopped, one read at a time
 * until a full one arrives; a read of nothing is the end. A growing file is followed,
 * a shrinking one ends where a read found its end.
 */
import { dropNative } from "../bounce.ts";
import type { FileCore } from "./core.ts";
import type { ParsedChunks } from "./options.ts";

interface Pending {
  offset: number;
  size: number;
  promise: Promise<Buffer>;
}

const ignore = () => {};

/** A chunk nobody will see: freed once its read completes (never while the kernel may write it). */
function release(pending: Pending): void {
  pending.promise.then(dropNative, ignore);
}

export class ReadAhead {
  readonly #core: FileCore;
  readonly #chunkSize: number;
  readonly #end: number;
  readonly #readAhead: number;
  readonly #queue: Pending[] = [];
  /** Offset of the next read to issue. */
  #next: number;
  /** Reads allowed in flight now: 1 after a short read, readAhead once a full one came. */
  #depth: number;
  #done = false;

  constructor(core: FileCore, { chunkSize, start, end, readAhead }: ParsedChunks) {
    this.#core = core;
    this.#chunkSize = chunkSize;
    this.#end = end;
    this.#readAhead = readAhead;
    this.#next = start;
    this.#depth = readAhead;
  }

  /** The next chunk, or null at the end. A failed read rejects, and ends the reader. */
  async next(): Promise<Buffer | null> {
    this.#fill();
    const head = this.#queue.shift();
    if (!head) return null;
    let chunk: Buffer;
    try {
      chunk = await head.promise;
    } catch (error) {
      this.cancel();
      throw error;
    }
    if (chunk.length === head.size) {
      this.#depth = this.#readAhead;
      return chunk;
    }
    this.#restartAt(head.offset + chunk.length);
    if (chunk.length > 0) return chunk;
    this.cancel();
    return null;
  }

  /** Stops reading ahead; chunks in flight are freed once their reads complete. */
  cancel(): void {
    this.#done = true;
    for (const pending of this.#queue.splice(0)) release(pending);
  }

  /** Issues reads until `depth` are in flight (or the range is covered). */
  #fill(): void {
    if (this.#done) return;
    while (this.#queue.length < this.#depth && this.#next < this.#end) {
      this.#core.enter("read");
      const size = Math.min(this.#chunkSize, this.#end - this.#next);
      const promise = this.#core.readAt(size, this.#next);
      promise.catch(ignore); // awaited in order by next(); a rejection before then is not unhandled
      this.#queue.push({ offset: this.#next, size, promise });
      this.#next += size;
    }
  }

  /** After a short read: drop the reads issued past it, go on from `offset` one read at a time. */
  #restartAt(offset: number): void {
    for (const pending of this.#queue.splice(0)) release(pending);
    this.#next = offset;
    this.#depth = 1;
  }
}

/** file.chunks(): the ReadAhead as an async iterable; `break` stops it. */
export async function* chunks(core: FileCore, options: ParsedChunks): AsyncGenerator<Buffer, void, undefined> {
  const reader = new ReadAhead(core, options);
  try {
    for (let chunk = await reader.next(); chunk !== null; chunk = await reader.next()) yield chunk;
  } finally {
    reader.cancel();
  }
}
