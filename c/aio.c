/*
 * Linux kernel AIO backend ("linux"): io_setup/io_submit/io_getevents through raw
 * syscalls, no libaio. Every iocb carries IOCB_FLAG_RESFD so each completion bumps
 * one eventfd, relayed to the wake socket (wake.h) for completions that arrive
 * later than the submitting call.
 *
 * Kernel AIO is asynchronous only for O_DIRECT reads and overwrites: io_submit does
 * any other op itself before it returns (buffered I/O, an O_DIRECT write that
 * extends the file or covers part of a block, anything on a file served over the
 * network or by a FUSE daemon; pipes and sockets it would block on forever). Those
 * go to a thread pool (workers.h) instead, started with the first such op; its
 * completions come out of the same reap and its workers write the same wake socket.
 * So do the file operations (openat, statx, ...: fileops.h), which kernel AIO has no
 * command for. See route_of.
 */
#define _GNU_SOURCE
#include <linux/aio_abi.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "fsclass.h"
#include "owner.h"
#include "wake.h"
#include "workers.h"

/* Where a slot's op went, by slot. */
enum via {
	VIA_AIO = 0,
	VIA_POOL,
	VIA_EARLY, /* completed by the submitting call itself, with early_res[slot] */
	VIA_SYNC,  /* a file op with no pool to run it: run by the submitting call itself */
};

struct aio_backend {
	aio_context_t ctx;
	struct owner_link owner; /* closed by its thread's exit if JavaScript never closes it (owner.h) */
	struct wake wake;
	struct workers pool; /* started by the first op kernel AIO would run inline */
	struct mount_cache mounts;
	struct fd_memo memo;  /* descriptors seen by this submitting call */
	struct fd_memo files; /* descriptors of Files (CAIO_OP_F_OWNED), kept until caio closes them */
	uint32_t capacity;
	uint32_t refused_count;
	uint64_t submit_calls;
	/* Indexed by user_data: io_cancel identifies a request by the iocb address it was submitted with. */
	struct iocb *iocbs;
	uint8_t *via;        /* enum via */
	int32_t *early_res;  /* the result of a VIA_EARLY op */
	uint8_t *owned;      /* 1 when the op's fd belongs to a File (CAIO_OP_F_OWNED) */
	/* By slot: the native block a flagged op holds until its completion is seen (memory.h). */
	struct caio_mem_block **held;
	struct caio_op *staged; /* the batch being submitted, CAIO_OP_F_NATIVE cleared */
	struct iocb **batch;
	struct io_event *events;
	/* Operations completed at submit time; reported by the next reap so every op completes once. */
	struct caio_done *refused;
};

static long sys_io_setup(unsigned nr, aio_context_t *ctx)
{
	return syscall(SYS_io_setup, nr, ctx);
}

static long sys_io_destroy(aio_context_t ctx)
{
	return syscall(SYS_io_destroy, ctx);
}

static long sys_io_submit(aio_context_t ctx, long nr, struct iocb **iocbs)
{
	return syscall(SYS_io_submit, ctx, nr, iocbs);
}

static long sys_io_getevents(aio_context_t ctx, long min_nr, long nr, struct io_event *events)
{
	struct timespec no_wait = { 0, 0 };
	return syscall(SYS_io_getevents, ctx, min_nr, nr, events, &no_wait);
}

static long sys_io_cancel(aio_context_t ctx, struct iocb *iocb, struct io_event *result)
{
	return syscall(SYS_io_cancel, ctx, iocb, result);
}

static void free_backend(struct aio_backend *b)
{
	/* The workers finish what they hold before the socket they write goes. */
	workers_stop(&b->pool);
	wake_close(&b->wake);
	workers_free(&b->pool);
	free(b->iocbs);
	free(b->via);
	free(b->early_res);
	free(b->owned);
	free(b->held);
	free(b->staged);
	free(b->batch);
	free(b->events);
	free(b->refused);
	free(b);
}

