/**
 * Sequential reads with read-ahead (glommio's DmaStreamReader): `readAhead` reads of
 * `chunkSize` stay in flight ahead of the consumer — issued in one tick, they go to
 * the kernel in one submission.
 *
 * They read into a ring of readAhead + 1 native buffers, allocated once: one chunk
 * with the consumer, the others being filled. A chunk from next() is a view of its ring
 * buffer, valid until the next call; lines() splits it in place, chunks() and
 * readable() hand out a copy (take()). Measured on a cached file, a fresh native block
 * per read (allocation, the native bookkeeping, a GC-driven free) costs two to three
 * times what a reused buffer plus a copy into a plain Buffer does. Direct (O_DIRECT)
 * Files read each chunk into its own aligned block instead (ranges need not be
 * aligned), which take() hands out as it is.
 *
 * The end of the file is whatever the reads see: a read that comes back short ends
 * its chunk there, the reads issued after it are dropped (their bytes would leave a
 * gap, or be stale), and reading goes on from where it stopped, one read at a time
 * until a full one arrives; a read of nothing is the end. A growing file is followed,
 * a shrinking one ends where a read found its end.
 */
import { dropNative } from "../bounce.ts";
import type { FileCore } from "./core.ts";
import { alignedBlock } from "./direct.ts";
import type { ParsedChunks } from "./options.ts";

interface Pending {
  offset: number;
  size: number;
  /** The ring buffer being filled; null for a direct read, which makes its own. */
  buffer: Buffer | null;
  promise: Promise<Buffer>;
}

const ignore = () => {};
/**
 * Reads of cached data complete within the tick that submits them, so a consumer that
 * never waits for anything else would run on microtasks alone and starve timers and
 * sockets for the whole file. After this long without a turn of the event loop, the
 * next chunk waits for one.
 */
const YIELD_AFTER_MS = 2;
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A read nobody will see: its memory is freed once the read completes (never while the kernel may write it). */
function release(pending: Pending): void {
  pending.promise.then(dropNative, ignore);
}

export class ReadAhead {
  readonly #core: FileCore;
  readonly #chunkSize: number;
  readonly #end: number;
  readonly #readAhead: number;
  readonly #queue: Pending[] = [];
  /** Ring buffers neither being filled nor with the consumer. */
  readonly #free: Buffer[] = [];
  /** The ring buffer of the chunk the consumer has now. */
  #held: Buffer | null = null;
  /** Offset of the next read to issue. */
  #next: number;
  /** Reads allowed in flight now: 1 after a short read, readAhead once a full one came. */
  #depth: number;
  #done = false;
  /** When the event loop last had a turn, as far as this reader knows. */
  #turn = performance.now();

  constructor(core: FileCore, { chunkSize, start, end, readAhead }: ParsedChunks) {
    this.#core = core;
    this.#chunkSize = chunkSize;
    this.#end = end;
    this.#readAhead = readAhead;
    this.#next = start;
    this.#depth = readAhead;
  }

  /** The next chunk (valid until the next call), or null at the end. A failed read rejects, and ends the reader. */
  async next(): Promise<Buffer | null> {
    this.#recycle();
    this.#fill();
    if (performance.now() - this.#turn > YIELD_AFTER_MS) {
      await nextTurn();
      this.#turn = performance.now();
    }
    const head = this.#queue.shift();
    if (!head) return null;
    let chunk: Buffer;
    try {
      chunk = await head.promise;
    } catch (error) {
      this.cancel();
      throw error;
    }
    this.#held = head.buffer;
    if (chunk.length === head.size) {
      this.#depth = this.#readAhead;
      return chunk;
    }
    this.#restartAt(head.offset + chunk.length);
    if (chunk.length > 0) return chunk;
    this.cancel();
    return null;
  }

  /** A chunk the caller may keep: a copy of a ring buffer's, or a direct read's own block. */
  take(chunk: Buffer): Buffer {
    if (this.#held === null) return chunk;
    const copy = Buffer.allocUnsafeSlow(chunk.length);
    copy.set(chunk);
    return copy;
  }

  /** The consumer is done with `chunk` and kept nothing of it: a direct read's block is freed now (a ring buffer is reused anyway). */
  discard(chunk: Buffer): void {
    if (this.#held === null) dropNative(chunk);
  }

  /** Stops reading ahead; buffers in flight are freed once their reads complete. */
  cancel(): void {
    this.#done = true;
    for (const pending of this.#queue.splice(0)) release(pending);
    this.#recycle();
    for (const buffer of this.#free.splice(0)) dropNative(buffer);
  }

  /** The consumer is done with its chunk: its ring buffer can be filled again. */
  #recycle(): void {
    if (this.#held) this.#free.push(this.#held);
    this.#held = null;
  }

  /** Issues reads until `depth` are in flight (or the range is covered). */
  #fill(): void {
    if (this.#done) return;
    while (this.#queue.length < this.#depth && this.#next < this.#end) {
      this.#core.enter("read");
      const size = Math.min(this.#chunkSize, this.#end - this.#next);
      const pending = this.#core.alignment ? this.#readDirect(size) : this.#readIntoRing(size);
      pending.promise.catch(ignore); // awaited in order by next(); a rejection before then is not unhandled
      this.#queue.push(pending);
      this.#next += size;
    }
  }

  #readIntoRing(size: number): Pending {
    const buffer = this.#free.pop() ?? alignedBlock(this.#chunkSize, "read");
    const offset = this.#next;
    const view = size === buffer.length ? buffer : buffer.subarray(0, size);
    const promise = this.#core.readInto(view, offset).then((got) => (got === buffer.length ? buffer : buffer.subarray(0, got)));
    return { offset, size, buffer, promise };
  }

  #readDirect(size: number): Pending {
    return { offset: this.#next, size, buffer: null, promise: this.#core.readAt(size, this.#next) };
  }

  /** After a short read: drop the reads issued past it, go on from `offset` one read at a time. */
  #restartAt(offset: number): void {
    for (const pending of this.#queue.splice(0)) release(pending);
    this.#next = offset;
    this.#depth = 1;
  }
}

/** file.chunks(): the ReadAhead as an async iterable of Buffers the caller keeps; `break` stops it. */
export async function* chunks(core: FileCore, options: ParsedChunks): AsyncGenerator<Buffer, void, undefined> {
  const reader = new ReadAhead(core, options);
  try {
    for (let chunk = await reader.next(); chunk !== null; chunk = await reader.next()) yield reader.take(chunk);
  } finally {
    reader.cancel();
  }
}
