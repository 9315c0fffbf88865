/**
 * The options a Context is created with, checked once (each read once) before any
 * backend is opened.
 */
import { isBackendName, type BackendName } from "./backends/index.ts";
import { MAX_THREADS } from "./backends/thread.ts";
import { invalidArgType, outOfRange } from "./errors.ts";

export interface ContextOptions {
  /** Operations in flight at once (1 … 65536); more are queued in FIFO order, never refused. Default 128. */
  maxRequests?: number;
  /**
   * Use this backend or throw (naming the reason) if it cannot run here. By default
   * CAIO_IMPL, then the package's `default_implementation` file, then the fastest
   * backend that initialises here decide.
   */
  backend?: BackendName;
  /**
   * Worker threads for the "thread" backend (1 … 1024); other backends ignore it.
   * Default: enough to keep the CPUs and a fast SSD busy (see README).
   */
  threads?: number;
  /**
   * "uring" backend: ask the kernel for a thread that polls the submission queue
   * (IORING_SETUP_SQPOLL), so submitting makes no system call while that thread is
   * awake (it sleeps after 100 ms without work). It costs a CPU spinning in the
   * kernel and does not pay on small machines (see README). If the kernel refuses
   * (Linux before 5.11 without CAP_SYS_ADMIN, a sandbox), the context gets an
   * ordinary ring: check `ctx.sqpoll`. Other backends ignore it. Default false.
   */
  sqpoll?: boolean;
}

export interface CheckedOptions {
  maxRequests: number;
  backend?: BackendName;
  threads?: number;
  sqpoll?: boolean;
}

const DEFAULT_MAX_REQUESTS = 128;
const MAX_REQUESTS_LIMIT = 65536;

export function checkContextOptions(options: unknown): CheckedOptions {
  if (options === undefined) return { maxRequests: DEFAULT_MAX_REQUESTS };
  if (options === null || typeof options !== "object") throw invalidArgType("options", "of type object", options);
  const { maxRequests = DEFAULT_MAX_REQUESTS, backend, threads, sqpoll } = options as ContextOptions;
  if (typeof maxRequests !== "number") throw invalidArgType("options.maxRequests", "of type number", maxRequests);
  if (!Number.isInteger(maxRequests) || maxRequests < 1 || maxRequests > MAX_REQUESTS_LIMIT) {
    throw outOfRange("options.maxRequests", `an integer >= 1 && <= ${MAX_REQUESTS_LIMIT}`, maxRequests);
  }
  if (backend !== undefined && !isBackendName(backend)) {
    throw invalidArgType("options.backend", `one of "uring", "linux", "thread", "js"`, backend);
  }
  if (threads !== undefined) {
    if (typeof threads !== "number") throw invalidArgType("options.threads", "of type number", threads);
    if (!Number.isInteger(threads) || threads < 1 || threads > MAX_THREADS) {
      throw outOfRange("options.threads", `an integer >= 1 && <= ${MAX_THREADS}`, threads);
    }
  }
  if (sqpoll !== undefined && typeof sqpoll !== "boolean") throw invalidArgType("options.sqpoll", "of type boolean", sqpoll);
  return { maxRequests, backend, threads, sqpoll };
}