static int alloc_tables(struct aio_backend *b, uint32_t capacity)
{
	b->iocbs = calloc(capacity, sizeof(*b->iocbs));
	b->via = calloc(capacity, sizeof(*b->via));
	b->early_res = calloc(capacity, sizeof(*b->early_res));
	b->owned = calloc(capacity, 1);
	b->held = calloc(capacity, sizeof(*b->held));
	b->staged = calloc(capacity, sizeof(*b->staged));
	b->batch = calloc(capacity, sizeof(*b->batch));
	b->events = calloc(capacity, sizeof(*b->events));
	b->refused = calloc(capacity, sizeof(*b->refused));
	if (!b->iocbs || !b->via || !b->early_res || !b->owned || !b->held || !b->staged || !b->batch || !b->events ||
	    !b->refused)
		return -ENOMEM;
	return 0;
}

/*
 * Creates a context for `capacity` operations in flight and stores its handle in
 * *out. Returns 0 or -errno: -EAGAIN when fs.aio-max-nr is exhausted, -ENOSYS or
 * -EPERM when the kernel or a seccomp sandbox refuses AIO. `option` is the most
 * pool threads to start (0: default_threads(capacity)); none run before the first
 * op that needs one.
 */
CAIO_EXPORT int caio_aio_open(uint32_t capacity, uint32_t option, void **out)
{
	struct aio_backend *b;
	int ret;

	if (capacity == 0 || capacity > 65536 || option > 1024)
		return -EINVAL;
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->capacity = capacity;
	wake_init(&b->wake);
	workers_init(&b->pool, &b->wake, capacity, option ? option : default_threads(capacity), "caio-aio-pool");
	ret = alloc_tables(b, capacity);
	if (ret < 0)
		goto err;
	if (sys_io_setup(capacity, &b->ctx) < 0) {
		ret = -errno;
		goto err;
	}
	ret = wake_open(&b->wake, true);
	if (ret < 0)
		goto err_destroy;
	ret = owner_register(&b->owner, b);
	if (ret < 0)
		goto err_destroy;
	*out = b;
	return 0;
err_destroy:
	sys_io_destroy(b->ctx);
err:
	free_backend(b);
	return ret;
}

#include "aio_route.h"
#include "aio_submit.h"

/*
 * Submits ops[0..n): those kernel AIO only queues with as few io_submit calls as
 * the kernel allows, the rest to the pool (see route_of). Returns how many ops were
 * consumed from the front of the array: each of them completes exactly once
 * through caio_aio_reap (an op refused at submit time, such as EBADF, completes
 * with that error). The rest stay with the caller, to be offered again after
 * completions free kernel resources. Returns -EAGAIN only when nothing at all could
 * be submitted for lack of resources.
 */
CAIO_EXPORT int caio_aio_submit(void *handle, const struct caio_op *ops, uint32_t n)
{
	struct aio_backend *b = handle;
	uint32_t pending, queued, consumed = n;

	if (n > b->capacity || validate_ops(b, ops, n) < 0)
		return -EINVAL;
	hold_batch(b, ops, n);
	wake_follow(&b->wake);
	fd_memo_reset(&b->memo);
	pending = prepare(b, b->staged, n);
	queued = submit_batch(b, pending);
	/* What follows the first iocb the kernel did not take stays with the caller, pool ops included. */
	if (queued < pending)
		consumed = aio_op_index(b, b->staged, queued);
	dispatch_rest(b, b->staged, consumed);
	/* The ops left with the caller hold nothing. */
	for (uint32_t i = consumed; i < n; i++)
		held_release(b->held, ops[i].user_data);
	if (consumed == 0 && n > 0)
		return -EAGAIN;
	return (int)consumed;
}

/*
 * Copies up to `max` completions into out[] without blocking. Returns the count
 * (0 when none are ready) or -errno.
 */
