/**
 * Argument checks, Node style. Each reads what it checks exactly once and returns
 * either the value caio will use from then on (its own view, the parsed options) or
 * the error to reject with. Nothing after these checks looks at the caller's objects.
 */
import { invalidArgType, invalidState, outOfRange, type CodedError } from "./errors.ts";
import { freshOwnView, isArray, isRawBuffer, ownBytesOfBuffer, ownView, type OwnView } from "./views.ts";

/** Node's limit for one read/write (kernel moves at most 0x7ffff000 bytes per call anyway). */
export const MAX_LENGTH = 2 ** 31 - 1;
const MAX_FD = 2 ** 31 - 1;
const MAX_PRIORITY = 0xffff;
/** ioprio(7): the class sits above 13 bits of data; the kernel knows classes 0–3 (none, realtime, best-effort, idle). */
const IOPRIO_CLASS_SHIFT = 13;
const MAX_IOPRIO_CLASS = 3;

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

/**
 * What caio needs of an AbortSignal. Like Node, any object with an `aborted` property
 * is accepted (a signal from another realm or a polyfill), not only this realm's class.
 */
export interface AbortSignalLike {
  readonly aborted: boolean;
  readonly reason?: unknown;
  addEventListener(type: "abort", listener: () => void): void;
  removeEventListener(type: "abort", listener: () => void): void;
}

export interface OperationOptions {
  /** Aborts the operation: before submission it is dropped, in flight a cancel is attempted. */
  signal?: AbortSignal | AbortSignalLike;
  /** An ioprio_set(2) value (class << 13 | level), class 0–3; 0 inherits the thread's. */
  priority?: number;
}

/** Options as caio uses them: each property read once, at the call. */
export interface ParsedOptions {
  signal: AbortSignalLike | undefined;
  priority: number;
}

export const NO_OPTIONS: ParsedOptions = Object.freeze({ signal: undefined, priority: 0 });

function checkSignal(signal: unknown): CodedError | undefined {
  if (signal === undefined) return undefined;
  if (signal === null || typeof signal !== "object" || !("aborted" in signal)) {
    return invalidArgType("options.signal", "an instance of AbortSignal", signal);
  }
  return undefined;
}

function checkPriority(priority: unknown): CodedError | undefined {
  const error = checkInteger("options.priority", priority, MAX_PRIORITY);
  if (error) return error;
  if ((priority as number) >> IOPRIO_CLASS_SHIFT > MAX_IOPRIO_CLASS) {
    return outOfRange("options.priority", "an ioprio with class 0-3 ((class << 13) | level)", priority);
  }
  return undefined;
}

export function parseOptions(options: unknown): ParsedOptions | CodedError {
  if (options === undefined) return NO_OPTIONS;
  if (options === null || typeof options !== "object") return invalidArgType("options", "of type object", options);
  const { signal, priority = 0 } = options as OperationOptions;
  const error = checkSignal(signal) ?? checkPriority(priority);
  if (error) return error;
  return { signal: signal as AbortSignalLike | undefined, priority: priority as number };
}

function detachedError(name: string): CodedError {
  return invalidState(`The "${name}" argument's ArrayBuffer is detached`);
}

/** caio's own view of the memory `value` views (see views.ts), or the error for it. */
export function toOwnView(name: string, value: unknown): OwnView | CodedError {
  const own = ownView(value);
  if (own === "not-a-view") return invalidArgType(name, "an instance of Buffer, TypedArray or DataView", value);
  if (own === "detached") return detachedError(name);
  if (own.bytes.length > MAX_LENGTH) return outOfRange(`${name}.byteLength`, `<= ${MAX_LENGTH}`, own.bytes.length);
  return own;
}

const utf8 = new TextEncoder();
const encodeUtf8 = TextEncoder.prototype.encode;

/**
 * caio's own view of the bytes to write: strings are encoded as UTF-8 into a fresh,
 * unpooled buffer nobody else holds (so it needs no copy; see bounce.ts), views and
 * ArrayBuffers (shared or not) are wrapped without copying.
 */
export function toWritableBytes(payload: unknown): OwnView | CodedError {
  if (typeof payload === "string") return freshOwnView(encodeUtf8.call(utf8, payload));
  if (isRawBuffer(payload)) {
    const own = ownBytesOfBuffer(payload);
    if (own === "detached") return detachedError("payload");
    return own.length > MAX_LENGTH ? outOfRange("payload.byteLength", `<= ${MAX_LENGTH}`, own.length) : freshOwnView(own);
  }
  const own = toOwnView("payload", payload);
  if (own instanceof Error && (own as CodedError).code === "ERR_INVALID_ARG_TYPE") {
    return invalidArgType(
      "payload",
      "of type string or an instance of ArrayBuffer, SharedArrayBuffer, Buffer, TypedArray or DataView",
      payload,
    );
  }
  return own;
}

/** Largest number of buffers in one readv/writev (the kernel's UIO_MAXIOV). */
export const MAX_BUFFERS = 1024;

/**
 * readv/writev buffers: an array of 1 … 1024 views, each checked like a single buffer.
 * Its length and each element are read once (the array may be a Proxy or have getters).
 */
export function toOwnViews(name: string, views: unknown): Uint8Array[] | CodedError {
  if (!isArray(views)) return invalidArgType(name, "an Array of Buffer, TypedArray or DataView", views);
  const count = (views as unknown[]).length;
  if (!Number.isInteger(count) || count === 0 || count > MAX_BUFFERS) {
    return outOfRange(`${name}.length`, `>= 1 && <= ${MAX_BUFFERS}`, count);
  }
  const owns: Uint8Array[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const own = toOwnView(`${name}[${i}]`, (views as unknown[])[i]);
    if (own instanceof Error) return own;
    owns[i] = own.bytes;
  }
  return owns;
}
