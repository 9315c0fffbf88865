/*
 * The ring protocol of one io_uring instance (ring.h sets it up): writing SQEs after
 * the SQ tail and publishing them (with SQPOLL, waking the polling thread when it
 * sleeps), flushing held-back CQEs, reading and consuming the CQ, muting the eventfd.
 *
 * Without SQPOLL we own the SQ tail and the CQ head, the kernel owns the SQ head and
 * the CQ tail; it only reads the SQ during io_uring_enter, so SQEs it did not consume
 * can be taken back by moving our tail.
 *
 * Included by uring.c (TinyCC compiles each backend's file on its own).
 */
#ifndef CAIO_RING_QUEUES_H
#define CAIO_RING_QUEUES_H

#include "ring.h"

/*
 * Free SQ entries: all of them without SQPOLL (the kernel consumed or we took back
 * every earlier one); with it, fewer while the polling thread is behind.
 */
static uint32_t ring_sq_space(const struct ring *r)
{
	return r->sq.entries - (*r->sq.tail - load_acquire(r->sq.head));
}

/* The SQE `ahead` entries after the SQ tail: written there, it is published by ring_submit. */
static struct io_uring_sqe *ring_sqe(const struct ring *r, unsigned ahead)
{
	return &r->sq.sqes[(*r->sq.tail + ahead) & r->sq.mask];
}

/* Makes the CQEs the kernel holds back (task work, CQ overflow) visible in the CQ. */
static int ring_flush(const struct ring *r)
{
	int ret;

	do
		ret = ring_enter(r, 0, 0, IORING_ENTER_GETEVENTS);
	while (ret == -EINTR);
	return ret;
}

/* Whether the SQPOLL thread went to sleep and must be woken to see new SQEs. */
static bool ring_sq_needs_wakeup(const struct ring *r)
{
	/*
	 * The tail store must be visible before the flag is loaded, or the thread could
	 * miss our tail, go to sleep, and we read the flag from before it did: store-load
	 * order, which only a full fence gives (the kernel's side is the smp_mb() between
	 * setting IORING_SQ_NEED_WAKEUP and its last look at the tail, io_sq_thread).
	 */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return (__atomic_load_n(r->sq.flags, __ATOMIC_RELAXED) & IORING_SQ_NEED_WAKEUP) != 0;
}

/*
 * ring_submit with SQPOLL: publishing is submitting, so every SQE counts as consumed
 * (the thread will take them; each posts a CQE, a failed one its -errno). Enters the
 * kernel only to wake a sleeping thread. -EOWNERDEAD (5.12+: the thread is gone,
 * nothing reads the tail any more) takes back what it had not consumed.
 */
static int ring_submit_sqpoll(struct ring *r, unsigned count, uint64_t *enters)
{
	unsigned head = load_acquire(r->sq.head);
	unsigned tail = *r->sq.tail;
	int ret;

	/* The kernel must see the SQE contents before it sees the new tail. */
	store_release(r->sq.tail, tail + count);
	if (!ring_sq_needs_wakeup(r))
		return (int)count;
	do {
		ret = ring_enter(r, 0, 0, IORING_ENTER_SQ_WAKEUP);
		(*enters)++;
	} while (ret == -EINTR);
	if (ret != -EOWNERDEAD)
		return (int)count;
	unsigned consumed = load_acquire(r->sq.head) - head;
	store_release(r->sq.tail, head + consumed);
	return consumed > 0 ? (int)consumed : ret;
}

/*
 * With SQPOLL: blocks until the polling thread has taken some SQEs of a full SQ
 * (IORING_ENTER_SQ_WAIT, 5.10), waking it first if it sleeps. 0 or -errno.
 */
static int ring_sq_wait(const struct ring *r, uint64_t *enters)
{
	unsigned flags = IORING_ENTER_SQ_WAIT | (ring_sq_needs_wakeup(r) ? IORING_ENTER_SQ_WAKEUP : 0);
	int ret;

	do {
		ret = ring_enter(r, 0, 0, flags);
		(*enters)++;
	} while (ret == -EINTR);
	return ret < 0 ? ret : 0;
}

/*
 * Publishes `count` SQEs written after the current tail and enters the kernel,
 * counting each io_uring_enter in *enters. Returns how many it consumed; the rest
 * are taken back (tail rewound) so the caller can offer them again, or -errno when
 * it consumed none.
 */
