/**
 * io_uring ("uring"): one ring per context; an eventfd registered for late completions,
 * relayed to the wake socket. Ops on files served over the network or by a FUSE daemon
 * go to a small thread pool in the same native context instead (io_uring_enter would
 * wait for the server inline, and returns wrong bytes for a short FUSE read); see c/uring.c.
 */
import { systemError } from "../errors.ts";
import { nativeContract } from "../native.ts";
import type { Backend } from "./backend.ts";
import { NativeBackend } from "./native-backend.ts";
import { readSysctl } from "./sysctl.ts";

const EPERM = -1;
const ENOMEM = -12;
const ENOSYS = -38;

export function explainUringSetupError(negativeErrno: number): Error {
  if (negativeErrno === EPERM) {
    const disabled = readSysctl("kernel.io_uring_disabled");
    const why =
      disabled === "2"
        ? "kernel.io_uring_disabled is 2 (io_uring is switched off for every process)"
        : disabled === "1"
          ? "kernel.io_uring_disabled is 1 and this process is not in kernel.io_uring_group"
          : "a seccomp profile (for example a container runtime's default) blocks io_uring_setup";
    return systemError(negativeErrno, "io_uring_setup", `io_uring is not permitted here: ${why}`);
  }
  if (negativeErrno === ENOSYS) {
    return systemError(
      negativeErrno,
      "io_uring_setup",
      "this kernel or sandbox has no usable io_uring (needs Linux 5.6+ with IORING_OP_READ/WRITE; gVisor and old kernels lack it)",
    );
  }
  if (negativeErrno === ENOMEM) {
    return systemError(
      negativeErrno,
      "io_uring_setup",
      'the rings do not fit in RLIMIT_MEMLOCK (kernels before 5.12 charge them to it); raise it with "ulimit -l" or lower maxRequests',
    );
  }
  return systemError(negativeErrno, "io_uring_setup", "could not create an io_uring instance");
}

/** IORING_SETUP_* flags caio tries, newest first; the kernel's EINVAL drops them in this order. */
export const OPTIONAL_SETUP_FLAGS = {
  DEFER_TASKRUN: 1 << 13,
  SINGLE_ISSUER: 1 << 12,
  COOP_TASKRUN: (1 << 8) | (1 << 9),
  SUBMIT_ALL: 1 << 7,
} as const;

/**
 * Left untried unless asked for. With DEFER_TASKRUN a late completion waits for one
 * more io_uring_enter on the JavaScript thread after the wake-up. Measured here on
 * O_DIRECT 4 KiB reads (1, 4 and 64 in flight) it took 10–25% more process CPU for
 * the same IOPS, and it changed nothing on cached reads, which complete inside the
 * submitting call.
 */
export const DEFAULT_AVOIDED_SETUP_FLAGS = OPTIONAL_SETUP_FLAGS.DEFER_TASKRUN;

/** IORING_SETUP_SQPOLL, as features() reports it when the kernel granted the polling thread. */
export const SETUP_SQPOLL = 1 << 1;

/** caio_uring_open's option bits above the IORING_SETUP_* flags (c/uring.c). */
const OPTION_SQPOLL = 1 << 30;
const OPTION_REFUSE_SQPOLL = 1 << 29;

export interface UringOptions {
  /** Ask for a kernel thread polling the SQ (IORING_SETUP_SQPOLL); an ordinary ring if refused. */
  sqpoll?: boolean;
  /** Tests: act as if the kernel refused SQPOLL. */
  refuseSqpoll?: boolean;
}

/**
 * Opens a ring for `capacity` operations in flight; throws an explained error if
 * the kernel refuses. `avoidSetupFlags` (tests) chooses which optional flags stay untried.
 */
export function openUringBackend(
  capacity: number,
  avoidSetupFlags: number = DEFAULT_AVOIDED_SETUP_FLAGS,
  { sqpoll = false, refuseSqpoll = false }: UringOptions = {},
): Backend {
  const found = nativeContract("caio_uring");
  if ("reason" in found) throw new Error(found.reason);
  const option = avoidSetupFlags | (sqpoll ? OPTION_SQPOLL : 0) | (refuseSqpoll ? OPTION_REFUSE_SQPOLL : 0);
  return new NativeBackend("uring", found.contract, capacity, explainUringSetupError, option);
}
