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

/*
 * READFILE's and WRITEFILE's memory (common.h): the steps' int32 results, a few bytes
 * of scratch (the confirming read's byte) or input (mode, options), then the data
 * from WHOLE_DATA, then the path.
 */
#define WHOLE_DATA 32u
#define READFILE_DATA WHOLE_DATA
#define READFILE_STEPS 4u
#define READFILE_SCRATCH 16u
enum readfile_step { STEP_OPEN = 0, STEP_READ, STEP_CONFIRM, STEP_CLOSE };
#define WRITEFILE_STEPS 5u
#define WRITEFILE_MODE 20u
#define WRITEFILE_OPTIONS 24u
#define WRITEFILE_CUT 1u
#define WRITEFILE_DATASYNC 2u
enum writefile_step { WSTEP_OPEN = 0, WSTEP_WRITE, WSTEP_CUT, WSTEP_SYNC, WSTEP_CLOSE };

static uint16_t fileop_code(const struct caio_op *op)
{
	return (uint16_t)(op->opcode & ~CAIO_OP_FLAGS);
}

static bool fileop_is(uint16_t code)
{
	return code >= CAIO_OP_OPENAT && code <= CAIO_OP_WRITEFILE;
}

/* READFILE and WRITEFILE: a whole file in one op, several syscalls (a chain on the ring). */
static __attribute__((unused)) bool wholefile_is(uint16_t code)
{
	return code == CAIO_OP_READFILE || code == CAIO_OP_WRITEFILE;
}

/* A READFILE's data capacity, a WRITEFILE's data length: the high word of its offset. */
static uint32_t readfile_cap(const struct caio_op *op)
{
	return (uint32_t)(op->offset >> 32);
}

/* Where a READFILE's or WRITEFILE's path starts in its memory; past len when the data does not fit. */
static uint64_t readfile_path_at(const struct caio_op *op)
{
	return (uint64_t)WHOLE_DATA + readfile_cap(op);
}

static int32_t *readfile_results(const struct caio_op *op)
{
	return (int32_t *)(uintptr_t)op->buf;
}

static uint32_t writefile_word(const struct caio_op *op, uint32_t at)
{
	uint32_t word;

	memcpy(&word, (const uint8_t *)(uintptr_t)op->buf + at, sizeof(word));
	return word;
}

/* A WRITEFILE's result from its steps' (common.h): the first failure, else the bytes written. */
static int32_t writefile_outcome(const int32_t *steps)
{
	for (uint32_t i = 0; i < WRITEFILE_STEPS; i++) {
		if (steps[i] < 0)
			return steps[i];
	}
	return steps[WSTEP_WRITE];
}

/*
 * A READFILE's result from its steps' (common.h): the first failure, open's first,
 * else -EFBIG when the confirming read found more, else the bytes read.
 */
static int32_t readfile_outcome(const int32_t *steps)
{
	for (uint32_t i = 0; i < READFILE_STEPS; i++) {
		if (steps[i] < 0)
			return steps[i];
	}
	return steps[STEP_CONFIRM] > 0 ? -EFBIG : steps[STEP_READ];
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
	case CAIO_OP_READFILE:
	case CAIO_OP_WRITEFILE:
		return readfile_path_at(op) < op->len && has_nul(op, (uint32_t)readfile_path_at(op), op->len) ? 0 : -EINVAL;
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

/* read(2) at the file's position, again when interrupted: bytes or -errno. */
static int32_t read_retrying(int fd, void *into, uint32_t len)
{
	ssize_t ret;

	do
		ret = read(fd, into, len);
	while (ret < 0 && errno == EINTR);
	return ret < 0 ? -errno : (int32_t)ret;
}

/* READFILE's four steps, as the ring runs them linked (uring.c): a read that fails ends the reading. */
static int32_t readfile_run(const struct caio_op *op)
{
	int32_t *steps = readfile_results(op);
	uint8_t *memory = (uint8_t *)(uintptr_t)op->buf;
	int fd;

	memset(steps, 0, READFILE_STEPS * sizeof(int32_t));
	do
		fd = openat(op->fd, (const char *)memory + readfile_path_at(op), (int)((uint32_t)op->offset | O_CLOEXEC));
	while (fd < 0 && errno == EINTR);
	steps[STEP_OPEN] = fd < 0 ? -errno : 0;
	if (fd < 0)
		return steps[STEP_OPEN];
	steps[STEP_READ] = read_retrying(fd, memory + READFILE_DATA, readfile_cap(op));
	if (steps[STEP_READ] >= 0)
		steps[STEP_CONFIRM] = read_retrying(fd, memory + READFILE_SCRATCH, 1);
	steps[STEP_CLOSE] = close(fd) < 0 && errno != EINTR ? -errno : 0;
	return readfile_outcome(steps);
}

/* write(2) at the file's position, again when interrupted: bytes or -errno. */
static int32_t write_retrying(int fd, const void *from, uint32_t len)
{
	ssize_t ret;

	do
		ret = write(fd, from, len);
	while (ret < 0 && errno == EINTR);
	return ret < 0 ? -errno : (int32_t)ret;
}

/* 0, or -errno of a syscall that returned -1. */
static int32_t zero_or_errno(int ret)
{
	return ret < 0 ? -errno : 0;
}

/* WRITEFILE's steps, as the ring runs them (uring_chain.h): the later ones run whatever the write did. */
static int32_t writefile_run(const struct caio_op *op)
{
	int32_t *steps = readfile_results(op);
	const uint8_t *memory = (const uint8_t *)(uintptr_t)op->buf;
	uint32_t options = writefile_word(op, WRITEFILE_OPTIONS), len = readfile_cap(op);
	int fd;

	memset(steps, 0, WRITEFILE_STEPS * sizeof(int32_t));
	do
		fd = openat(op->fd, (const char *)memory + readfile_path_at(op), (int)((uint32_t)op->offset | O_CLOEXEC),
			    (mode_t)writefile_word(op, WRITEFILE_MODE));
	while (fd < 0 && errno == EINTR);
	steps[WSTEP_OPEN] = fd < 0 ? -errno : 0;
	if (fd < 0)
		return steps[WSTEP_OPEN];
	steps[WSTEP_WRITE] = write_retrying(fd, memory + WHOLE_DATA, len);
	if (options & WRITEFILE_CUT)
		steps[WSTEP_CUT] = zero_or_errno(ftruncate(fd, (off_t)len));
	if (options & WRITEFILE_DATASYNC)
		steps[WSTEP_SYNC] = zero_or_errno(fdatasync(fd));
	steps[WSTEP_CLOSE] = close(fd) < 0 && errno != EINTR ? -errno : 0;
	return writefile_outcome(steps);
}

/* Runs a file op: its result (a new fd, 0) or -errno. */
static int32_t fileop_run(const struct caio_op *op)
{
	long ret;

	if (op->opcode == CAIO_OP_READFILE)
		return readfile_run(op);
	if (op->opcode == CAIO_OP_WRITEFILE)
		return writefile_run(op);
	/* Linux frees the descriptor even when close is interrupted: retrying could close a reused number. */
	if (op->opcode == CAIO_OP_CLOSE)
		return close(op->fd) < 0 && errno != EINTR ? -errno : 0;
	do
		ret = fileop_syscall(op);
	while (ret < 0 && errno == EINTR);
	return ret < 0 ? -errno : (int32_t)ret;
}

#endif