static int ring_submit(struct ring *r, unsigned count, uint64_t *enters)
{
	unsigned head = load_acquire(r->sq.head);
	unsigned tail = *r->sq.tail;
	int ret;

	if (r->setup_flags & IORING_SETUP_SQPOLL)
		return ring_submit_sqpoll(r, count, enters);
	/* The kernel must see the SQE contents before it sees the new tail. */
	store_release(r->sq.tail, tail + count);
	for (;;) {
		ret = ring_enter(r, count, 0, 0);
		(*enters)++;
		if (ret != -EINTR)
			break;
	}
	if (ret == -EBUSY && ring_flush(r) >= 0) {
		/* EBUSY: overflowed CQEs must be flushed before the kernel takes more. */
		ret = ring_enter(r, count, 0, 0);
		(*enters)++;
	}
	/* The kernel's head says what it took, whatever the return value claims. */
	unsigned consumed = load_acquire(r->sq.head) - head;
	if (consumed < count)
		store_release(r->sq.tail, head + consumed);
	if (consumed == 0 && ret < 0)
		return ret == -EBUSY || ret == -ENOMEM ? -EAGAIN : ret;
	return (int)consumed;
}

/* Whether the kernel may hold back CQEs that only ring_flush makes visible. */
static int ring_needs_flush(const struct ring *r)
{
	unsigned flags = __atomic_load_n(r->sq.flags, __ATOMIC_RELAXED);

	if (flags & (IORING_SQ_CQ_OVERFLOW | IORING_SQ_TASKRUN))
		return 1;
	/* Deferred task work only runs on GETEVENTS; without TASKRUN_FLAG nothing says it is pending. */
	return (r->setup_flags & IORING_SETUP_DEFER_TASKRUN) && !(r->setup_flags & IORING_SETUP_TASKRUN_FLAG);
}

/* Our CQ head: the first CQE not consumed yet. */
static unsigned ring_cq_head(const struct ring *r)
{
	return *r->cq.head;
}

/* The kernel's CQ tail: the CQEs from ring_cq_head up to it are ready to read. */
static unsigned ring_cq_tail(const struct ring *r)
{
	/* Acquire: the CQE contents are visible once their tail is. */
	return load_acquire(r->cq.tail);
}

static const struct io_uring_cqe *ring_cqe(const struct ring *r, unsigned index)
{
	return &r->cq.cqes[index & r->cq.mask];
}

/* Hands the CQEs before `head` back to the kernel. */
static void ring_cq_consume(struct ring *r, unsigned head)
{
	/* Release: the kernel may reuse these entries only after we have read them. */
	store_release(r->cq.head, head);
}

/*
 * Mutes (IORING_CQ_EVENTFD_DISABLED, 5.8; nothing to do before) or unmutes the eventfd.
 * Inline completions are reaped by the caller right after submit, so the eventfd
 * is muted around io_uring_enter to spare a pointless wake-up. A completion posted
 * while muted is still in the CQ and is found by that same reap.
 *
 * That needs store-load ordering on both sides. Here: the unmute store must be
 * visible before the caller's reap loads the CQ tail, or (the store waiting in
 * this CPU's store buffer) another CPU could post a CQE, still see "muted" and
 * skip the eventfd while our reap reads the old tail: a hung read. Release and
 * acquire do not order a store before a later load; only a full fence does. The
 * kernel's half: a CQE posted from another thread (io-wq, or task work without
 * DEFER_TASKRUN) goes through io_cq_unlock_post / __io_cq_unlock_post, whose
 * io_cqring_wake -> wq_has_sleeper() is an smp_mb() between the tail store and
 * the cq_flags load in io_eventfd_signal (5.x: the smp_mb() in io_cqring_ev_posted);
 * with DEFER_TASKRUN only this thread posts CQEs, so program order suffices.
 */
static void ring_mute_eventfd(struct ring *r, int mute)
{
	unsigned flags;

	if (!r->cq.flags)
		return;
	flags = __atomic_load_n(r->cq.flags, __ATOMIC_RELAXED);
	flags = mute ? flags | IORING_CQ_EVENTFD_DISABLED : flags & ~IORING_CQ_EVENTFD_DISABLED;
	__atomic_store_n(r->cq.flags, flags, __ATOMIC_RELAXED);
	if (!mute)
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

#endif
