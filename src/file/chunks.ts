/**
 * Sequential reads with read-ahead (glommio's DmaStreamReader): `readAhead` reads of
 * `chunkSize` stay in flight ahead of the consumer — issued in one tick, they go to
 * the kernel in one submission.
 *
 * Where the consumer keeps its chunks (chunks(), readable()), each read fills a native
 * block of its own, handed out as it is once the read completed: no copy, and the
 * kernel never writes a block the consumer has. The block goes back to c/memory.c when
 * the consumer's buffer is collected (or dropped at once, when a BYOB read copied it),
 * and c/memory.c keeps freed mappings for the next block of the same size, so a chunk
 * lands on pages already faulted in (a fresh mapping per chunk faulted every page:
 * 90-230 MiB/s). Smaller chunks (OWN_BLOCKS_FROM) still go through a ring of
 * readAhead + 1 buffers, allocated once, and are copied out (take()). Where the
 * consumer only scans each chunk (lines()), the ring is used whatever the size, a
 * chunk valid until the next call.
 * Direct (O_DIRECT) Files read each chunk into its own aligned block (ranges need not
 * be aligned), which take() hands out as it is.
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
import { readResult } from "../readbuffers.ts";

interface Pending {
  offset: number;
  size: number;
  /** The ring buffer being filled; null for a read into a block of its own, which the consumer gets. */
  buffer: Buffer | null;
  promise: Promise<Buffer>;
}

/**
 * Chunks at least this large get blocks of their own. Below it the fixed cost of a
 * block (wrapping it in an ArrayBuffer, its collection) and the kernel writing into
 * blocks that come back from the GC cold outweigh the copy out of a ring that stays in
 * the CPU's caches. Measured on the cached 256 MiB file, uring, interleaved medians of
 * 9: chunks() at 64 KiB took 523 ms of CPU per GiB with own blocks against 384 through
 * the ring; at 128 KiB, 299 against 410.
 */
const OWN_BLOCKS_FROM = 128 * 1024;

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
  /** Each read fills a block of its own, handed out without a copy (else the ring). */
  #ownBlocks = false;
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

  /** `consumerKeeps`: the consumer keeps chunks (take()) rather than scanning each before the next. */
  constructor(core: FileCore, { chunkSize, start, end, readAhead }: ParsedChunks, consumerKeeps = false) {
    this.#core = core;
    this.#chunkSize = chunkSize;
    this.#end = end;
    this.#readAhead = readAhead;
    this.#next = start;
    this.#depth = readAhead;
    this.consumerKeeps = consumerKeeps;
  }

  /**
   * Whether the consumer keeps the chunks of the reads issued from now on (own blocks)
   * or copies each out before the next (the ring): readable() switches to the ring for
   * a BYOB reader, which would otherwise make the GC collect a block per chunk (each
   * 128 KiB ArrayBuffer brings the next collection nearer) for nothing.
   */
  set consumerKeeps(keeps: boolean) {
    this.#ownBlocks = keeps && this.#chunkSize >= OWN_BLOCKS_FROM;
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

  /** A chunk the caller may keep: a read's own block as it is, or a copy of a ring buffer's. */
  take(chunk: Buffer): Buffer {
    if (this.#held === null) return chunk;
    const copy = Buffer.allocUnsafeSlow(chunk.length);
    copy.set(chunk);
    return copy;
  }

  /** The consumer is done with `chunk` and kept nothing of it: a read's own block is freed now (a ring buffer is reused anyway). */
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
      const pending = this.#core.alignment ? this.#readDirect(size) : this.#ownBlocks ? this.#readIntoOwnBlock(size) : this.#readIntoRing(size);
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

  /**
   * Always a whole chunkSize block, even for a shorter last read: c/memory.c reuses
   * freed blocks of the same size. A short read (the end of the file) is copied out and
   * its block freed at once, so a small file's chunk does not keep a whole block.
   */
  #readIntoOwnBlock(size: number): Pending {
    const block = alignedBlock(this.#chunkSize, "read");
    const offset = this.#next;
    const view = size === block.length ? block : block.subarray(0, size);
    const promise = this.#core.readInto(view, offset).then((got) => readResult(block, got));
    return { offset, size, buffer: null, promise };
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
  const reader = new ReadAhead(core, options, true);
  try {
    for (let chunk = await reader.next(); chunk !== null; chunk = await reader.next()) yield reader.take(chunk);
  } finally {
    reader.cancel();
  }
}
