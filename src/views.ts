/**
 * The caller's memory, seen only through intrinsics. A view's `buffer`, `byteOffset`
 * and `byteLength` are ordinary properties a subclass, an own getter or a Proxy can
 * fake; the kernel length and the "can this memory be detached" decision must not come
 * from them (a faked byteLength once put neighbouring heap into a file). So every view
 * is read once, at the call, through the getters captured here at module load, and
 * replaced by caio's own Uint8Array over the same memory; everything after validation
 * uses only that.
 *
 * Code that patches the intrinsics themselves before caio loads, or Function.prototype.call,
 * runs in this process with bun:ffi at hand; it is outside what a caller can do by
 * passing values, which is what this module defends against.
 */
import { types } from "node:util";

const TypedArrayPrototype = Object.getPrototypeOf(Uint8Array.prototype) as object;

function getterOf(prototype: object, name: PropertyKey): (this: unknown) => unknown {
  return Object.getOwnPropertyDescriptor(prototype, name)!.get!;
}

const typedArrayBuffer = getterOf(TypedArrayPrototype, "buffer") as (this: unknown) => ArrayBufferLike;
const typedArrayByteOffset = getterOf(TypedArrayPrototype, "byteOffset") as (this: unknown) => number;
const typedArrayByteLength = getterOf(TypedArrayPrototype, "byteLength") as (this: unknown) => number;
const dataViewBuffer = getterOf(DataView.prototype, "buffer") as (this: unknown) => ArrayBufferLike;
const dataViewByteOffset = getterOf(DataView.prototype, "byteOffset") as (this: unknown) => number;
const dataViewByteLength = getterOf(DataView.prototype, "byteLength") as (this: unknown) => number;
const arrayBufferDetached = getterOf(ArrayBuffer.prototype, "detached") as (this: unknown) => boolean;
const arrayBufferResizable = getterOf(ArrayBuffer.prototype, "resizable") as (this: unknown) => boolean;
const sharedArrayBufferGrowable = getterOf(SharedArrayBuffer.prototype, "growable") as (this: unknown) => boolean;
const arrayBufferByteLength = getterOf(ArrayBuffer.prototype, "byteLength") as (this: unknown) => number;
const sharedArrayBufferByteLength = getterOf(SharedArrayBuffer.prototype, "byteLength") as (this: unknown) => number;
const typedArraySet = Uint8Array.prototype.set;
const isArrayBufferView = ArrayBuffer.isView;
const isArray = Array.isArray;
/** Brand checks on the internal slot: a prototype swapped to SharedArrayBuffer.prototype does not pass. */
const isSharedArrayBuffer = types.isSharedArrayBuffer;
const isArrayBuffer = types.isArrayBuffer;
const isDataView = types.isDataView;
const OwnUint8Array = Uint8Array;

/** Why a value is not usable memory; the caller turns it into a Node-style error. */
export type ViewProblem = "not-a-view" | "detached";

/** True for a real ArrayBufferView (typed array or DataView); a Proxy around one is not. */
export function isView(value: unknown): value is ArrayBufferView {
  return isArrayBufferView(value);
}

/** True for a real ArrayBuffer or SharedArrayBuffer, by brand. */
export function isRawBuffer(value: unknown): value is ArrayBufferLike {
  return isArrayBuffer(value) || isSharedArrayBuffer(value);
}

export { isArray };

/**
 * caio's own view of some memory, and what the memory layer (scheduler/memory.ts)
 * learned about it the first time: whether it lies in a native block and the address
 * of its first byte. Neither changes while the view is attached (a detached view's
 * length drops to 0, which every use checks first), so a cached view is looked up once.
 */
export interface OwnView {
  readonly bytes: Uint8Array;
  /** The native block (bounce.ts) the bytes lie in, null for none; undefined until looked up. */
  block: object | null | undefined;
  /** Address of bytes[0]; -1 until looked up. */
  address: number;
  /**
   * Bounce this memory through a page-aligned region rather than one at the same page
   * offset: read()'s own buffers, whose block-multiple sizes must work on O_DIRECT.
   */
  pageAligned?: boolean;
}

