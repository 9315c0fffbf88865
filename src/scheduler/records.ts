/**
 * The operation records each kind of call makes (Scheduler.enqueue and its kin), and
 * each record's promise. The scheduler queues them; what they carry is decided here.
 */
import { OP_READ } from "../backends/backend.ts";
import type { ParsedOptions } from "../validate.ts";
import type { OwnView } from "../views.ts";
import { Operation } from "./operation.ts";
import type { FileOpcode, Opcode, VectorOpcode } from "./types.ts";

/** The op whose promise is being made: one executor for every op's promise rather than a closure each. */
let binding: Operation | null = null;

function bindSettlers(resolve: (value: number) => void, reject: (reason: unknown) => void): void {
  binding!.resolve = resolve as (value: number | Buffer) => void; // a Buffer only for fresh reads
  binding!.reject = reject;
  binding = null;
}

/** op's promise, its settle functions stored on op (the executor runs at once, before anything else can). */
export function promiseFor(op: Operation): Promise<number> {
  binding = op;
  return new Promise<number>(bindSettlers);
}

/** A read or write of caio's own view of the caller's memory; `privateView`: caio made it and nobody else reaches it. */
export function transferOp(opcode: Opcode, fd: number, offset: number, view: OwnView | null, options: ParsedOptions, privateView: boolean): Operation {
  const op = new Operation(opcode, fd, offset, view && view.bytes, view ? view.bytes.length : 0, options.priority, options.signal, privateView);
  op.known = view;
  return op;
}

/** A read into memory made at its completion (read()): the kernel fills a bounce region. */
export function freshReadOp(fd: number, offset: number, length: number, options: ParsedOptions): Operation {
  const op = new Operation(OP_READ, fd, offset, null, length, options.priority, options.signal, true);
  op.fresh = true;
  return op;
}

/** readv/writev: the views are read or filled in order, as one operation. */
export function vectorOp(opcode: VectorOpcode, fd: number, offset: number, views: Uint8Array[], options: ParsedOptions): Operation {
  const op = new Operation(opcode, fd, offset, null, views.length, options.priority, options.signal);
  op.views = views;
  op.lengths = views.map((view) => view.length);
  op.iov = new Uint32Array(views.length * 4);
  return op;
}

/** A file operation (c/common.h): `block` holds its paths (and statx's output); `arg` and `mode` ride in buf and len. */
export function fileOp(opcode: FileOpcode, fd: number, offset: number, block: Uint8Array | null, options: ParsedOptions, arg: number, mode: number): Operation {
  const op = new Operation(opcode, fd, offset, block, block ? block.length : 0, options.priority, options.signal, true);
  op.arg = arg;
  op.mode = mode;
  return op;
}
