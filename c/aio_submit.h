/*
 * The steps of caio_aio_submit (aio.c): stage the batch and hold its memory, route
 * each op (aio_route.h) and write an iocb for each that goes to the kernel,
 * io_submit them in as few calls as the kernel allows, find the first op it did not
 * take, and hand on the pool's ops and the ones completed at submit time. Separate
 * from aio.c, which keeps the exported entry points, the context's setup and the
 * reaping.
 *
 * Included by aio.c after struct aio_backend, its syscall wrappers and aio_route.h
 * (TinyCC compiles each backend's file on its own).
 */
#ifndef CAIO_AIO_SUBMIT_H
#define CAIO_AIO_SUBMIT_H

#include <linux/aio_abi.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "common.h"
#include "fileops.h"
#include "fsclass.h"
#include "op_holds.h"
#include "workers.h"

static void prep_iocb(struct aio_backend *b, struct iocb *cb, const struct caio_op *op)
{
	static const uint16_t opcodes[] = {
		[CAIO_OP_READ] = IOCB_CMD_PREAD,
		[CAIO_OP_WRITE] = IOCB_CMD_PWRITE,
		[CAIO_OP_FSYNC] = IOCB_CMD_FSYNC,
		[CAIO_OP_FDSYNC] = IOCB_CMD_FDSYNC,
		[CAIO_OP_READV] = IOCB_CMD_PREADV,
		[CAIO_OP_WRITEV] = IOCB_CMD_PWRITEV,
	};

	memset(cb, 0, sizeof(*cb));
	cb->aio_data = op->user_data;
	cb->aio_lio_opcode = opcodes[op->opcode];
	cb->aio_fildes = (uint32_t)op->fd;
	/* The kernel rejects fsync iocbs whose buffer, length or offset is set (4.18+). */
	if (op->opcode != CAIO_OP_FSYNC && op->opcode != CAIO_OP_FDSYNC) {
		cb->aio_buf = op->buf;
		cb->aio_nbytes = op->len;
		cb->aio_offset = (int64_t)op->offset;
	}
	cb->aio_flags = IOCB_FLAG_RESFD;
	cb->aio_resfd = (uint32_t)b->wake.event_fd;
	if (op->ioprio) {
		cb->aio_flags |= IOCB_FLAG_IOPRIO;
		cb->aio_reqprio = op->ioprio;
	}
}

static int validate_ops(const struct aio_backend *b, const struct caio_op *ops, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		if (ops[i].user_data >= b->capacity || op_code(&ops[i]) > CAIO_OP_MAX)
			return -EINVAL;
	}
	return 0;
}

static void complete_early(struct aio_backend *b, uint32_t user_data, int32_t res)
{
	early_push(b->refused, &b->refused_count, user_data, res);
}

/*
 * io_submit of b->batch[0..count); returns how many iocbs were consumed: queued,
 * or refused with an error recorded for reap. Stops early only on EAGAIN.
 */
static uint32_t submit_batch(struct aio_backend *b, uint32_t count)
{
	uint32_t done = 0;

	while (done < count) {
		long ret = sys_io_submit(b->ctx, count - done, b->batch + done);
		b->submit_calls++;
		if (ret > 0) {
			done += (uint32_t)ret;
			continue;
		}
		if (ret == 0 || errno == EAGAIN)
			break;
		if (errno == EINTR)
			continue;
		/* io_submit reports the error of the first iocb it could not queue. */
		complete_early(b, (uint32_t)b->batch[done]->aio_data, -errno);
		done++;
	}
	return done;
}

/* Index in ops[] of the AIO op after the first `taken` ones (the first io_submit did not take). */
static uint32_t aio_op_index(const struct aio_backend *b, const struct caio_op *ops, uint32_t taken)
{
	uint32_t i = 0;

	for (;; i++) {
		if (b->via[ops[i].user_data] == VIA_AIO && taken-- == 0)
			return i;
	}
}

/* Routes ops[0..n) and writes an iocb into b->batch for each that goes to the kernel; returns how many. */
static uint32_t prepare(struct aio_backend *b, const struct caio_op *ops, uint32_t n)
{
	uint32_t pending = 0;

	for (uint32_t i = 0; i < n; i++) {
		uint32_t slot = ops[i].user_data;

		/* Refused by hold_batch: completes with early_res. */
		if (b->via[slot] == VIA_EARLY)
			continue;
		b->via[slot] = (uint8_t)route_of(b, &ops[i]);
		if (b->via[slot] != VIA_AIO)
			continue;
		prep_iocb(b, &b->iocbs[slot], &ops[i]);
		b->batch[pending++] = &b->iocbs[slot];
	}
	return pending;
}

/* Hands the pool's ops among ops[0..n) to it and records the ones completed at submit time. */
static void dispatch_rest(struct aio_backend *b, const struct caio_op *ops, uint32_t n)
{
	complete_at_submit(ops, n, b->via, b->early_res, VIA_EARLY, VIA_SYNC, b->refused, &b->refused_count);
	if (b->pool.started > 0 && workers_submit_routed(&b->pool, ops, n, b->via, VIA_POOL) > 0)
		b->submit_calls++;
}

/*
 * Copies ops[0..n) into b->staged without CAIO_OP_F_NATIVE, holding the block of each
 * flagged op (memory.h); one that must not run (refusal_of: memory that is not caio's,
 * a bad path) is marked VIA_EARLY with its error.
 */
static void hold_batch(struct aio_backend *b, const struct caio_op *ops, uint32_t n)
{
	stage_and_hold(ops, n, b->staged, b->held, b->via, b->early_res, VIA_AIO, VIA_EARLY);
	remember_files(ops, n, b->owned, &b->files);
}

#endif
