/**
 * Options of File's iterators and streams, each property read once at the call
 * (validate.ts's rule): the parsed object is all that is used afterwards.
 */
import { invalidArgType, invalidArgValue, outOfRange } from "../errors.ts";
import { MAX_LENGTH } from "../validate.ts";

export const DEFAULT_CHUNK_SIZE = 65536;
/**
 * readable()'s reads are larger: each chunk also crosses the stream's machinery (a
 * pull, an enqueue that transfers the chunk's ArrayBuffer, the reader's promise).
 * Measured on a cached file (W7, uring): 128 KiB streams about 1.3–1.4× faster than
 * 64 KiB; larger chunks are no faster, as the Buffer each chunk is copied into
 * comes from memory the allocator has not reused (page faults).
 */
export const DEFAULT_READABLE_CHUNK_SIZE = 128 * 1024;
export const DEFAULT_READ_AHEAD = 4;
const DEFAULT_WRITE_BEHIND = 4;
/** More reads (or writes) in flight than this only adds memory: the context's queue bounds the rest. */
const MAX_DEPTH = 1024;

export interface ChunkOptions {
  /** Bytes per read. Default 65536 for chunks(), 131072 for readable(). */
  chunkSize?: number;
  /** First byte. Default 0 (the start of the file, whatever the position). */
  start?: number;
  /** Stop before this byte (exclusive, as Blob.slice). Default: the end of file as the reads see it. */
  end?: number;
  /** Reads kept in flight ahead of the consumer. Default 4. */
  readAhead?: number;
}

export interface LineOptions {
  /** First byte. Default 0. */
  start?: number;
  /** A TextDecoder label. Default "utf-8". */
  encoding?: string;
  /** Bytes per read. Default 65536. */
  chunkSize?: number;
  /** Reads kept in flight ahead of the consumer. Default 4. */
  readAhead?: number;
}

export interface WritableOptions {
  /** Writes kept in flight behind the producer. Default 4. */
  writeBehind?: number;
  /** fdatasync(2) on close. Default false. */
  sync?: boolean;
  /** Bytes gathered into one write. Default 65536 (rounded up to the alignment in direct mode). */
  chunkSize?: number;
  /** Chunks queued in the stream before desiredSize says stop. Default 1. */
  highWaterMark?: number;
}

export interface ParsedChunks {
  chunkSize: number;
  start: number;
  end: number;
  readAhead: number;
}

export interface ParsedWritable {
  writeBehind: number;
  sync: boolean;
  chunkSize: number;
  highWaterMark: number;
}

function fields(options: unknown): Record<string, unknown> {
  if (options === undefined || options === null) return {};
  if (typeof options !== "object") throw invalidArgType("options", "of type object", options);
  return options as Record<string, unknown>;
}

export function integer(name: string, value: unknown, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number") throw invalidArgType(`options.${name}`, "of type number", value);
  if (!Number.isInteger(value) || value < min || value > max) throw outOfRange(`options.${name}`, `an integer >= ${min} && <= ${max}`, value);
  return value;
}

function rangeOf(start: unknown, end: unknown): { start: number; end: number } {
  const first = integer("start", start, 0, 0, Number.MAX_SAFE_INTEGER);
  const last = end === undefined ? Infinity : integer("end", end, 0, first, Number.MAX_SAFE_INTEGER);
  return { start: first, end: last };
}

export function parseChunks(options: unknown, defaultChunkSize = DEFAULT_CHUNK_SIZE): ParsedChunks {
  const { chunkSize, start, end, readAhead } = fields(options);
  return {
    chunkSize: integer("chunkSize", chunkSize, defaultChunkSize, 1, MAX_LENGTH),
    ...rangeOf(start, end),
    readAhead: integer("readAhead", readAhead, DEFAULT_READ_AHEAD, 1, MAX_DEPTH),
  };
}

export function parseLines(options: unknown): ParsedChunks & { encoding: string } {
  const { start, encoding = "utf-8", chunkSize, readAhead } = fields(options);
  if (typeof encoding !== "string") throw invalidArgType("options.encoding", "of type string", encoding);
  try {
    new TextDecoder(encoding as ConstructorParameters<typeof TextDecoder>[0]);
  } catch {
    throw invalidArgValue("options.encoding", encoding, "is not an encoding TextDecoder knows");
  }
  return { ...parseChunks({ chunkSize, readAhead, start }), encoding };
}

export function parseWritable(options: unknown): ParsedWritable {
  const { writeBehind, sync = false, chunkSize, highWaterMark } = fields(options);
  if (typeof sync !== "boolean") throw invalidArgType("options.sync", "of type boolean", sync);
  return {
    writeBehind: integer("writeBehind", writeBehind, DEFAULT_WRITE_BEHIND, 1, MAX_DEPTH),
    sync,
    chunkSize: integer("chunkSize", chunkSize, DEFAULT_CHUNK_SIZE, 1, MAX_LENGTH),
    highWaterMark: integer("highWaterMark", highWaterMark, 1, 0, MAX_LENGTH),
  };
}
