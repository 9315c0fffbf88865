/**
 * readMany: many positional reads of one descriptor as one call with one promise
 * (glommio's read_many). The requests are checked and read once (readmany/requests.ts),
 * sorted and merged into ranges (readmany/ranges.ts), and every range goes out in the
 * same tick, so one submit carries the batch (readmany/batch.ts).
 */
import type { BackendName } from "./backends/index.ts";
import { diagnoseTransfer } from "./diagnose.ts";
import { AbortError, contextClosed, invalidArgType, systemError, type SystemError } from "./errors.ts";
import { RangeFailure, readBatch } from "./readmany/batch.ts";
import { planReads } from "./readmany/ranges.ts";
import { parseReadManyOptions, parseRequests, type ParsedRequests } from "./readmany/requests.ts";
import type { Scheduler } from "./scheduler.ts";
import { checkFd, type AbortSignalLike } from "./validate.ts";

export type { FixedSizeReads, ReadManyOptions, ReadManyRequests, ReadRequest } from "./readmany/requests.ts";

/** A read of a readMany batch failed: the system error, and which request (its index in request order). */
export interface ReadManyError extends SystemError {
  request: number;
}

/**
 * Reads every request of `requests` from `fd` and resolves with their Buffers in request
 * order (see Context.readMany). Argument errors reject before anything is queued.
 */
export async function readMany(
  scheduler: Scheduler,
  backend: BackendName,
  fd: unknown,
  requests: unknown,
  options: unknown,
): Promise<Buffer[]> {
  const fdError = checkFd(fd);
  if (fdError) throw fdError;
  const parsed = parseRequests(requests);
  if (parsed instanceof Error) throw parsed;
  const parsedOptions = parseReadManyOptions(options);
  if (parsedOptions instanceof Error) throw parsedOptions;
  if (scheduler.closing) throw contextClosed();
  if (parsedOptions.signal) throwIfAborted(parsedOptions.signal);
  const plan = planReads(parsed, parsedOptions.mergeLimit);
  const outcome = await readBatch(scheduler, fd as number, parsed, plan, parsedOptions);
  if (outcome instanceof RangeFailure) throw failureError(outcome, fd as number, parsed, backend);
  return outcome;
}

/** An already-aborted signal rejects the call before any memory is taken (the scheduler checks each read again). */
function throwIfAborted(signal: AbortSignalLike): void {
  let aborted: boolean;
  let reason: unknown;
  try {
    aborted = signal.aborted;
    if (aborted) reason = signal.reason;
  } catch (error) {
    throw Object.assign(invalidArgType("options.signal", "an AbortSignal whose state can be read", signal), { cause: error });
  }
  if (aborted) throw new AbortError(undefined, { cause: reason });
}

/**
 * The error for a failed read, made here, after the await, so its stack leads back to
 * the caller: `EBADF: bad file descriptor, read: request 3 (offset 4096, length 512)`,
 * with `request: 3`. A read that served several requests names the first one listed.
 */
function failureError(failure: RangeFailure, fd: number, requests: ParsedRequests, backend: BackendName): ReadManyError {
  const { errno, hint } = diagnoseTransfer(failure.errno, fd, [{ byteLength: failure.length }], failure.offset, backend);
  const index = failure.request;
  const which = `request ${index} (offset ${requests.offsets[index]}, length ${requests.lengths[index]})`;
  return Object.assign(systemError(errno, "read", hint ? `${which}; ${hint}` : which), { request: index });
}
