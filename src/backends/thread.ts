/** A C pthread pool ("thread"): workers run pread/pwrite/fsync and write the wake socket themselves. */
import { systemError } from "../errors.ts";
import { nativeContract } from "../native.ts";
import type { Backend } from "./backend.ts";
import { NativeBackend } from "./native-backend.ts";

/** Largest pool caio creates; more threads than this only add contention for one event loop. */
export const MAX_THREADS = 1024;

function explainPoolError(negativeErrno: number): Error {
  return systemError(negativeErrno, "pthread_create", "could not start the worker threads");
}

/**
 * Opens a pool for `capacity` operations in flight with `threads` workers (0 = the
 * pool's default, sized from the CPU count and capacity).
 */
export function openThreadBackend(capacity: number, threads = 0): Backend {
  const found = nativeContract("caio_pool");
  if ("reason" in found) throw new Error(found.reason);
  return new NativeBackend("thread", found.contract, capacity, explainPoolError, threads);
}
