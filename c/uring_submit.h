/*
 * The steps of caio_uring_submit (uring.c): stage the batch and hold its memory;
 * then, one SQ-ful at a time, decide each op's route (uring_route.h) and write its
 * SQEs, submit them in one io_uring_enter, work out from what the kernel took which
 * ops were consumed, and hand on the pool's ops and the ones the submitting call
 * completes itself. Separate from uring.c, which keeps the exported entry points
 * and the CQ's draining.
 *
 * Included by uring.c after struct uring_backend and uring_route.h (TinyCC compiles
 * each backend's file on its own).
 */
#ifndef CAIO_URING_SUBMIT_H
#define CAIO_URING_SUBMIT_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

#include "common.h"
#include "fileops.h"
#include "fsclass.h"
#include "op_holds.h"
#include "ring.h"
#include "uring_chain.h"
#include "uring_sqe.h"
#include "workers.h"

static int validate_ops(const struct uring_backend *b, const struct caio_op *ops, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		if (ops[i].user_data >= b->capacity || op_code(&ops[i]) > CAIO_OP_MAX)
			return -EINVAL;
	}
	return 0;
}

/* Writes the SQEs of ops[i] (route not ROUTE_POOL/ROUTE_SYNC) from `at` SQEs past the SQ tail on. */
static void prep_route(struct uring_backend *b, const struct caio_op *op, enum route route, uint32_t at)
{
	struct io_uring_sqe *chain[CHAIN_MAX_SQES];

	if (route != ROUTE_CHAIN) {
		prep_sqe(ring_sqe(&b->ring, at), op, route == ROUTE_RING_ASYNC);
		return;
	}
	for (uint32_t k = 0; k < chain_sqes(op); k++)
		chain[k] = ring_sqe(&b->ring, at + k);
	chain_prep(&b->chains, chain, op);
}

/*
 * Decides the route of ops[0..), writing the SQEs of each that takes the ring, until
 * the next would not fit in `room` SQEs or the ops run out; records each slot's route
 * in via[]. Returns how many ops it looked at; *sqes is how many SQEs it wrote.
 */
static uint32_t prepare_chunk(struct uring_backend *b, const struct caio_op *ops, uint32_t n, uint32_t room,
			      uint32_t *sqes)
{
	uint32_t i, count = 0;

	for (i = 0; i < n; i++) {
		enum route route;

		if (b->via[ops[i].user_data] == VIA_EARLY)
			continue;
		route = route_of(b, &ops[i]);

		b->via[ops[i].user_data] = route == ROUTE_POOL ? VIA_POOL : route == ROUTE_SYNC ? VIA_SYNC : VIA_RING;
		if (route_sqes(route, &ops[i]) == 0)
			continue;
		if (count + route_sqes(route, &ops[i]) > room)
			break;
		prep_route(b, &ops[i], route, count);
		count += route_sqes(route, &ops[i]);
	}
	*sqes = count;
	return i;
}

/* SQEs the ring op in `slot` was written as (its route was decided and prepared). */
static uint32_t written_sqes(const struct uring_backend *b, uint32_t slot)
{
	return chain_is(&b->chains, slot) ? b->chains.owed[slot] : 1;
}

/*
 * Index in ops[0..end) of the first ring op the kernel did not take any SQE of, after
 * it took `taken`. A chain it took only part of counts as taken, owing the CQEs of
 * the SQEs taken (nothing else is possible: the kernel fails what follows a broken
 * link, and posts a CQE for each SQE it consumed); the chains after it never went out
 * and give their table slots back.
 */
static uint32_t ring_op_index(struct uring_backend *b, const struct caio_op *ops, uint32_t end, uint32_t taken)
{
	uint32_t first = end;

	for (uint32_t i = 0; i < end; i++) {
		uint32_t slot = ops[i].user_data, size;

		if (b->via[slot] != VIA_RING)
			continue;
		if (first == end && taken == 0)
			first = i;
		if (first < end) {
			if (chain_is(&b->chains, slot))
				chain_release(&b->chains, slot);
			continue;
		}
		size = written_sqes(b, slot);
		if (taken < size)
			b->chains.owed[slot] = (uint8_t)taken;
		taken = taken > size ? taken - size : 0;
	}
	return first;
}

/*
 * Submits a prefix of ops[0..n): the ring ops among the first ones, at most `room`,
 * in one io_uring_enter, and the pool's ones before the first ring op the kernel
 * did not take. Returns how many ops that prefix holds (*more: the rest may follow
 * now), or -errno when it is empty (-EAGAIN when room is 0).
 */
static int submit_chunk(struct uring_backend *b, const struct caio_op *ops, uint32_t n, uint32_t room, bool *more)
{
	uint32_t sqes, end = prepare_chunk(b, ops, n, room, &sqes);
	int ret = 0;

	*more = end < n;
	if (sqes > 0) {
		ret = ring_submit(&b->ring, sqes, &b->submit_calls);
		if (ret < (int)sqes) {
			end = ring_op_index(b, ops, end, ret < 0 ? 0 : (uint32_t)ret);
			*more = false;
		}
		if (ret > 0)
			b->in_flight += (uint32_t)ret;
	}
	if (end > 0 && b->pool.started > 0 && workers_submit_routed(&b->pool, ops, end, b->via, VIA_POOL) > 0)
		b->submit_calls++;
	complete_at_submit(ops, end, b->via, b->early_res, VIA_EARLY, VIA_SYNC, b->refused, &b->refused_count);
	if (end == 0)
		return ret < 0 ? ret : -EAGAIN;
	return (int)end;
}

/*
 * Copies ops[0..n) into b->staged without CAIO_OP_F_NATIVE, holding the block of each
 * flagged op (memory.h); one that must not run (refusal_of: memory that is not caio's,
 * a bad path) is marked VIA_EARLY with its error.
 */
static void hold_batch(struct uring_backend *b, const struct caio_op *ops, uint32_t n)
{
	stage_and_hold(ops, n, b->staged, b->held, b->via, b->early_res, VIA_RING, VIA_EARLY);
	remember_files(ops, n, b->owned, &b->files);
}

/* Drops the holds of ops[from..n), which stay with the caller. */
static void release_unconsumed(struct uring_backend *b, const struct caio_op *ops, uint32_t from, uint32_t n)
{
	for (uint32_t i = from; i < n; i++)
		held_release(b->held, ops[i].user_data);
}

#endif
