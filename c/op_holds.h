/*
 * Staging a batch and holding its memory, for every native backend: an op flagged
 * CAIO_OP_F_NATIVE holds its block (memory.h) from submit until its completion is
 * reaped, and an op that must not run (memory that is not caio's, a bad path) is
 * refused with its error before anything reads its memory.
 *
 * Included by workers.h (each backend's file is compiled on its own under TinyCC).
 */
#ifndef CAIO_OP_HOLDS_H
#define CAIO_OP_HOLDS_H

#include <stdint.h>
#include <string.h>

#include "common.h"
#include "fileops.h"
#include "memory.h"

/* The opcode without its flags (CAIO_OP_FLAGS): what validation, routing and the syscalls use. */
static uint16_t op_code(const struct caio_op *op)
{
	return (uint16_t)(op->opcode & ~CAIO_OP_FLAGS);
}

/*
 * What an op completes with at submit, without running: -EFAULT when it is flagged
 * CAIO_OP_F_NATIVE but its memory is not caio's (held[] has no block for it), a file
 * op's refusal (fileop_check, after the hold); 0 when it may run.
 */
static int32_t refusal_of(const struct caio_op *op, struct caio_mem_block *const *held)
{
	if ((op->opcode & CAIO_OP_F_NATIVE) && !held[op->user_data])
		return -EFAULT;
	return fileop_check(op);
}

/*
 * For a backend that routes ops itself (aio.c, uring.c): copies ops[0..n) into staged[]
 * without CAIO_OP_F_NATIVE, holds each flagged op's block (memory.h), and marks by slot
 * in via[] one that must not run (refusal_of) `early`, with its error in early_res[],
 * and the rest `route`.
 */
static __attribute__((unused)) void stage_and_hold(const struct caio_op *ops, uint32_t n, struct caio_op *staged,
						   struct caio_mem_block **held, uint8_t *via, int32_t *early_res,
						   uint8_t route, uint8_t early)
{
	caio_mem_hold_ops(ops, n, held);
	for (uint32_t i = 0; i < n; i++) {
		uint32_t slot = ops[i].user_data;
		int32_t refused = refusal_of(&ops[i], held);

		staged[i] = ops[i];
		staged[i].opcode = op_code(&ops[i]);
		via[slot] = refused < 0 ? early : route;
		early_res[slot] = refused;
	}
}

/* Releases the hold of the op in `slot`, if it has one (memory.h): its memory is no longer used. */
static void held_release(struct caio_mem_block **held, uint32_t slot)
{
	if (held[slot]) {
		caio_mem_unhold(held[slot]);
		held[slot] = NULL;
	}
}

/*
 * Completions a submitting call made itself (an op refused at submit, or run there
 * synchronously), queued[0..*count) in order for the next reap to hand out first.
 */
static __attribute__((unused)) void early_push(struct caio_done *queued, uint32_t *count, uint32_t user_data, int32_t res)
{
	queued[*count].user_data = user_data;
	queued[*count].res = res;
	(*count)++;
}

/*
 * Queues the ops of ops[0..n) the submitting call completes itself: those marked
 * `early` in via[] (refused) with their early_res[], those marked `sync` (a file op
 * nothing else can run) by running them here.
 */
static __attribute__((unused)) void complete_at_submit(const struct caio_op *ops, uint32_t n, const uint8_t *via,
							const int32_t *early_res, uint8_t early, uint8_t sync,
							struct caio_done *queued, uint32_t *count)
{
	for (uint32_t i = 0; i < n; i++) {
		uint32_t slot = ops[i].user_data;

		if (via[slot] == early)
			early_push(queued, count, slot, early_res[slot]);
		else if (via[slot] == sync)
			early_push(queued, count, slot, fileop_run(&ops[i]));
	}
}

/* Moves up to `max` of queued[0..*count) into out[], oldest first; returns how many. */
static __attribute__((unused)) uint32_t early_take(struct caio_done *queued, uint32_t *count, struct caio_done *out,
						   uint32_t max)
{
	uint32_t n = *count < max ? *count : max;

	memcpy(out, queued, n * sizeof(*out));
	memmove(queued, queued + n, (*count - n) * sizeof(*out));
	*count -= n;
	return n;
}

/* Releases the holds of the ops whose completions are out[0..n). */
static void held_release_done(struct caio_mem_block **held, const struct caio_done *out, uint32_t n)
{
	if (n > 0)
		caio_mem_unhold_done(held, out, n);
}

#endif
