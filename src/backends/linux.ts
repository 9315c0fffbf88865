/**
 * Kernel AIO ("linux"): io_submit with an eventfd per context, relayed to the wake socket,
 * for the ops kernel AIO only queues (O_DIRECT reads, overwrites and fsyncs on local files
 * and block devices). Everything io_submit would do inline on the JavaScript thread
 * (buffered I/O, O_DIRECT writes that extend a file or cover part of a block, files on
 * network and FUSE file systems, pipes, sockets, /proc) goes to a small thread pool in the
 * same native context, started by the first such op; see c/aio.c.
 */
import { systemError } from "../errors.ts";
import { nativeContract } from "../native.ts";
import type { Backend } from "./backend.ts";
import { NativeBackend } from "./native-backend.ts";
import { readSysctl } from "./sysctl.ts";

const EAGAIN = -11;
const EPERM = -1;
const ENOSYS = -38;

export function explainIoSetupError(negativeErrno: number, capacity: number): Error {
  if (negativeErrno === EAGAIN) {
    const max = readSysctl("fs.aio-max-nr");
    const used = readSysctl("fs.aio-nr");
    return systemError(
      negativeErrno,
      "io_setup",
      `the system-wide AIO limit fs.aio-max-nr is exhausted (limit ${max}, in use ${used}, ` +
        `this context asked for ${capacity}); raise it with "sysctl -w fs.aio-max-nr=1048576", ` +
        `lower maxRequests, or use another backend`,
    );
  }
  if (negativeErrno === ENOSYS || negativeErrno === EPERM) {
    return systemError(
      negativeErrno,
      "io_setup",
      "the kernel or sandbox refuses Linux AIO (kernel built without CONFIG_AIO, gVisor, " +
        "or a seccomp profile such as a container's); use another backend",
    );
  }
  return systemError(negativeErrno, "io_setup", "could not create a Linux AIO context");
}

/** Opens a kernel AIO context for `capacity` operations in flight; throws an explained error if refused. */
export function openLinuxBackend(capacity: number): Backend {
  const found = nativeContract("caio_aio");
  if ("reason" in found) throw new Error(found.reason);
  return new NativeBackend("linux", found.contract, capacity, (errno) => explainIoSetupError(errno, capacity));
}
