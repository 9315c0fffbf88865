/**
 * readMany's arguments, checked Node-style and read once each: the requests become
 * two flat arrays (offset and length per request, in request order) that nothing
 * after this looks past, so getters that change their answer, Proxies and arrays
 * that grow under the call change nothing.
 */
import { types } from "node:util";
import { MAX_TRANSFER } from "../bounce.ts";
import { invalidArgType, outOfRange, type CodedError } from "../errors.ts";
import { MAX_LENGTH, parseOptions, type OperationOptions, type ParsedOptions } from "../validate.ts";
import { isArray } from "../views.ts";

/** One range: `length` bytes at `offset`. */
export interface ReadRequest {
  offset: number | bigint;
  length: number;
}

/** Fixed-size reads: `length` bytes at each of `offsets`, one request per offset. */
export interface FixedSizeReads {
  offsets: Float64Array | readonly number[];
  length: number;
}

/** An array of ranges (fixed-size groups may stand among them), or one fixed-size group. */
export type ReadManyRequests = readonly (ReadRequest | FixedSizeReads)[] | FixedSizeReads;

export interface ReadManyOptions extends OperationOptions {
  /**
   * Adjacent or overlapping ranges are read as one while the merged range stays within
   * this many bytes (0: never merge). Default 131072 (128 KiB).
   */
  mergeLimit?: number;
}

export const DEFAULT_MERGE_LIMIT = 128 * 1024;
/** Requests in one call: a bound on what a lying `length` can make caio allocate. */
export const MAX_REQUESTS = 2 ** 24;

const INITIAL_CAPACITY_LIMIT = 4096;

/** The requests as caio uses them: request i is lengths[i] bytes at offsets[i]. */
export interface ParsedRequests {
  count: number;
  offsets: Float64Array;
  lengths: Float64Array;
}

export interface ParsedReadManyOptions extends ParsedOptions {
  mergeLimit: number;
}

/** The intrinsic getter: a Float64Array subclass or own property cannot fake its length. */
const typedArrayLength = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(Uint8Array.prototype), "length")!.get! as (
  this: unknown,
) => number;

/** Grows as requests come: fixed-size groups reserve their room at once, ranges one by one. */
class RequestList implements ParsedRequests {
  count = 0;
  offsets: Float64Array;
  lengths: Float64Array;

  constructor(capacity: number) {
    this.offsets = new Float64Array(capacity);
    this.lengths = new Float64Array(capacity);
  }

  reserve(more: number): CodedError | undefined {
    const needed = this.count + more;
    if (needed > MAX_REQUESTS) return outOfRange("requests", `at most ${MAX_REQUESTS} requests in all`, needed);
    if (needed > this.offsets.length) this.#grow(needed);
    return undefined;
  }

  #grow(needed: number): void {
    const capacity = Math.max(needed, this.offsets.length * 2);
    const offsets = new Float64Array(capacity);
    const lengths = new Float64Array(capacity);
    offsets.set(this.offsets.subarray(0, this.count));
    lengths.set(this.lengths.subarray(0, this.count));
    this.offsets = offsets;
    this.lengths = lengths;
  }

  push(offset: number, length: number): void {
    if (this.count === this.offsets.length) this.#grow(this.count + 1);
    this.offsets[this.count] = offset;
    this.lengths[this.count] = length;
    this.count++;
  }
}

function checkRequestLength(name: string, value: unknown): CodedError | undefined {
  if (typeof value !== "number") return invalidArgType(name, "of type number", value);
  if (!Number.isInteger(value) || value < 0 || value > MAX_LENGTH) return outOfRange(name, `an integer >= 0 && <= ${MAX_LENGTH}`, value);
  return undefined;
}

/** An offset as a number, or the error; bigints are taken as ctx.read takes them. */
function toOffset(name: string, value: unknown): number | CodedError {
  if (typeof value === "bigint") {
    if (value < 0n || value > BigInt(Number.MAX_SAFE_INTEGER)) return outOfRange(name, `>= 0 && <= ${Number.MAX_SAFE_INTEGER}`, value);
    return Number(value);
  }
  if (typeof value !== "number") return invalidArgType(name, "of type number or bigint", value);
  if (!Number.isInteger(value) || value < 0 || value > Number.MAX_SAFE_INTEGER) {
    return outOfRange(name, `an integer >= 0 && <= ${Number.MAX_SAFE_INTEGER}`, value);
  }
  return value;
}

