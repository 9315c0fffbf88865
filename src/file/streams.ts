/**
 * Web streams over a File, thin adapters as Node's are over positional reads:
 * readable() is a byte stream fed by a ReadAhead: a default reader gets each chunk's
 * block itself, read into and never written again (the stream transfers what is
 * enqueued, moving the block's memory, never copying it), a BYOB reader gets the bytes
 * copied straight from the read-ahead block into its own; writable() is a
 * WritableStream over a BlockWriter.
 */
import { invalidArgType } from "../errors.ts";
import { toWritableBytes } from "../validate.ts";
import { ReadAhead } from "./chunks.ts";
import type { FileCore } from "./core.ts";
import type { ParsedChunks, ParsedWritable } from "./options.ts";
import { BlockWriter } from "./writer.ts";

export function readable(core: FileCore, options: ParsedChunks): ReadableStream<Uint8Array> {
  const reader = new ReadAhead(core, options, true);
  /** What a BYOB read left of a chunk. */
  let rest: Buffer | null = null;
  const nextChunk = async () => {
    const chunk = rest ?? (await reader.next());
    rest = null;
    return chunk;
  };
  return new ReadableStream(
    {
      type: "bytes",
      async pull(controller) {
        const request = controller.byobRequest;
        reader.consumerKeeps = !request?.view;
        const chunk = await nextChunk();
        if (chunk === null) {
          controller.close();
          request?.respond(0); // a pending BYOB read resolves { done: true }
        } else if (request?.view) {
          request.respond(fillView(request.view, chunk));
        } else {
          controller.enqueue(reader.take(chunk) as Uint8Array<ArrayBuffer>); // its own block or a copy, never the ring's: the stream transfers it
        }
      },
      cancel() {
        reader.cancel();
      },
    },
    // The ReadAhead keeps its reads in flight; the stream itself holds nothing back.
    { highWaterMark: 0 },
  );

  /** Copies what fits of `chunk` into a BYOB reader's view (keeping the rest); the bytes copied. */
  function fillView(view: ArrayBufferView, chunk: Buffer): number {
    const target = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
    const count = Math.min(target.length, chunk.length);
    target.set(count === chunk.length ? chunk : chunk.subarray(0, count));
    if (count < chunk.length) rest = chunk.subarray(count);
    else reader.discard(chunk);
    return count;
  }
}

/** Bytes of a chunk written to writable(): a string as UTF-8, a view as the memory it views. */
function chunkBytes(chunk: unknown): Uint8Array {
  const own = toWritableBytes(chunk);
  if (!(own instanceof Error)) return own.bytes;
  throw invalidArgType("chunk", "of type string or an instance of ArrayBuffer, Buffer, TypedArray or DataView", chunk);
}

/**
 * writable() from `start`; `moved(end)` tells the File where its position is now.
 * `onClose` runs after the last write (fdatasync with { sync: true }).
 */
export function writable(
  core: FileCore,
  start: number,
  options: ParsedWritable,
  moved: (end: number) => void,
): WritableStream<string | ArrayBufferView> {
  const writer = new BlockWriter(core, start, options.chunkSize, options.writeBehind);
  let end = start;
  return new WritableStream<string | ArrayBufferView>(
    {
      start(controller) {
        writer.onFailure = (error) => controller.error(error);
      },
      async write(chunk) {
        core.enter("write");
        const bytes = chunkBytes(chunk);
        moved((end += bytes.length));
        await writer.write(bytes);
      },
      async close() {
        core.enter("write");
        await writer.close();
        if (options.sync) await core.track(core.ctx.fdsync(core.fd));
      },
      abort() {
        return writer.abort();
      },
    },
    new CountQueuingStrategy({ highWaterMark: options.highWaterMark }),
  );
}
