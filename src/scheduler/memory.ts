/**
 * The memory an operation hands the kernel, claimed at staging and released once its
 * completion is reaped. The kernel only ever sees caio's native memory (see
 * bounce.ts): a block caio allocated (allocAligned(), read()'s buffer) used in place,
 * or a bounce region that a write's bytes are copied into now and a read's bytes are
 * copied out of when it completes. readv/writev also hand over a native iovec array,
 * which keeps the op's blocks alive. Without the native library, SharedArrayBuffers
 * and caio's private buffers are used in place instead (the old rule).
 *
 * Each op holds one native block while in flight (op.hold), so the bytes outlive the
 * JavaScript heap if the Worker is terminated meanwhile. The C backends hold a flagged
 * op's block themselves (CAIO_OP_F_NATIVE, c/memory.h) from submit until the kernel or
 * their worker is done with it, even once the Worker is gone (its orphaned context's
 * close drains the ops and drops their holds); caio holds the block itself, from
 * staging until the op is reaped, only for the js backend.
 */
import { OP_WRITE, OP_WRITEV, STAGE_WORDS } from "../backends/backend.ts";
import {
  addressOf,
  allocIovecs,
  blockOf,
  bouncePool,
  dropNative,
  ENOMEM,
  hasNativeMemory,
  holdBlock,
  MAX_TRANSFER,
  regionAddress,
  regionOf,
  releaseBlock,
  type NativeBlock,
} from "../bounce.ts";
import { copyBytes, currentLength, isShared, type OwnView } from "../views.ts";
import type { Operation } from "./operation.ts";

export { ENOMEM };
const TWO_POW_32 = 4294967296;

/**
 * Whether the C backends hold each flagged op's block themselves (c/memory.h): then
 * their ops are staged with OP_F_NATIVE and caio takes no hold of its own.
 */
const BACKENDS_HOLD = true;
/** CAIO_OP_F_NATIVE (c/common.h): the op's memory is a native block the backend must hold. */
export const OP_F_NATIVE = 0x8000;
/** CAIO_OP_F_OWNED (c/common.h): the op's fd belongs to a File, so the backend may keep what it knows of it until caio closes it. */
export const OP_F_OWNED = 0x4000;

/** Stands in for a released iovec array: a vectored op keeps a (never written) iov until it is staged again. */
const RELEASED_IOV = new Uint32Array(0);

/** claimMemory's answer: claimed, a view detached since the call, or no bounce memory. */
export type Claim = true | "detached" | typeof ENOMEM;

/** Memory the kernel may use in place without a native block: only without the native library. */
const SAFE = "safe";

/** How `view` can be used in place: its native block, SAFE, or undefined (bounce it). */
function inPlace(view: Uint8Array, privateView: boolean, known: OwnView | null = null): NativeBlock | typeof SAFE | undefined {
  const block = known ? knownBlock(known) : blockOf(view);
  if (block) return block;
  return !hasNativeMemory() && (privateView || isShared(view)) ? SAFE : undefined;
}

/** The native block of an own view, looked up once per view (views.ts caches the view per caller buffer). */
function knownBlock(known: OwnView): NativeBlock | undefined {
  if (known.block === undefined) known.block = blockOf(known.bytes) ?? null;
  return (known.block as NativeBlock | null) ?? undefined;
}

/** The address whose page offset a bounce region for `view` keeps (O_DIRECT then refuses or accepts it alike). */
function likeAddressOf(op: Operation, view: Uint8Array): number {
  if (!op.known) return addressOf(view);
  return op.known.pageAligned ? 0 : knownAddress(op.known);
}

/** Address of an own view's first byte, taken once: the memory of an attached view does not move. */
function knownAddress(known: OwnView): number {
  if (known.address < 0) known.address = addressOf(known.bytes);
  return known.address;
}

/** Sets op.io / op.ioViews to memory the kernel may use until the op is reaped. */
export function claimMemory(op: Operation): Claim {
  if (op.views) return claimVector(op);
  const view = op.view;
  if (!view) return true;
  if (currentLength(view) !== op.length) return "detached";
  if (op.length === 0) {
    op.io = view;
    return true;
  }
  const pinned = inPlace(view, op.privateView, op.known);
  if (pinned) {
    op.io = view;
    if (pinned !== SAFE) op.hold = pinned.handle;
    return true;
  }
  const region = takeBounce(op, Math.min(op.length, MAX_TRANSFER), likeAddressOf(op, view));
  if (!region) return ENOMEM;
  if (op.opcode === OP_WRITE) copyBytes(region, view.subarray(0, region.length));
  op.io = region;
  op.hold = op.block!.handle;
  return true;
}

/** claimMemory for a fresh read: a page-aligned bounce region of its length (O_DIRECT takes it too). */
export function claimFresh(op: Operation): Claim {
  if (op.length === 0) return true;
  const region = takeBounce(op, Math.min(op.length, MAX_TRANSFER), 0);
  if (!region) return ENOMEM;
  op.io = region;
  op.hold = op.block!.handle;
  return true;
}

/**
 * claimMemory for readv/writev: views used in place where they can be, the rest
 * through one bounce region split into a segment per view; with native memory, a
 * native iovec array that keeps all of them alive.
 */
