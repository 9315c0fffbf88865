/*
 * What a pool worker (workers.h) does with one op: its one blocking syscall (pread,
 * pwritev, fsync, a file op of fileops.h), under the op's own I/O priority.
 *
 * Included by workers.h (each backend's file is compiled on its own under TinyCC).
 */
#ifndef CAIO_OP_RUN_H
#define CAIO_OP_RUN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common.h"
#include "fileops.h"

#ifndef IOPRIO_WHO_PROCESS
#define IOPRIO_WHO_PROCESS 1
#endif
#ifndef IOPRIO_CLASS_SHIFT
#define IOPRIO_CLASS_SHIFT 13
#endif

static long sys_ioprio_get(void)
{
	/* who = 0: the calling thread; ioprio belongs to the task, not the process. */
	return syscall(SYS_ioprio_get, IOPRIO_WHO_PROCESS, 0);
}

static long sys_ioprio_set(int prio)
{
	return syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, prio);
}

static ssize_t do_rw(const struct caio_op *op, bool positioned)
{
	void *buf = (void *)(uintptr_t)op->buf;
	const struct iovec *iov = buf;
	off_t off = (off_t)op->offset;
	int iovcnt = (int)op->len;

	switch (op->opcode) {
	case CAIO_OP_READ:
		return positioned ? pread(op->fd, buf, op->len, off) : read(op->fd, buf, op->len);
	case CAIO_OP_WRITE:
		return positioned ? pwrite(op->fd, buf, op->len, off) : write(op->fd, buf, op->len);
	case CAIO_OP_READV:
		return positioned ? preadv(op->fd, iov, iovcnt, off) : readv(op->fd, iov, iovcnt);
	case CAIO_OP_WRITEV:
		return positioned ? pwritev(op->fd, iov, iovcnt, off) : writev(op->fd, iov, iovcnt);
	case CAIO_OP_FSYNC:
		return fsync(op->fd);
	case CAIO_OP_FDSYNC:
		return fdatasync(op->fd);
	}
	errno = EINVAL;
	return -1;
}

static ssize_t do_rw_retry(const struct caio_op *op, bool positioned)
{
	ssize_t ret;

	do
		ret = do_rw(op, positioned);
	while (ret < 0 && errno == EINTR);
	return ret;
}

/* Runs the op's one syscall; bytes moved, 0, a new fd, or -errno. */
static int32_t run_op(const struct caio_op *op)
{
	ssize_t ret;

	if (fileop_is(op->opcode))
		return fileop_run(op);
	ret = do_rw_retry(op, true);

	/* Pipes, sockets and some /proc files refuse positioned I/O: use the stream position, as Node does for -1. */
	if (ret < 0 && errno == ESPIPE && op->opcode != CAIO_OP_FSYNC && op->opcode != CAIO_OP_FDSYNC)
		ret = do_rw_retry(op, false);
	/* The kernel caps one transfer at 0x7ffff000 bytes, so the count fits. */
	return ret < 0 ? -errno : (int32_t)ret;
}

/*
 * Runs the op under its own I/O priority, then returns the thread to `base`. A
 * priority the kernel refuses fails the op with EINVAL/EPERM, as the kernel
 * backends do; any other failure (ENOSYS in a sandbox) runs the op unprioritised,
 * since the priority is only advice and this backend is the sandbox fallback.
 */
static int32_t run_prioritized(const struct caio_op *op, int base)
{
	int32_t res;

	/* File ops ignore it: the ring refuses ioprio on them, and they move no data to prioritise. */
	if (op->ioprio == 0 || fileop_is(op->opcode))
		return run_op(op);
	if (sys_ioprio_set(op->ioprio) < 0) {
		if (errno == EINVAL || errno == EPERM)
			return -errno;
		return run_op(op);
	}
	res = run_op(op);
	/* 0 (no class: follow the CPU nice level) is always accepted, should `base` not be. */
	if (sys_ioprio_set(base) < 0)
		sys_ioprio_set(0);
	return res;
}

/* The priority a worker returns to after a prioritised op: what it inherited. */
static int inherited_ioprio(void)
{
	long prio = sys_ioprio_get();

	/*
	 * Older kernels report "no class, level 4" for a thread that never set one,
	 * which ioprio_set rejects; class NONE means 0 whatever the level.
	 */
	if (prio < 0 || (prio >> IOPRIO_CLASS_SHIFT) == 0)
		return 0;
	return (int)prio;
}

#endif
