/**
 * readMany on a File. A buffered File hands the requests to its Context as they are;
 * a direct (O_DIRECT) File reads the aligned blocks around each request (which merge
 * like any overlapping ranges) and hands back exactly the bytes asked for, as
 * directRead does for one range.
 */
import { dropNative } from "../bounce.ts";
import type { ReadManyOptions, ReadManyRequests } from "../readmany.ts";
import { parseRequests, type ParsedRequests } from "../readmany/requests.ts";
import type { FileCore } from "./core.ts";
import { alignDown, alignUp } from "./direct.ts";

export function fileReadMany(core: FileCore, requests: ReadManyRequests, options: ReadManyOptions | undefined): Promise<Buffer[]> {
  if (!core.alignment) return core.ctx.readMany(core.fd, requests, options);
  return directReadMany(core, requests, options);
}

async function directReadMany(core: FileCore, requests: unknown, options: ReadManyOptions | undefined): Promise<Buffer[]> {
  const parsed = parseRequests(requests);
  if (parsed instanceof Error) throw parsed;
  const blocks = await core.ctx.readMany(core.fd, alignedRequests(parsed, core.alignment), options);
  return blocks.map((block, i) => {
    const skip = parsed.offsets[i]! - alignDown(parsed.offsets[i]!, core.alignment);
    return exactBytes(block, skip, parsed.lengths[i]!);
  });
}

/** Each request widened to the aligned blocks around it (an empty one stays empty). */
function alignedRequests({ count, offsets, lengths }: ParsedRequests, alignment: number): { offset: number; length: number }[] {
  const aligned = new Array<{ offset: number; length: number }>(count);
  for (let i = 0; i < count; i++) {
    const start = alignDown(offsets[i]!, alignment);
    const length = lengths[i] === 0 ? 0 : alignUp(offsets[i]! + lengths[i]!, alignment) - start;
    aligned[i] = { offset: start, length };
  }
  return aligned;
}

/** Bytes [skip, skip + length) of `block`, as far as it reaches, in memory of their own; the block is freed. */
function exactBytes(block: Buffer, skip: number, length: number): Buffer {
  const end = Math.min(block.length, skip + length);
  if (skip === 0 && end === block.length) return block;
  const exact = Buffer.allocUnsafeSlow(Math.max(end - skip, 0));
  if (end > skip) exact.set(block.subarray(skip, end));
  dropNative(block);
  return exact;
}
