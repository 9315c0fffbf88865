/*
 * Worker threads that run each op as one blocking syscall (pread, pwritev, fsync,
 * ...): the whole of the thread backend (pool.c), and where aio.c and uring.c send
 * the ops their kernel interface would run inline on the JavaScript thread (see
 * fsclass.h). Completions are queued here and handed out by workers_reap; each
 * worker writes the backend's wake socket itself. What a worker does with one op is
 * op_run.h's; how a batch is staged and its memory held, op_holds.h's.
 *
 * One mutex guards everything shared: the pending ring workers take ops from, the
 * completion ring reap drains, and a per-slot state that makes cancel exact.
 *
 * The pool's state and the bookkeeping of those rings (tombstones included) are
 * workers_queue.h's; its threads and their lifetime, workers_threads.h's; this file
 * holds the entry points the backends call: submit, reap, cancel.
 *
 * Included by each backend's file (they are compiled one by one under TinyCC).
 */
#ifndef CAIO_WORKERS_H
#define CAIO_WORKERS_H

#include <pthread.h>
#include <stdbool.h>
#include <sys/syscall.h>
#ifdef __TINYC__
/*
 * linux/fs.h (under linux/aio_abi.h and linux/io_uring.h) and glibc's <sys/uio.h>
 * both define RWF_*, spelt differently; gcc lets a system header redefine them,
 * TinyCC fails the compile. caio uses none of them.
 */
#undef RWF_HIPRI
#undef RWF_DSYNC
#undef RWF_SYNC
#undef RWF_NOWAIT
#undef RWF_APPEND
#undef RWF_NOAPPEND
#undef RWF_ATOMIC
#undef RWF_DONTCACHE
#endif
#include <sys/uio.h>
#include <unistd.h>

#include "common.h"
#include "fileops.h"
#include "memory.h"
#include "op_holds.h"
#include "op_run.h"
#include "wake.h"

#include "workers_queue.h"
#include "workers_threads.h"

static bool op_valid(const struct workers *w, const struct caio_op *op)
{
	return op->user_data < w->capacity && op_code(op) <= CAIO_OP_MAX &&
	       w->state[op->user_data] == SLOT_FREE;
}

/* Marks every op's slot queued, or none of them: a bad or busy slot rejects the batch. */
static int claim_slots(struct workers *w, const struct caio_op *ops, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		if (!op_valid(w, &ops[i])) {
			while (i--)
				w->state[ops[i].user_data] = SLOT_FREE;
			return -EINVAL;
		}
		w->state[ops[i].user_data] = SLOT_QUEUED;
	}
	return 0;
}

/* Wakes a sleeping worker for each new op; the caller holds the lock. */
static void wake_workers(struct workers *w, uint32_t n)
{
	/* One broadcast when every sleeper gets work, else one signal per op: no herd of 64 for a batch of 2. */
	if (n >= w->idle) {
		if (w->idle > 0)
			pthread_cond_broadcast(&w->work);
		return;
	}
	while (n--)
		pthread_cond_signal(&w->work);
}

/*
 * Hands ops[0..n) to the workers under one lock: each completes exactly once
 * through workers_reap. Returns 0, or -EINVAL, queueing nothing, if an op has a
 * bad opcode or a user_data that is out of range or still in the pool.
 * The queue never fills (live entries hold distinct slots, and compaction makes
 * room for them), so the -EAGAIN of a full queue cannot arise.
 *
 * An op flagged CAIO_OP_F_NATIVE holds its block (memory.h) in held[slot] from here
 * until the caller releases it (held_release); one whose memory is not caio's
 * completes with -EFAULT at once and never runs, as does a file op that fails
 * fileop_check (with its -EINVAL).
 */
static __attribute__((unused)) int workers_submit(struct workers *w, const struct caio_op *ops, uint32_t n,
						  struct caio_mem_block **held)
{
	uint32_t queued = 0;
	bool wake = false;
	int ret;

