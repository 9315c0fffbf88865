/**
 * Node-shaped errors: argument errors are raised before anything reaches C,
 * system errors carry `code`, `errno` (negative) and `syscall`.
 */
import { getSystemErrorMessage, getSystemErrorName, inspect } from "node:util";

export type Syscall = "read" | "write" | "fsync" | "fdatasync";

/** A failed system call, shaped like Node's fs errors. */
export interface SystemError extends Error {
  code: string;
  errno: number;
  syscall: string;
}

/** An error with a Node-style `code` (`ERR_INVALID_ARG_TYPE`, `ERR_CONTEXT_CLOSED`, ...). */
export interface CodedError extends Error {
  code: string;
}

export function errorWithCode<E extends Error>(error: E, code: string): E & { code: string } {
  return Object.assign(error, { code });
}

function describeReceived(value: unknown): string {
  if (value === null || value === undefined) return `Received ${value}`;
  if (typeof value === "function") return `Received function ${value.name || "<anonymous>"}`;
  if (typeof value === "object") {
    const name = (value as object).constructor?.name;
    return name ? `Received an instance of ${name}` : `Received ${inspect(value, { depth: -1 })}`;
  }
  const shown = inspect(value).slice(0, 28);
  return `Received type ${typeof value} (${shown})`;
}

export function invalidArgType(name: string, expected: string, value: unknown): CodedError {
  return errorWithCode(
    new TypeError(`The "${name}" argument must be ${expected}. ${describeReceived(value)}`),
    "ERR_INVALID_ARG_TYPE",
  );
}

export function outOfRange(name: string, range: string, value: unknown): CodedError {
  const shown = typeof value === "bigint" ? `${value}n` : String(value);
  return errorWithCode(
    new RangeError(`The value of "${name}" is out of range. It must be ${range}. Received ${shown}`),
    "ERR_OUT_OF_RANGE",
  );
}

/** Node's ERR_INVALID_STATE: a plain Error whose message starts "Invalid state: ". */
export function invalidState(message: string): CodedError {
  return errorWithCode(new Error(`Invalid state: ${message}`), "ERR_INVALID_STATE");
}

/**
 * An operation that failed inside caio rather than in the kernel (a throw while it was
 * staged, submitted or settled). The thrown value is the cause.
 */
export function internalFailure(step: string, cause: unknown): CodedError {
  const detail = cause instanceof Error ? cause.message : String(cause);
  return errorWithCode(new Error(`caio: the operation failed while being ${step}: ${detail}`, { cause }), "ERR_CAIO_INTERNAL");
}

export function contextClosed(): CodedError {
  return errorWithCode(new Error("The caio Context is closed"), "ERR_CONTEXT_CLOSED");
}

/** Rejection for an operation whose AbortSignal fired; `cause` is the signal's reason. */
export class AbortError extends Error {
  readonly code = "ABORT_ERR";
  constructor(message = "The operation was aborted", options?: { cause?: unknown }) {
    super(message, options);
    this.name = "AbortError";
  }
}

/**
 * AbortErrors for every operation one abort reached, made without capturing a stack:
 * created in the abort listener, a stack would only show the abort() call (the same
 * for all of them), and capturing 65,536 of them costs more than the abort itself.
 */
export function abortErrors(count: number, cause: unknown): AbortError[] {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    const errors: AbortError[] = new Array(count);
    for (let i = 0; i < count; i++) errors[i] = new AbortError(undefined, { cause });
    return errors;
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/**
 * A failed system call as Node reports it: `EBADF: bad file descriptor, read`, with
 * an optional explanation appended. Created in the awaiting public method, so the
 * stack (with its async frames) leads back to the caller.
 */
export function systemError(negativeErrno: number, syscall: string, explanation?: string): SystemError {
  const code = getSystemErrorName(negativeErrno);
  let message = `${code}: ${getSystemErrorMessage(negativeErrno)}, ${syscall}`;
  if (explanation) message += `: ${explanation}`;
  return Object.assign(new Error(message), { code, errno: negativeErrno, syscall });
}

/** Node's ERR_INVALID_ARG_VALUE: `The argument 'flags' is invalid. Received 'q'`. */
export function invalidArgValue(name: string, value: unknown, reason = "is invalid"): CodedError {
  const shown = typeof value === "string" ? `'${value}'` : inspect(value, { depth: 0 });
  return errorWithCode(new TypeError(`The argument '${name}' ${reason}. Received ${shown}`), "ERR_INVALID_ARG_VALUE");
}

/**
 * A failed system call on a path, as node:fs reports it:
 * `ENOENT: no such file or directory, open 'missing.txt'`, with `path` (and `dest`
 * for rename: `rename 'a' -> 'b'`).
 */
export function pathError(negativeErrno: number, syscall: string, path: string, dest?: string): SystemError & { path: string; dest?: string } {
  const code = getSystemErrorName(negativeErrno);
  let message = `${code}: ${getSystemErrorMessage(negativeErrno)}, ${syscall} '${path}'`;
  if (dest !== undefined) message += ` -> '${dest}'`;
  const error = Object.assign(new Error(message), { code, errno: negativeErrno, syscall, path });
  return dest === undefined ? error : Object.assign(error, { dest });
}
