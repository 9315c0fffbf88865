/**
 * Web streams over a File, thin adapters as Node's are over positional reads:
 * readable() is a byte stream fed by a ReadAhead (its chunks enqueued as they are,
 * caio's native memory, no copy; a BYOB reader's buffer is filled from them by the
 * stream), writable() a WritableStream over a BlockWriter.
 */
import { invalidArgType } from "../errors.ts";
import { toWritableBytes } from "../validate.ts";
import { ReadAhead } from "./chunks.ts";
import type { FileCore } from "./core.ts";
import type { ParsedChunks, ParsedWritable } from "./options.ts";
import { BlockWriter } from "./writer.ts";

export function readable(core: FileCore, options: ParsedChunks): ReadableStream<Uint8Array> {
  const reader = new ReadAhead(core, options);
  return new ReadableStream(
    {
      type: "bytes",
      async pull(controller) {
        const chunk = await reader.next();
        if (chunk !== null) return controller.enqueue(chunk as Uint8Array<ArrayBuffer>); // read buffers are never shared
        controller.close();
        controller.byobRequest?.respond(0); // a pending BYOB read resolves { done: true }
      },
      cancel() {
        reader.cancel();
      },
    },
    // The ReadAhead keeps its reads in flight; the stream itself holds nothing back.
    { highWaterMark: 0 },
  );
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