	pthread_mutex_lock(&w->lock);
	ret = claim_slots(w, ops, n);
	if (ret == 0) {
		/* memory.c takes no other lock while it holds its own, so nesting it here cannot deadlock. */
		caio_mem_hold_ops(ops, n, held);
		if (w->queue_len + n > queue_size(w))
			compact(w);
		for (uint32_t i = 0; i < n; i++) {
			int32_t refused = refusal_of(&ops[i], held);

			if (refused < 0) {
				wake |= push_done(w, ops[i].user_data, refused);
				continue;
			}
			enqueue(w, &ops[i], 1);
			queued++;
		}
		wake_workers(w, queued);
	}
	pthread_mutex_unlock(&w->lock);
	/* On the JavaScript thread, which reaps after submitting: one attempt, as for cancel. */
	if (wake)
		wake_try_signal(w->wake);
	return ret;
}

/*
 * For a backend that sends only some ops to the pool (aio.c, uring.c): sets the
 * pool up on first use, with one worker. False if that fails (no memory, no
 * thread), now or before: the caller then keeps the op itself.
 */
static __attribute__((unused)) bool workers_usable(struct workers *w)
{
	if (w->started > 0)
		return true;
	if (w->broken)
		return false;
	if (workers_alloc(w) < 0 || workers_start(w, 1) < 0)
		w->broken = true;
	return w->started > 0;
}

/*
 * For the same backends: queues, under one lock, the ops in ops[0..n) whose slot's
 * via[] byte is `mine`, and returns how many. The caller owns those slots (its
 * user_data is never reused before the completion is reaped), so they are not
 * checked. Then starts a worker for each op no idle one is waiting for, up to
 * nthreads; a thread that cannot be created leaves the op to the running ones.
 */
static __attribute__((unused)) uint32_t workers_submit_routed(struct workers *w, const struct caio_op *ops, uint32_t n,
							      const uint8_t *via, uint8_t mine)
{
	uint32_t count = 0, missing;

	pthread_mutex_lock(&w->lock);
	for (uint32_t i = 0; i < n; i++) {
		if (via[ops[i].user_data] != mine)
			continue;
		w->state[ops[i].user_data] = SLOT_QUEUED;
		enqueue(w, &ops[i], 1);
		count++;
	}
	wake_workers(w, count);
	missing = w->queued > w->idle ? w->queued - w->idle : 0;
	pthread_mutex_unlock(&w->lock);
	if (missing > 0)
		workers_start(w, w->started + missing);
	return count;
}

/*
 * Copies up to `max` completions into out[] without blocking and frees their
 * slots; returns the count. With max >= capacity it takes every completion there
 * is; a caller passing less should call again while it gets `max`, as the wake-up
 * for the rest is only best effort (see push_done).
 */
static uint32_t workers_reap(struct workers *w, struct caio_done *out, uint32_t max)
{
	uint32_t n;
	bool left;

	pthread_mutex_lock(&w->lock);
	n = w->done_count < max ? w->done_count : max;
	for (uint32_t i = 0; i < n; i++) {
		out[i] = w->done[ring_at(w->done_head, i, w->capacity)];
		w->state[out[i].user_data] = SLOT_FREE;
	}
	w->done_head = ring_at(w->done_head, n, w->capacity);
	w->done_count -= n;
	left = w->done_count > 0;
	/* See push_done: only an empty ring may forget that the socket was written. */
	if (!left)
		w->wake_pending = false;
	pthread_mutex_unlock(&w->lock);
	/* The caller may already have consumed the write for what is left; it must not wait in vain. */
	if (left)
		wake_try_signal(w->wake);
	return n;
}

/*
 * Cancels, under one lock, the ops in slots[0..n) that no worker has started,
 * skipping the slots whose via[] byte is not `mine` (via NULL: every slot is
 * the pool's). Those complete with -ECANCELED, already by the time this returns,
 * so the caller reaps right after it: their wake-up byte is sent without retrying,
 * as this runs on the JavaScript thread. A running or finished op keeps its own
 * result; a free slot is ignored. Slots must be < capacity.
 */
static void workers_cancel(struct workers *w, const uint32_t *slots, uint32_t n, const uint8_t *via, uint8_t mine)
{
	bool wake = false;

	pthread_mutex_lock(&w->lock);
	for (uint32_t i = 0; i < n; i++) {
		if (!via || via[slots[i]] == mine)
			wake |= cancel_queued(w, slots[i]);
	}
	forget_tombstones_if_idle(w);
	pthread_mutex_unlock(&w->lock);
	if (wake)
		wake_try_signal(w->wake);
}

#endif
