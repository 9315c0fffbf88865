/*
 * The SQE of every caio opcode (common.h) and of a cancellation, and which of them
 * a kernel's io_uring can run (from ring_probe, ring.h). What the SQEs are written
 * into and how they are submitted is ring.h's; which ops take the ring, uring.c's.
 *
 * Included by uring.c (TinyCC compiles each backend's file on its own).
 */
#ifndef CAIO_URING_SQE_H
#define CAIO_URING_SQE_H

#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "common.h"
#include "fileops.h"
#include "ring.h"

/* IORING_OP_FTRUNCATE (6.9) is newer than some distributions' headers; the value is ABI. */
#define URING_OP_FTRUNCATE 55

/* user_data of internal requests (cancellations); slot indexes are < 2^16. */
#define CANCEL_TAG (1ULL << 32)

static const uint8_t required_ops[] = {
	IORING_OP_READ,  IORING_OP_WRITE, IORING_OP_READV,
	IORING_OP_WRITEV, IORING_OP_FSYNC, IORING_OP_ASYNC_CANCEL,
};

/* The ring's opcode for each caio opcode; the file operations' are optional (kernel version beside each). */
static const uint8_t ring_opcodes[CAIO_OP_MAX + 1] = {
	[CAIO_OP_READ] = IORING_OP_READ,
	[CAIO_OP_WRITE] = IORING_OP_WRITE,
	[CAIO_OP_FSYNC] = IORING_OP_FSYNC,
	[CAIO_OP_FDSYNC] = IORING_OP_FSYNC,
	[CAIO_OP_READV] = IORING_OP_READV,
	[CAIO_OP_WRITEV] = IORING_OP_WRITEV,
	[CAIO_OP_OPENAT] = IORING_OP_OPENAT,       /* 5.6 */
	[CAIO_OP_CLOSE] = IORING_OP_CLOSE,         /* 5.6 */
	[CAIO_OP_STATX] = IORING_OP_STATX,         /* 5.6 */
	[CAIO_OP_FTRUNCATE] = URING_OP_FTRUNCATE,  /* 6.9 */
	[CAIO_OP_FALLOCATE] = IORING_OP_FALLOCATE, /* 5.6 */
	[CAIO_OP_UNLINKAT] = IORING_OP_UNLINKAT,   /* 5.11 */
	[CAIO_OP_RENAMEAT] = IORING_OP_RENAMEAT,   /* 5.11 */
	[CAIO_OP_MKDIRAT] = IORING_OP_MKDIRAT,     /* 5.15 */
};

/*
 * -ENOSYS unless the kernel has every opcode caio requires (IORING_OP_READ/WRITE are
 * 5.6); sets *ring_ops to the caio opcodes whose ring opcode it has, bit (1 << opcode).
 */
static int sqe_opcodes(const struct io_uring_probe *probe, uint32_t *ring_ops)
{
	int ret = 0;

	for (size_t i = 0; i < sizeof(required_ops); i++) {
		if (!probe_has(probe, required_ops[i]))
			ret = -ENOSYS;
	}
	for (uint32_t code = 0; code <= CAIO_OP_MAX; code++) {
		/* READFILE and WRITEFILE are no one ring opcode but a chain of them (uring_chain.h). */
		if (!wholefile_is((uint16_t)code) && probe_has(probe, ring_opcodes[code]))
			*ring_ops |= 1U << code;
	}
	return ret;
}

/* The SQE fields of a file op (io_uring_enter(2)); the rest stay 0, as the kernel requires. */
static void prep_file_sqe(struct io_uring_sqe *sqe, const struct caio_op *op)
{
	uint32_t lo = (uint32_t)op->offset, hi = (uint32_t)(op->offset >> 32);

	switch (op->opcode) {
	case CAIO_OP_OPENAT:
		sqe->addr = op->buf;
		sqe->len = hi; /* mode */
		sqe->open_flags = lo | O_CLOEXEC;
		break;
	case CAIO_OP_STATX:
		sqe->addr = op->buf + FILEOP_STATX_BYTES; /* the path */
		sqe->addr2 = op->buf;                     /* the struct statx */
		sqe->len = hi;                            /* mask */
		sqe->statx_flags = lo;
		break;
	case CAIO_OP_FTRUNCATE:
		sqe->off = op->offset;
		break;
	case CAIO_OP_FALLOCATE:
		sqe->off = op->offset;
		sqe->addr = op->buf; /* length */
		sqe->len = op->len;  /* mode */
		break;
	case CAIO_OP_UNLINKAT:
		sqe->addr = op->buf;
		sqe->unlink_flags = lo;
		break;
	case CAIO_OP_RENAMEAT:
		sqe->addr = op->buf;
		sqe->addr2 = op->buf + lo;
		sqe->len = (uint32_t)op->fd; /* the new path's directory: the same one */
		sqe->rename_flags = hi;
		break;
	case CAIO_OP_MKDIRAT:
		sqe->addr = op->buf;
		sqe->len = lo; /* mode */
		break;
	}
}

/* The SQE of `op` (opcode without CAIO_OP_F_NATIVE), with IOSQE_ASYNC if `async`. */
static void prep_sqe(struct io_uring_sqe *sqe, const struct caio_op *op, bool async)
{
	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = ring_opcodes[op->opcode];
	sqe->fd = op->fd;
	sqe->user_data = op->user_data;
	if (async)
		sqe->flags |= IOSQE_ASYNC;
	/* No ioprio on these either: the kernel rejects it where an opcode cannot use it. */
	if (fileop_is(op->opcode)) {
		prep_file_sqe(sqe, op);
		return;
	}
	if (op->opcode == CAIO_OP_FSYNC || op->opcode == CAIO_OP_FDSYNC) {
		/* No ioprio: the kernel rejects it (EINVAL) on opcodes that cannot use it, fsync among them. */
		sqe->fsync_flags = op->opcode == CAIO_OP_FDSYNC ? IORING_FSYNC_DATASYNC : 0;
		return;
	}
	sqe->ioprio = op->ioprio;
	sqe->addr = op->buf;
	sqe->len = op->len;
	sqe->off = op->offset;
}

/*
 * An IORING_OP_ASYNC_CANCEL of the request with user_data `target`: the op in `slot`,
 * or one step of its chain (uring_chain.h). Its own CQE carries CANCEL_TAG.
 */
static void prep_cancel(struct io_uring_sqe *sqe, uint32_t slot, uint64_t target)
{
	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = IORING_OP_ASYNC_CANCEL;
	sqe->fd = -1;
	sqe->addr = target;
	sqe->user_data = CANCEL_TAG | slot;
}

#endif