/** Ends past 2^53 lose precision in JavaScript numbers, and merging compares ends. */
function checkEnd(name: string, offset: number, length: number): CodedError | undefined {
  if (offset + length <= Number.MAX_SAFE_INTEGER) return undefined;
  return outOfRange(`${name} + length`, `<= ${Number.MAX_SAFE_INTEGER}`, offset + length);
}

function addRange(list: RequestList, name: string, request: unknown): CodedError | undefined {
  const { offset: rawOffset, length } = request as ReadRequest;
  const offset = toOffset(`${name}.offset`, rawOffset);
  if (typeof offset !== "number") return offset;
  const error = checkRequestLength(`${name}.length`, length) ?? checkEnd(`${name}.offset`, offset, length);
  if (error) return error;
  list.push(offset, length);
  return undefined;
}

/** The offsets of a fixed-size group: a Float64Array (its real length) or an Array, each element read once. */
function addFixed(list: RequestList, name: string, offsets: unknown, length: unknown): CodedError | undefined {
  const lengthError = checkRequestLength(`${name}.length`, length);
  if (lengthError) return lengthError;
  let count: number;
  if (types.isFloat64Array(offsets)) count = typedArrayLength.call(offsets);
  else if (isArray(offsets)) count = (offsets as unknown[]).length;
  else return invalidArgType(`${name}.offsets`, "an instance of Float64Array or an Array of numbers", offsets);
  if (!Number.isInteger(count) || count < 0) return outOfRange(`${name}.offsets.length`, `>= 0 && <= ${MAX_REQUESTS}`, count);
  const error = list.reserve(count);
  if (error) return error;
  for (let i = 0; i < count; i++) {
    const offset = toOffset(`${name}.offsets[${i}]`, (offsets as ArrayLike<unknown>)[i]);
    if (typeof offset !== "number") return offset;
    const endError = checkEnd(`${name}.offsets[${i}]`, offset, length as number);
    if (endError) return endError;
    list.push(offset, length as number);
  }
  return undefined;
}

/** One element of the requests array, or the whole argument: a range or a fixed-size group, each field read once. */
function addRequest(list: RequestList, name: string, request: unknown): CodedError | undefined {
  if (request === null || typeof request !== "object") {
    return invalidArgType(name, "an object with offset and length, or with offsets and length", request);
  }
  const { offsets } = request as FixedSizeReads;
  if (offsets === undefined) return addRange(list, name, request);
  return addFixed(list, name, offsets, (request as FixedSizeReads).length);
}

/**
 * The requests, flat and in request order: an Array of `{ offset, length }` (or of
 * `{ offsets, length }` groups, flattened in place), or one `{ offsets, length }`.
 */
export function parseRequests(requests: unknown): ParsedRequests | CodedError {
  if (!isArray(requests)) {
    if (requests !== null && typeof requests === "object") {
      const list = new RequestList(0);
      return addRequest(list, "requests", requests) ?? list;
    }
    return invalidArgType("requests", "an Array of { offset, length } or an object { offsets, length }", requests);
  }
  const count = (requests as unknown[]).length;
  if (!Number.isInteger(count) || count < 0 || count > MAX_REQUESTS) {
    return outOfRange("requests.length", `>= 0 && <= ${MAX_REQUESTS}`, count);
  }
  // Sized for the array, up to a bound: a Proxy's length can claim millions of requests it does not have.
  const list = new RequestList(Math.min(count, INITIAL_CAPACITY_LIMIT));
  for (let i = 0; i < count; i++) {
    const error = addRequest(list, `requests[${i}]`, (requests as unknown[])[i]);
    if (error) return error;
  }
  // Groups check the total as they come; ranges after the last group can still pass it.
  if (list.count > MAX_REQUESTS) return outOfRange("requests", `at most ${MAX_REQUESTS} requests in all`, list.count);
  return list;
}

/** Options: signal and priority as every operation takes them, and mergeLimit; each read once. */
export function parseReadManyOptions(options: unknown): ParsedReadManyOptions | CodedError {
  const parsed = parseOptions(options);
  if (parsed instanceof Error) return parsed;
  if (options === undefined) return { ...parsed, mergeLimit: DEFAULT_MERGE_LIMIT };
  const { mergeLimit = DEFAULT_MERGE_LIMIT } = options as ReadManyOptions;
  if (typeof mergeLimit !== "number") return invalidArgType("options.mergeLimit", "of type number", mergeLimit);
  if (!Number.isInteger(mergeLimit) || mergeLimit < 0 || mergeLimit > MAX_TRANSFER) {
    return outOfRange("options.mergeLimit", `an integer >= 0 && <= ${MAX_TRANSFER}`, mergeLimit);
  }
  return { ...parsed, mergeLimit };
}