/** A record for memory caio just made its own view of (not cached). */
export function freshOwnView(bytes: Uint8Array): OwnView {
  return { bytes, block: undefined, address: -1 };
}

/**
 * Own views already made, by the caller's view. A view over a buffer that cannot be
 * resized views the same bytes for its whole life (only detaching can change that,
 * and then its own view's length drops to 0), so callers that reuse their buffers,
 * as I/O loops do, skip the getters, the allocation and the memory lookups.
 */
const ownViews = new WeakMap<object, OwnView>();
/** Own views over SharedArrayBuffers: the brand check, made once. */
const sharedOwnViews = new WeakSet<Uint8Array>();

/**
 * caio's own Uint8Array over the memory `value` really views, read through the
 * intrinsic getters; a problem when it is not a view or its memory is detached (or,
 * for a DataView, out of bounds of a shrunk resizable buffer).
 */
export function ownView(value: unknown): OwnView | ViewProblem {
  const known = ownViews.get(value as object);
  // Length 0: never cached as valid (zero-length, or detached since): the full check decides.
  if (known !== undefined && typedArrayByteLength.call(known.bytes) > 0) return known;
  const own = makeOwnView(value);
  if (typeof own === "string") return own;
  const record = freshOwnView(own);
  if (own.length > 0 && !resizable(typedArrayBuffer.call(own))) ownViews.set(value as object, record);
  return record;
}

function resizable(buffer: ArrayBufferLike): boolean {
  return isSharedArrayBuffer(buffer) ? sharedArrayBufferGrowable.call(buffer) : arrayBufferResizable.call(buffer);
}

function makeOwnView(value: unknown): Uint8Array | ViewProblem {
  if (!isArrayBufferView(value)) return "not-a-view";
  let buffer: ArrayBufferLike;
  let offset: number;
  let length: number;
  if (isDataView(value)) {
    try {
      buffer = dataViewBuffer.call(value);
      offset = dataViewByteOffset.call(value);
      length = dataViewByteLength.call(value);
    } catch {
      return "detached"; // a DataView's getters throw once its memory is gone
    }
  } else {
    buffer = typedArrayBuffer.call(value);
    offset = typedArrayByteOffset.call(value);
    length = typedArrayByteLength.call(value);
  }
  const shared = isSharedArrayBuffer(buffer);
  if (!shared && arrayBufferDetached.call(buffer)) return "detached";
  const own = new OwnUint8Array(buffer, offset, length);
  if (shared) sharedOwnViews.add(own);
  return own;
}

/**
 * caio's own Uint8Array over a whole ArrayBuffer or SharedArrayBuffer as long as it
 * is now (a fixed length: a growable buffer grown later does not change it);
 * "detached" for a detached one.
 */
export function ownBytesOfBuffer(buffer: ArrayBufferLike): Uint8Array | "detached" {
  if (isSharedArrayBuffer(buffer)) return new OwnUint8Array(buffer, 0, sharedArrayBufferByteLength.call(buffer));
  if (arrayBufferDetached.call(buffer)) return "detached";
  return new OwnUint8Array(buffer, 0, arrayBufferByteLength.call(buffer));
}

/**
 * Bytes of one of caio's own views now: its fixed length, or 0 once its memory was
 * detached or a resizable buffer shrank below it.
 */
export function currentLength(own: Uint8Array): number {
  return typedArrayByteLength.call(own);
}

/** True when the view's memory is a SharedArrayBuffer, which can never be detached or freed while referenced. */
export function isShared(own: Uint8Array): boolean {
  return sharedOwnViews.has(own) || isSharedArrayBuffer(typedArrayBuffer.call(own));
}

/** Copies `source` into `target` at 0 (intrinsic set: no override on either array is consulted). */
export function copyBytes(target: Uint8Array, source: Uint8Array): void {
  typedArraySet.call(target, source);
}