CAIO_EXPORT int caio_aio_reap(void *handle, struct caio_done *out, uint32_t max)
{
	struct aio_backend *b = handle;
	uint32_t n = early_take(b->refused, &b->refused_count, out, max);
	long got;

	if (n < max && b->pool.started > 0)
		n += workers_reap(&b->pool, out + n, max - n);
	if (n < max) {
		if (max - n > b->capacity)
			max = n + b->capacity;
		got = sys_io_getevents(b->ctx, 0, max - n, b->events);
		if (got < 0) {
			if (n == 0)
				return -errno;
			got = 0;
		}
		for (long i = 0; i < got; i++) {
			out[n].user_data = (uint32_t)b->events[i].data;
			/* Results are bounded by the 0x7ffff000-byte request limit, so they fit. */
			out[n].res = (int32_t)b->events[i].res;
			n++;
		}
	}
	/* The kernel or the worker is done with these ops' memory. */
	held_release_done(b->held, out, n);
	return (int)n;
}

/*
 * Cancels the ops in slots[0..n) and returns n (all taken), or -EINVAL (nothing
 * asked) when n > capacity or a slot is out of range. A queued op of the pool's
 * completes with -ECANCELED at once (a running one keeps its own result); the
 * kernel's get one io_cancel each. Each op still completes once, through reap,
 * with -ECANCELED or its own result: since Linux 3.12 ("aio: io_cancel() no longer
 * returns the io_event") a cancelled request answers -EINPROGRESS and its event
 * goes to the ring, never to io_cancel's result argument. Regular-file I/O is
 * never cancellable, so -EINVAL is the usual answer; the lookup walks only
 * ctx->active_reqs, which holds just the requests that can be cancelled (none for
 * files): O(1) per call here.
 */
CAIO_EXPORT int caio_aio_cancel(void *handle, const uint32_t *slots, uint32_t n)
{
	struct aio_backend *b = handle;
	struct io_event ignored;

	if (caio_check_slots(b->capacity, slots, n) < 0)
		return -EINVAL;
	if (b->pool.started > 0)
		workers_cancel(&b->pool, slots, n, b->via, VIA_POOL);
	for (uint32_t i = 0; i < n; i++) {
		if (b->via[slots[i]] == VIA_AIO)
			sys_io_cancel(b->ctx, &b->iocbs[slots[i]], &ignored);
	}
	return (int)n;
}

/* The wake socket JavaScript polls; the caller owns it from this call on (see wake.h). */
CAIO_EXPORT int caio_aio_wake_fd(void *handle)
{
	return wake_hand_over(&((struct aio_backend *)handle)->wake);
}

/* Copies the backend's counters into *out; submit_calls counts io_submit calls and hand-offs to the pool. */
CAIO_EXPORT int caio_aio_info(void *handle, struct caio_info *out)
{
	struct aio_backend *b = handle;

	out->submit_calls = b->submit_calls;
	out->capacity = b->capacity;
	out->features = 0;
	return 0;
}

/*
 * Destroys the context, after the pool has finished every op it holds; io_destroy
 * waits for every request still in the kernel, so no buffer is written after this
 * returns. The handle is freed.
 */
CAIO_EXPORT int caio_aio_close(void *handle)
{
	struct aio_backend *b = handle;
	int ret = 0;

	owner_unregister(&b->owner);
	workers_stop(&b->pool);
	if (sys_io_destroy(b->ctx) < 0)
		ret = -errno;
	for (uint32_t i = 0; i < b->capacity; i++) {
		/* Unless io_destroy waited for it, a request still in the kernel may write its block: that stays. */
		if (ret == 0 || b->via[i] != VIA_AIO)
			held_release(b->held, i);
	}
	free_backend(b);
	return ret;
}

/* An orphan (owner.h): io_destroy waits for its requests, then everything is freed. */
static int owner_close_orphan(void *handle)
{
	return caio_aio_close(handle);
}

/* Any thread may wait for this backend's completions. */
static bool owner_needs_owner_thread(void *handle)
{
	(void)handle;
	return false;
}
