/** Argument checks, Node style; each returns an error to reject with, or undefined. */
import { invalidArgType, invalidState, outOfRange, type CodedError } from "./errors.ts";

/** Node's limit for one read/write (kernel moves at most 0x7ffff000 bytes per call anyway). */
export const MAX_LENGTH = 2 ** 31 - 1;
const MAX_FD = 2 ** 31 - 1;
const MAX_PRIORITY = 0xffff;

function checkInteger(name: string, value: unknown, max: number): CodedError | undefined {
  if (typeof value !== "number") return invalidArgType(name, "of type number", value);
  if (!Number.isInteger(value)) return outOfRange(name, "an integer", value);
  if (value < 0 || value > max) return outOfRange(name, `>= 0 && <= ${max}`, value);
  return undefined;
}

export function checkFd(fd: unknown): CodedError | undefined {
  return checkInteger("fd", fd, MAX_FD);
}

export function checkLength(name: string, value: unknown): CodedError | undefined {
  return checkInteger(name, value, MAX_LENGTH);
}

/** Offsets may be numbers or bigints up to 2^53-1 (the file offset is 64-bit, JS numbers are exact to 2^53). */
export function checkOffset(offset: unknown): CodedError | undefined {
  if (typeof offset === "bigint") {
    if (offset < 0n || offset > BigInt(Number.MAX_SAFE_INTEGER)) {
      return outOfRange("offset", `>= 0 && <= ${Number.MAX_SAFE_INTEGER}`, offset);
    }
    return undefined;
  }
  if (typeof offset !== "number") return invalidArgType("offset", "of type number or bigint", offset);
  return checkInteger("offset", offset, Number.MAX_SAFE_INTEGER);
}

export interface OperationOptions {
  /** Aborts the operation: before submission it is dropped, in flight a cancel is attempted. */
  signal?: AbortSignal;
  /** An ioprio_set(2) value (class << 13 | level) for this request; 0 inherits the thread's. */
  priority?: number;
}

export function checkOptions(options: unknown): CodedError | undefined {
  if (options === undefined) return undefined;
  if (options === null || typeof options !== "object") return invalidArgType("options", "of type object", options);
  const { signal, priority } = options as OperationOptions;
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    return invalidArgType("options.signal", "an instance of AbortSignal", signal);
  }
  if (priority !== undefined) return checkInteger("options.priority", priority, MAX_PRIORITY);
  return undefined;
}

/**
 * byteLength, or -1 once the view's memory was detached (transferred) or shrunk away:
 * a typed array then reports 0, but a DataView's getter throws.
 */
export function viewLength(view: ArrayBufferView): number {
  try {
    return view.byteLength;
  } catch {
    return -1;
  }
}

function isDetached(view: ArrayBufferView): boolean {
  return (view.buffer as ArrayBuffer).detached === true;
}

const utf8 = new TextEncoder();

/**
 * A view over the bytes to write: strings are encoded as UTF-8 into a fresh, unpooled
 * buffer nobody else holds (so it needs no copy; see bounce.ts), ArrayBuffers wrapped
 * without copying.
 */
export function toWritableBytes(payload: unknown): ArrayBufferView | CodedError {
  let view: ArrayBufferView;
  if (typeof payload === "string") view = utf8.encode(payload);
  else if (ArrayBuffer.isView(payload)) view = payload;
  else if (payload instanceof ArrayBuffer && payload.detached) return invalidState(`The "payload" argument's ArrayBuffer is detached`);
  else if (payload instanceof ArrayBuffer || payload instanceof SharedArrayBuffer) view = new Uint8Array(payload);
  else return invalidArgType("payload", "of type string or an instance of ArrayBuffer, Buffer, TypedArray or DataView", payload);
  return checkView("payload", view) ?? view;
}

export function checkView(name: string, view: unknown): CodedError | undefined {
  if (!ArrayBuffer.isView(view)) return invalidArgType(name, "an instance of Buffer, TypedArray or DataView", view);
  // Only an empty view can be detached; checking length first keeps the accessor off the hot path.
  const length = viewLength(view);
  if (length <= 0 && (length < 0 || isDetached(view))) return invalidState(`The "${name}" argument's ArrayBuffer is detached`);
  if (length > MAX_LENGTH) return outOfRange(`${name}.byteLength`, `<= ${MAX_LENGTH}`, length);
  return undefined;
}

/** Largest number of buffers in one readv/writev (the kernel's UIO_MAXIOV). */
export const MAX_BUFFERS = 1024;

/** readv/writev buffers: an array of 1 … 1024 views, each checked like a single buffer. */
export function checkViews(name: string, views: unknown): CodedError | undefined {
  if (!Array.isArray(views)) return invalidArgType(name, "an Array of Buffer, TypedArray or DataView", views);
  if (views.length === 0 || views.length > MAX_BUFFERS) {
    return outOfRange(`${name}.length`, `>= 1 && <= ${MAX_BUFFERS}`, views.length);
  }
  for (let i = 0; i < views.length; i++) {
    const error = checkView(`${name}[${i}]`, views[i]);
    if (error) return error;
  }
  return undefined;
}
