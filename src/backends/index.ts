/** The backends caio knows, in preference order, and how to open each. */
import { errorWithCode } from "../errors.ts";
import type { Backend, BackendName } from "./backend.ts";
import { openJsBackend } from "./js.ts";
import { openLinuxBackend } from "./linux.ts";
import { openThreadBackend } from "./thread.ts";
import { openUringBackend } from "./uring.ts";

export type { Backend, BackendName } from "./backend.ts";

/** Settings only some backends use; the others ignore them. */
export interface OpenOptions {
  /** thread backend: worker count, 0 = default */
  threads?: number;
  /** uring backend: ask for a kernel thread polling the submission queue */
  sqpoll?: boolean;
}

type Opener = (capacity: number, options: OpenOptions) => Backend;

/** Preference order for automatic selection; a name without an opener is not built yet. */
export const BACKEND_NAMES: readonly BackendName[] = ["uring", "linux", "thread", "js"];

const openers: Partial<Record<BackendName, Opener>> = {
  uring: (capacity, { sqpoll }) => openUringBackend(capacity, undefined, { sqpoll }),
  linux: openLinuxBackend,
  thread: (capacity, { threads }) => openThreadBackend(capacity, threads),
  js: openJsBackend,
};

export function isBackendName(value: unknown): value is BackendName {
  return typeof value === "string" && (BACKEND_NAMES as readonly string[]).includes(value);
}

/**
 * Opens `name`, or throws an error whose message names the backend and why this
 * machine cannot run it. A refused system call keeps its `code`, `errno` and `syscall`.
 */
export function openBackend(name: BackendName, capacity: number, options: OpenOptions = {}): Backend {
  const open = openers[name];
  try {
    if (!open) throw new Error("it is not part of this version of caio");
    return open(capacity, options);
  } catch (error) {
    const reason = error instanceof Error ? error : new Error(String(error));
    reason.message = `caio: the "${name}" backend is unavailable: ${reason.message}`;
    throw "code" in reason ? reason : errorWithCode(reason, "ERR_CAIO_BACKEND_UNAVAILABLE");
  }
}

/** Opens the most preferred backend that initialises here; throws with every reason if none does. */
export function openBestBackend(capacity: number, options: OpenOptions = {}): Backend {
  const reasons: string[] = [];
  for (const name of BACKEND_NAMES) {
    try {
      return openBackend(name, capacity, options);
    } catch (error) {
      reasons.push((error as Error).message);
    }
  }
  throw errorWithCode(new Error(`caio: no backend is available here:\n  ${reasons.join("\n  ")}`), "ERR_CAIO_BACKEND_UNAVAILABLE");
}
