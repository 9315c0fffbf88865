/*
 * Thread-pool backend ("thread"): a fixed set of pthreads runs each op as one
 * blocking syscall (pread, pwritev, fsync, ...). It needs nothing from the kernel
 * beyond threads and a socketpair, so it works where io_uring and AIO are refused,
 * and on descriptors they handle badly (pipes, /proc files). The pool itself is
 * workers.h, which aio.c and uring.c also use for what their kernel interface
 * would run inline.
 */
#define _GNU_SOURCE
#include <stdbool.h>
#include <stdlib.h>

#include "common.h"
#include "owner.h"
#include "wake.h"
#include "workers.h"

#define MAX_THREADS 1024

struct pool_backend {
	struct workers pool;
	struct owner_link owner; /* closed by its thread's exit if JavaScript never closes it (owner.h) */
	struct wake wake; /* written directly by the workers, no relay */
	/* By slot: the native block a flagged op holds until its completion is reaped (memory.h). */
	struct caio_mem_block **held;
	uint64_t submit_calls;
};

static void free_backend(struct pool_backend *b)
{
	workers_stop(&b->pool);
	/* Every op has run or been cancelled: nothing touches the memory any more. */
	if (b->held) {
		for (uint32_t i = 0; i < b->pool.capacity; i++)
			held_release(b->held, i);
	}
	wake_close(&b->wake);
	workers_free(&b->pool);
	free(b->held);
	free(b);
}

/*
 * Starts a pool of `option` worker threads (0: default_threads(capacity), at most
 * 1024) for `capacity` operations in flight, and stores its handle in *out.
 * Returns 0 or -errno: -EINVAL for a bad capacity or thread count, -EAGAIN or
 * -ENOMEM when threads or memory run out (no thread survives a failed open).
 */
CAIO_EXPORT int caio_pool_open(uint32_t capacity, uint32_t option, void **out)
{
	struct pool_backend *b;
	int ret;

	if (capacity == 0 || capacity > 65536 || option > MAX_THREADS)
		return -EINVAL;
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	wake_init(&b->wake);
	workers_init(&b->pool, &b->wake, capacity, option ? option : default_threads(capacity), "caio-pool");
	ret = workers_alloc(&b->pool);
	if (ret < 0)
		goto err;
	b->held = calloc(capacity, sizeof(*b->held));
	if (!b->held) {
		ret = -ENOMEM;
		goto err;
	}
	ret = wake_open(&b->wake, false);
	if (ret < 0)
		goto err;
	ret = workers_start(&b->pool, b->pool.nthreads);
	if (ret < 0)
		goto err;
	ret = owner_register(&b->owner, b);
	if (ret < 0)
		goto err;
	*out = b;
	return 0;
err:
	free_backend(b);
	return ret;
}

/*
 * Hands ops[0..n) to the workers under one lock and returns n: each op completes
 * exactly once through caio_pool_reap. Returns -EINVAL, consuming nothing, if an
 * op has a bad opcode or a user_data that is out of range or still in flight.
 * A flagged op holds its native block until reaped (memory.h); one whose memory is
 * not caio's completes with -EFAULT.
 */
CAIO_EXPORT int caio_pool_submit(void *handle, const struct caio_op *ops, uint32_t n)
{
	struct pool_backend *b = handle;
	int ret;

	if (n > b->pool.capacity)
		return -EINVAL;
	if (n == 0)
		return 0;
	ret = workers_submit(&b->pool, ops, n, b->held);
	if (ret < 0)
		return ret;
	b->submit_calls++;
	return (int)n;
}

/*
 * Copies up to `max` completions into out[] without blocking and frees their
 * slots. Returns the count (0 when none are ready). With max >= capacity it takes
 * every completion there is; a caller passing less should call again while it
 * gets `max`, as the wake-up for the rest is only best effort.
 */
CAIO_EXPORT int caio_pool_reap(void *handle, struct caio_done *out, uint32_t max)
{
	struct pool_backend *b = handle;
	uint32_t n = workers_reap(&b->pool, out, max);

	held_release_done(b->held, out, n);
	return (int)n;
}

/*
 * Cancels the ops in slots[0..n) that no worker has started, under one lock, and
 * returns n (all taken). Those complete with -ECANCELED, already by the time this
 * returns, so the caller reaps right after it. A running or finished op gets its
 * own result; a free slot is ignored. Returns -EINVAL, cancelling nothing, when
 * n > capacity or a slot is out of range.
 */
CAIO_EXPORT int caio_pool_cancel(void *handle, const uint32_t *slots, uint32_t n)
{
	struct pool_backend *b = handle;

	if (caio_check_slots(b->pool.capacity, slots, n) < 0)
		return -EINVAL;
	workers_cancel(&b->pool, slots, n, NULL, 0);
	return (int)n;
}

/* The wake socket JavaScript polls; the caller owns it from this call on (see wake.h). */
CAIO_EXPORT int caio_pool_wake_fd(void *handle)
{
	return wake_hand_over(&((struct pool_backend *)handle)->wake);
}

/* Copies the counters into *out; features is the number of worker threads. */
CAIO_EXPORT int caio_pool_info(void *handle, struct caio_info *out)
{
	struct pool_backend *b = handle;

	out->submit_calls = b->submit_calls;
	out->capacity = b->pool.capacity;
	out->features = b->pool.nthreads;
	return 0;
}

/*
 * Waits for every queued and running op to finish, joins the workers, closes the
 * wake socket and frees the handle. No buffer is touched after this returns; an op
 * blocked forever (a read from a silent pipe) blocks close with it.
 */
CAIO_EXPORT int caio_pool_close(void *handle)
{
	owner_unregister(&((struct pool_backend *)handle)->owner);
	free_backend(handle);
	return 0;
}

/* An orphan (owner.h): the workers finish what is queued and running, then everything is freed. */
static int owner_close_orphan(void *handle)
{
	return caio_pool_close(handle);
}

/* Any thread may wait for this backend's completions. */
static bool owner_needs_owner_thread(void *handle)
{
	(void)handle;
	return false;
}
