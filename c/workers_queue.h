/*
 * The thread pool's shared state (struct workers) and the bookkeeping of its two
 * rings: the pending ring workers take ops from and the completion ring
 * workers_reap drains, with each slot's state. Every function here runs with the
 * pool's lock held and does only index arithmetic on the rings: no lock, thread or
 * syscall of its own. The threads are workers_threads.h's; the entry points the
 * backends call, workers.h's.
 *
 * Cancelling a queued op leaves a tombstone in the pending ring instead of closing
 * the gap, so a batch of cancels costs O(1) each under one lock: the slot's ring
 * position is kept in queue_at[]; workers skip tombstones; and the ring has room for
 * 2 x capacity entries, so the tombstones of slots already reaped and reused fit
 * beside the live entries until a submit that would not fit compacts the ring.
 *
 * Included by workers.h (TinyCC compiles each backend's file on its own).
 */
#ifndef CAIO_WORKERS_QUEUE_H
#define CAIO_WORKERS_QUEUE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "common.h"
#include "op_holds.h" /* op_code */
#include "wake.h"

/* A pending-ring entry whose op was cancelled; slot indexes are < 65536. */
#define TOMBSTONE UINT32_MAX

/* Where the op in a slot is; moves only forward, FREE again once reaped. */
enum slot_state {
	SLOT_FREE = 0,
	SLOT_QUEUED,
	SLOT_RUNNING,
	SLOT_DONE,
};

struct workers {
	pthread_mutex_t lock;
	pthread_cond_t work;    /* ops were queued, or the pool is stopping */
	struct wake *wake;      /* the backend's; written by the workers, no relay */
	const char *name;       /* thread name, at most 15 characters */
	uint32_t capacity;
	uint32_t nthreads;      /* the most that may be started */
	uint32_t started;       /* threads created so far; workers_stop joins these */
	uint32_t idle;          /* workers waiting on `work` */
	bool stopping;
	bool broken;            /* workers_usable could not set the pool up */
	/* The wake socket was written for the completions queued since the last draining reap. */
	bool wake_pending;
	/*
	 * Pending ring of 2 x capacity slot indexes in FIFO order, TOMBSTONE for a
	 * cancelled one; queue_len counts every entry, queued only the live ones.
	 */
	uint32_t *queue;
	uint32_t queue_head, queue_len, queued;
	/* Completion ring of `capacity` entries: each holds a distinct slot, so it never overflows. */
	struct caio_done *done;
	uint32_t done_head, done_count;
	/* Indexed by user_data: */
	struct caio_op *ops;    /* the op, while SLOT_QUEUED */
	uint32_t *queue_at;     /* its pending-ring position, while SLOT_QUEUED */
	uint8_t *state;         /* enum slot_state */
	pthread_t *threads;
};

/* Position `i` after `head` in a ring of `size` entries; i <= size. */
static uint32_t ring_at(uint32_t head, uint32_t i, uint32_t size)
{
	uint32_t at = head + i;

	return at >= size ? at - size : at;
}

static uint32_t queue_size(const struct workers *w)
{
	return 2 * w->capacity;
}

/*
 * Queues a completion; the caller holds the lock. Returns true when the caller
 * must write the wake socket (after unlocking).
 *
 * No wake-up is lost. wake_pending is set only by the push that then writes the
 * socket, and cleared only by a reap that leaves the ring empty. So while
 * completions wait in the ring, the socket has been written (or is about to be,
 * by the thread that set the flag) since the last reap that emptied it. The
 * caller reads the socket only after a reap and reaps after every read: if a read
 * consumed that write, the reap after it came after the write, hence after the
 * push it announced, and took those completions; a reap that has to leave some
 * behind writes again. The price is at most a spurious wake-up, when a reap took
 * a completion before the write announcing it was read.
 *
 * Two writers run on the JavaScript thread, which must not sleep, and so make one
 * attempt (wake_try_signal) instead of retrying: cancel, whose completions the
 * caller reaps right after it (see workers_cancel), and a reap that leaves
 * completions behind, which a caller passing max >= capacity never does. Only a
 * failed attempt there leaves wake_pending set with no byte sent, and then the
 * caller's own reap empties the ring and clears it.
 */
static bool push_done(struct workers *w, uint32_t user_data, int32_t res)
{
	struct caio_done *d = &w->done[ring_at(w->done_head, w->done_count, w->capacity)];

	d->user_data = user_data;
	d->res = res;
	w->done_count++;
	w->state[user_data] = SLOT_DONE;
	if (w->wake_pending)
		return false;
	w->wake_pending = true;
	return true;
}

/* With no live entry left, the tombstones can go at once: O(1), and it spares a compaction. */
static void forget_tombstones_if_idle(struct workers *w)
{
	if (w->queued == 0)
		w->queue_len = 0;
}

/* Removes and returns the oldest live slot, dropping the tombstones before it; needs queued > 0. */
static uint32_t dequeue(struct workers *w)
{
	uint32_t slot;

	do {
		slot = w->queue[w->queue_head];
		w->queue_head = ring_at(w->queue_head, 1, queue_size(w));
		w->queue_len--;
	} while (slot == TOMBSTONE);
	w->queued--;
	forget_tombstones_if_idle(w);
	return slot;
}

/*
 * Drops the tombstones, keeping the live entries in order: O(ring). Only a submit
 * that would not fit calls it, and then more than `capacity` tombstones are there
 * (live + new <= capacity, since each holds a distinct slot, and the ring holds
 * 2 x capacity), each left by one cancel since the last compaction: O(1) per cancel.
 */
static void compact(struct workers *w)
{
	uint32_t kept = 0;

	/* In place: the write position never passes the read position. */
	for (uint32_t i = 0; i < w->queue_len; i++) {
		uint32_t slot = w->queue[ring_at(w->queue_head, i, queue_size(w))];
		uint32_t at;

		if (slot == TOMBSTONE)
			continue;
		at = ring_at(w->queue_head, kept++, queue_size(w));
		w->queue[at] = slot;
		w->queue_at[slot] = at;
	}
	w->queue_len = kept;
}

/* Appends ops[0..n), whose slots claim_slots() marked queued. */
static void enqueue(struct workers *w, const struct caio_op *ops, uint32_t n)
{
	if (w->queue_len + n > queue_size(w))
		compact(w);
	for (uint32_t i = 0; i < n; i++) {
		uint32_t slot = ops[i].user_data;
		uint32_t at = ring_at(w->queue_head, w->queue_len++, queue_size(w));

		w->queue[at] = slot;
		w->queue_at[slot] = at;
		w->ops[slot] = ops[i];
		w->ops[slot].opcode = op_code(&ops[i]);
	}
	w->queued += n;
}

/* Completes the op in `slot` with -ECANCELED if it is queued; true if the wake socket must be written. */
static bool cancel_queued(struct workers *w, uint32_t slot)
{
	if (w->state[slot] != SLOT_QUEUED)
		return false;
	w->queue[w->queue_at[slot]] = TOMBSTONE;
	w->queued--;
	return push_done(w, slot, -ECANCELED);
}

#endif
