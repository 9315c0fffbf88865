/*
 * File operations (CAIO_OP_OPENAT .. CAIO_OP_MKDIRAT, common.h): the check every
 * backend makes at submit before anything reads an op's path, and the plain
 * syscall a pool worker (workers.h) runs for one. The record encoding is common.h's.
 *
 * Included by workers.h (each backend's file is compiled on its own under TinyCC).
 */
#ifndef CAIO_FILEOPS_H
#define CAIO_FILEOPS_H

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h> /* renameat */
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common.h"

/*
 * statx(2) and renameat2(2) by their ABI: glibc's wrappers are 2.28+, and a raw
 * syscall keeps the shared object free of that symbol version.
 */
#ifndef __NR_statx
#if defined(__x86_64__)
#define __NR_statx 332
#elif defined(__aarch64__)
#define __NR_statx 291
#endif
#endif
#ifndef __NR_renameat2
#if defined(__x86_64__)
#define __NR_renameat2 316
#elif defined(__aarch64__)
#define __NR_renameat2 276
#endif
#endif

/* The struct statx that starts a STATX op's memory; its path follows. */
#define FILEOP_STATX_BYTES 256u

static uint16_t fileop_code(const struct caio_op *op)
{
	return (uint16_t)(op->opcode & ~CAIO_OP_F_NATIVE);
}

static bool fileop_is(uint16_t code)
{
	return code >= CAIO_OP_OPENAT && code <= CAIO_OP_MKDIRAT;
}

/* Ops whose memory holds a path: fd is only the directory it is relative to. */
static bool fileop_has_path(uint16_t code)
{
	return fileop_is(code) && code != CAIO_OP_CLOSE && code != CAIO_OP_FTRUNCATE && code != CAIO_OP_FALLOCATE;
}

/* A NUL among bytes [from, to) of the op's memory; false for an empty range. */
static bool has_nul(const struct caio_op *op, uint32_t from, uint32_t to)
{
	return from < to && memchr((const char *)(uintptr_t)op->buf + from, 0, to - from) != NULL;
}

/*
 * 0 when the op may run: the kernel reads a path up to its NUL, so each path's NUL
 * must lie within the op's `len` bytes, or it would read past the block the op
 * holds. -EINVAL otherwise (no NUL, a STATX too short for its struct statx, a
 * RENAMEAT whose split is not inside the memory), -EFAULT for a path op with no
 * memory at all. Ops other than path ops pass. Reads only the op's own bytes, and
 * only after the backend has held them (memory.h).
 */
static int32_t fileop_check(const struct caio_op *op)
{
	uint16_t code = fileop_code(op);
	uint32_t split = (uint32_t)op->offset;

	if (!fileop_has_path(code))
		return 0;
	if (op->buf == 0)
		return -EFAULT;
	switch (code) {
	case CAIO_OP_STATX:
		return has_nul(op, FILEOP_STATX_BYTES, op->len) ? 0 : -EINVAL;
	case CAIO_OP_RENAMEAT:
		return has_nul(op, 0, split) && has_nul(op, split, op->len) ? 0 : -EINVAL;
	default:
		return has_nul(op, 0, op->len) ? 0 : -EINVAL;
	}
}

/* renameat2 only when flags ask for it: renameat is what every seccomp profile allows. */
static long fileop_rename(int fd, const char *from, const char *to, unsigned flags)
{
	if (flags == 0)
		return renameat(fd, from, fd, to);
	return syscall(__NR_renameat2, fd, from, fd, to, flags);
}

/*
 * The syscall of a file op other than CLOSE (opcode without CAIO_OP_F_NATIVE): its
 * result, or -1 with errno.
 * OPENAT always adds O_CLOEXEC, as Node and libuv do, so a descriptor never leaks
 * into a child spawned meanwhile.
 */
static long fileop_syscall(const struct caio_op *op)
{
	char *path = (char *)(uintptr_t)op->buf;
	uint32_t lo = (uint32_t)op->offset, hi = (uint32_t)(op->offset >> 32);

	switch (op->opcode) {
	case CAIO_OP_OPENAT:
		return openat(op->fd, path, (int)(lo | O_CLOEXEC), (mode_t)hi);
	case CAIO_OP_STATX:
		return syscall(__NR_statx, op->fd, path + FILEOP_STATX_BYTES, (int)lo, hi, path);
	case CAIO_OP_FTRUNCATE:
		return ftruncate(op->fd, (off_t)op->offset);
	case CAIO_OP_FALLOCATE:
		return fallocate(op->fd, (int)op->len, (off_t)op->offset, (off_t)op->buf);
	case CAIO_OP_UNLINKAT:
		return unlinkat(op->fd, path, (int)lo);
	case CAIO_OP_RENAMEAT:
		return fileop_rename(op->fd, path, path + lo, hi);
	case CAIO_OP_MKDIRAT:
		return mkdirat(op->fd, path, (mode_t)lo);
	}
	errno = EINVAL;
	return -1;
}

/* Runs a file op: its result (a new fd, 0) or -errno. */
static int32_t fileop_run(const struct caio_op *op)
{
	long ret;

	/* Linux frees the descriptor even when close is interrupted: retrying could close a reused number. */
	if (op->opcode == CAIO_OP_CLOSE)
		return close(op->fd) < 0 && errno != EINTR ? -errno : 0;
	do
		ret = fileop_syscall(op);
	while (ret < 0 && errno == EINTR);
	return ret < 0 ? -errno : (int32_t)ret;
}

#endif