function claimVector(op: Operation): Claim {
  const views = op.views!;
  const lengths = op.lengths!;
  const attached: number[] = [];
  let total = 0;
  let firstAddress = -1;
  for (let i = 0; i < views.length; i++) {
    const view = views[i]!;
    if (currentLength(view) !== lengths[i]) return "detached";
    if (lengths[i] === 0) continue;
    const pinned = inPlace(view, false);
    if (pinned) {
      if (pinned !== SAFE) attached.push(pinned.handle);
      continue;
    }
    if (firstAddress < 0) firstAddress = addressOf(view);
    total += lengths[i]!;
  }
  if (firstAddress < 0) {
    op.ioViews = views;
  } else {
    const region = takeBounce(op, Math.min(total, MAX_TRANSFER), firstAddress);
    if (!region) return ENOMEM;
    if (op.block!.handle !== 0) attached.push(op.block!.handle);
    op.ioViews = splitRegion(op, region);
  }
  if (!hasNativeMemory()) return true;
  const iov = allocIovecs(views.length, attached);
  if (iov === ENOMEM) return ENOMEM;
  op.iov = iov.words;
  op.hold = iov.handle;
  return true;
}

/** The bounce segments of a vectored op, in view order; a write's bytes are copied in. */
function splitRegion(op: Operation, region: Uint8Array): Uint8Array[] {
  const views = op.views!;
  const lengths = op.lengths!;
  const segments: Uint8Array[] = new Array(views.length);
  let at = 0;
  for (let i = 0; i < views.length; i++) {
    const view = views[i]!;
    if (lengths[i] === 0 || inPlace(view, false)) {
      segments[i] = view;
      continue;
    }
    const segment = region.subarray(at, at + lengths[i]!);
    if (op.opcode === OP_WRITEV) copyBytes(segment, view.subarray(0, segment.length));
    segments[i] = segment;
    at += segment.length;
  }
  return segments;
}

function takeBounce(op: Operation, length: number, likeAddress: number): Uint8Array | undefined {
  try {
    op.block = bouncePool.take(length);
  } catch {
    return undefined;
  }
  return regionOf(op.block, length, likeAddress);
}

/** The op's hold ends and its bounce memory goes back to the pool: only once no kernel or worker can touch them. */
export function releaseMemory(op: Operation): void {
  if (op.jsHold) {
    releaseBlock(op.hold);
    op.jsHold = false;
  }
  if (op.hold !== 0) {
    op.hold = 0;
    if (op.views && op.iov) {
      dropNative(op.iov);
      op.iov = RELEASED_IOV;
    }
  }
  if (op.block) bouncePool.give(op.block);
  op.block = null;
  op.io = null;
  op.ioViews = null;
}

/**
 * Writes op's record (struct caio_op, c/common.h) at position `index` of the staging
 * array, and holds op's native block until it is reaped: flagged for a C backend that
 * holds it (OP_F_NATIVE), else by caio itself. `empty` is the address given for
 * zero-length memory, or -1 for a backend that takes the buffers themselves (js)
 * rather than addresses.
 */
export function encodeStaged(op: Operation, stage: Uint32Array, index: number, empty: number): void {
  let opcode = op.opcode;
  if (op.hold !== 0) {
    if (BACKENDS_HOLD && empty >= 0) {
      opcode |= OP_F_NATIVE;
    } else if (!op.jsHold) {
      holdBlock(op.hold);
      op.jsHold = true;
    }
  }
  const address = empty < 0 ? 0 : stagedAddress(op, empty);
  const base = index * STAGE_WORDS;
  stage[base] = address >>> 0;
  stage[base + 1] = (address / TWO_POW_32) >>> 0;
  stage[base + 2] = op.offset >>> 0;
  stage[base + 3] = (op.offset / TWO_POW_32) >>> 0;
  stage[base + 4] = stagedLength(op);
  stage[base + 5] = op.fd;
  stage[base + 6] = op.slot;
  stage[base + 7] = opcode | (op.priority << 16);
}

/** Bytes of the memory staged (a bounce region can be shorter than the view: see MAX_TRANSFER), or the iovec count. */
function stagedLength(op: Operation): number {
  if (op.iov) return op.length;
  return op.io ? op.io.length : 0;
}

/** The address of what the kernel uses: op's bytes, or its struct iovec array. `empty` stands in for zero-length memory. */
function stagedAddress(op: Operation, empty: number): number {
  if (op.iov) return iovAddress(op, empty);
  if (op.block) return regionAddress(op.block);
  if (!op.io || op.length === 0) return empty;
  return op.known && op.io === op.view ? knownAddress(op.known) : addressOf(op.io);
}

/** Fills op's struct iovec array with the addresses of its in-flight memory. */
function iovAddress(op: Operation, empty: number): number {
  const iov = op.iov!;
  const views = op.ioViews!;
  for (let i = 0; i < views.length; i++) {
    const view = views[i]!;
    const address = view.length > 0 ? addressOf(view) : empty;
    iov[i * 4] = address >>> 0;
    iov[i * 4 + 1] = (address / TWO_POW_32) >>> 0;
    iov[i * 4 + 2] = view.length;
    iov[i * 4 + 3] = 0; // a native array is not zero-filled
  }
  return addressOf(iov);
}

/** Copies a bounced read's bytes into the caller's memory; false if it was detached meanwhile. */
export function copyBack(op: Operation, result: number): boolean {
  if (op.view) {
    if (currentLength(op.view) !== op.length) return false;
    const region = op.io!;
    copyBytes(op.view, result === region.length ? region : region.subarray(0, result));
    return true;
  }
  const views = op.views!;
  const segments = op.ioViews!;
  let left = result;
  for (let i = 0; i < views.length && left > 0; i++) {
    const view = views[i]!;
    const length = Math.min(left, segments[i]!.length);
    if (currentLength(view) !== op.lengths![i]) return false;
    if (segments[i] !== view) copyBytes(view, segments[i]!.subarray(0, length));
    left -= length;
  }
  return true;
}
