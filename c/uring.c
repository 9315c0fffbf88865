/*
 * io_uring backend ("uring") through raw syscalls, no liburing. One ring per
 * context, used only from the JavaScript thread that created it. An eventfd
 * registered with IORING_REGISTER_EVENTFD (not the _ASYNC variant, which only
 * fires for completions from io-wq and so misses some) is relayed to the wake
 * socket (wake.h) when completions arrive after the submitting call returned.
 *
 * The ring itself (setup, mappings, io_uring_enter, memory ordering) is ring.h's,
 * the SQE of each op uring_sqe.h's, the steps of a submit uring_submit.h's; this
 * file routes, submits, reaps and cancels.
 *
 * Ops on a file served over a network or by a FUSE daemon (fsclass.h) go to a
 * small thread pool (workers.h) instead of the ring: io_uring_enter would run them
 * inline for the whole round trip, and io_uring returns wrong bytes for a short
 * FUSE read. If no worker can be started they take the ring after all. The pool's
 * completions come out of the same reap and its workers write the same wake socket.
 *
 * File operations (openat, statx, ...: fileops.h) take the ring where the kernel has
 * the opcode (IORING_REGISTER_PROBE, once at open), the pool where it does not:
 * never an error for an older kernel. See route_of for which run inline.
 *
 * The CQ never overflows, by construction: every op and every cancellation the
 * kernel took owes one CQE until drain_cq consumes it, and submit and cancel take
 * no more than keeps that debt within the CQ's size (cq_room). An overflow would
 * otherwise need a flush that 5.6/5.7 kernels give no sign of needing (no
 * IORING_SQ_CQ_OVERFLOW before 5.8), and a ring of more than 32768 ops gets a CQ
 * smaller than two CQEs per op (IORING_MAX_CQ_ENTRIES is 65536).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"
#include "fsclass.h"
#include "owner.h"
#include "ring.h"
#include "ring_queues.h"
#include "uring_chain.h"
#include "uring_sqe.h"
#include "wake.h"
#include "workers.h"

/*
 * caio_uring_open's option bit (no IORING_SETUP_* flag comes near it): run every file
 * operation on the pool, as a kernel without those opcodes would. For the tests, and
 * for anyone who distrusts a kernel's io_uring file operations.
 */
#define CAIO_URING_NO_FILE_OPS (1U << 31)
/*
 * caio_uring_open's option bit: ask for IORING_SETUP_SQPOLL, a kernel thread that
 * takes the SQEs as they are published, so submitting costs no io_uring_enter while
 * it is awake. A kernel that refuses it (EPERM without CAP_SYS_ADMIN before 5.11,
 * EINVAL, no IORING_FEAT_SQPOLL_NONFIXED) gets an ordinary ring instead.
 */
#define CAIO_URING_SQPOLL (1U << 30)
/* With CAIO_URING_SQPOLL: act as if the kernel had refused SQPOLL (EPERM), for the tests. */
#define CAIO_URING_REFUSE_SQPOLL (1U << 29)

/* A batch larger than this is submitted in several io_uring_enter calls. */
#define MAX_SQ_ENTRIES 4096U

/* Where a slot's op went, by slot; only read for cancels. */
enum via {
	VIA_RING = 0,
	VIA_POOL,
	VIA_EARLY, /* refused at submit (refusal_of): completes with early_res[slot], never runs */
	VIA_SYNC,  /* a file op neither ring nor pool can run: run by the submitting call itself */
};

struct uring_backend {
	struct ring ring;
	struct owner_link owner; /* closed by its thread's exit if JavaScript never closes it (owner.h) */
	struct wake wake;
	struct workers pool; /* started by the first op on a remote file system */
	uint8_t *via;        /* enum via, by slot */
	int32_t *early_res;  /* by slot: the result of a VIA_EARLY op */
	uint8_t *owned;      /* by slot: 1 when the op's fd belongs to a File (CAIO_OP_F_OWNED) */
	uint32_t ring_ops;   /* bit (1 << caio opcode) set for each opcode the ring runs */
	/* By slot: the native block a flagged op holds until its completion is seen (memory.h). */
	struct caio_mem_block **held;
	struct caio_op *staged;   /* the batch being submitted, CAIO_OP_F_NATIVE cleared */
	struct caio_done *refused; /* completions made at submit (VIA_EARLY, VIA_SYNC), handed out by the next reap */
	uint32_t refused_count;
	struct mount_cache mounts;
	struct fd_memo memo;  /* descriptors seen by this submitting call */
	struct fd_memo files; /* descriptors of Files (CAIO_OP_F_OWNED), kept until caio closes them */
	struct chains chains; /* READFILE as linked chains (uring_chain.h) */
	uint32_t capacity;
	uint32_t in_flight; /* CQEs owed for submitted ops (a chain owes one per step; cancels excluded) */
	uint32_t cancels_in_flight; /* cancellations the kernel took whose CQE was not drained yet */
	uint64_t submit_calls;
};

#include "uring_route.h"

#include "uring_setup.h"
#include "uring_budget.h"
#include "uring_submit.h"

/*
 * Creates a ring for `capacity` operations in flight and stores its handle in
 * *out. `option` is a mask of IORING_SETUP_* flags not to try (0 = try all), plus
 * CAIO_URING_NO_FILE_OPS (bit 31) to send every file operation to the pool and
 * CAIO_URING_SQPOLL (bit 30) to ask for a polling thread, which falls back to an
 * ordinary ring if refused (caio_uring_info's features say which one it got).
 * Returns 0 or -errno: -EPERM when io_uring is disabled (kernel.io_uring_disabled,
 * seccomp), -ENOSYS when the kernel lacks it or an opcode caio needs, -ENOMEM when
 * RLIMIT_MEMLOCK is too small for the rings (kernels before 5.12).
 */
CAIO_EXPORT int caio_uring_open(uint32_t capacity, uint32_t option, void **out)
{
	struct uring_backend *b;
	int ret;

	if (capacity == 0 || capacity > 65536)
		return -EINVAL;
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->capacity = capacity;
	wake_init(&b->wake);
	chains_init(&b->chains);
	workers_init(&b->pool, &b->wake, capacity, default_threads(capacity), "caio-uring-pool");
	ring_init(&b->ring);
	ret = alloc_slots(b, capacity);
	if (ret < 0)
		goto err;
	ret = open_ring(b, option);
	if (ret < 0)
		goto err;
	ret = open_wake(b);
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
 * Submits ops[0..n), one io_uring_enter per SQ-ful (one in total unless n exceeds
 * the SQ size), and hands the ops on remote file systems to the pool. Returns how
 * many ops were consumed from the front: each completes exactly once through
 * caio_uring_reap (an op the kernel rejects completes with its -errno). The rest
 * stay with the caller. Returns -EAGAIN when none was taken for lack of resources
 * (in the kernel, or room in the CQ while cancellations are in flight: see cq_room;
 * ops already in flight then complete and make room), or another -errno when the
 * kernel refused outright. Looks at each distinct descriptor once (fsclass.h).
 */
CAIO_EXPORT int caio_uring_submit(void *handle, const struct caio_op *ops, uint32_t n)
{
	struct uring_backend *b = handle;
	uint32_t done = 0;
	bool more = true;

	if (n > b->capacity || validate_ops(b, ops, n) < 0)
		return -EINVAL;
	hold_batch(b, ops, n);
	wake_follow(&b->wake);
	fd_memo_reset(&b->memo);
	chains_new_batch(&b->chains);
	ring_mute_eventfd(&b->ring, 1);
	while (done < n && more) {
		uint32_t room = min2(sq_room(b), cq_room(b, n - done));
		int ret = submit_chunk(b, b->staged + done, n - done, room, &more);

		if (ret < 0) {
			if (done == 0) {
				ring_mute_eventfd(&b->ring, 0);
				release_unconsumed(b, ops, 0, n);
				return ret;
			}
			break;
		}
		done += (uint32_t)ret;
	}
	ring_mute_eventfd(&b->ring, 0);
	release_unconsumed(b, ops, done, n);
	return (int)done;
}

/*
 * Copies completions into out[] from the CQ (cancellations' results are dropped, a
 * chain's steps gathered into one completion); returns the count.
 */
static uint32_t drain_cq(struct uring_backend *b, struct caio_done *out, uint32_t max)
{
	unsigned head = ring_cq_head(&b->ring);
	unsigned tail = ring_cq_tail(&b->ring);
	uint32_t n = 0;

	for (; head != tail && n < max; head++) {
		const struct io_uring_cqe *cqe = ring_cqe(&b->ring, head);
		uint32_t slot = chain_slot(cqe->user_data);

		if (cqe->user_data & CANCEL_TAG) {
			b->cancels_in_flight--;
			continue;
		}
		b->in_flight--;
		out[n].user_data = slot;
		out[n].res = cqe->res;
		if (!chain_is(&b->chains, slot) || chain_cqe(&b->chains, cqe->user_data, cqe->res, &out[n].res))
			n++;
	}
	ring_cq_consume(&b->ring, head);
	return n;
}

/*
 * Copies up to `max` completions into out[] without blocking. Returns the count
 * (0 when none are ready) or -errno.
 */
CAIO_EXPORT int caio_uring_reap(void *handle, struct caio_done *out, uint32_t max)
{
	struct uring_backend *b = handle;
	uint32_t n = early_take(b->refused, &b->refused_count, out, max);

	n += drain_cq(b, out + n, max - n);
	if (n < max && ring_needs_flush(&b->ring)) {
		int ret = ring_flush(&b->ring);
		if (ret < 0 && n == 0)
			return ret;
		n += drain_cq(b, out + n, max - n);
	}
	if (n < max && b->pool.started > 0)
		n += workers_reap(&b->pool, out + n, max - n);
	/* The kernel or the worker is done with these ops' memory. */
	held_release_done(b->held, out, n);
	return (int)n;
}

/*
 * Asks the kernel to cancel the ops in slots[0..n) with one IORING_OP_ASYNC_CANCEL
 * each, one io_uring_enter per SQ-ful; a queued op of the pool's completes with
 * -ECANCELED at once. Returns how many were taken from the front: fewer when the
 * CQ has no room for more CQEs yet (see cq_room), so the caller offers the rest
 * again after its next reap, when its ops may have completed anyway. Returns
 * -errno when the kernel took none, -EINVAL (nothing taken) when n > capacity or
 * a slot is out of range. Each op's own completion (-ECANCELED, or its result if
 * it was past cancelling) comes through reap; the cancellations' own results
 * (-ENOENT for a slot with nothing in flight, -EALREADY) are dropped.
 */
CAIO_EXPORT int caio_uring_cancel(void *handle, const uint32_t *slots, uint32_t n)
{
	struct uring_backend *b = handle;
	uint32_t taken = 0;
	bool more = true;

	if (caio_check_slots(b->capacity, slots, n) < 0)
		return -EINVAL;
	while (taken < n && more) {
		uint32_t room = min2(sq_room(b), cq_room(b, n - taken));
		int ret = cancel_chunk(b, slots + taken, n - taken, room, &more);

		if (ret < 0)
			return taken > 0 ? (int)taken : ret;
		if (ret == 0)
			break;
		taken += (uint32_t)ret;
	}
	return (int)taken;
}

/* The wake socket JavaScript polls; the caller owns it from this call on (see wake.h). */
CAIO_EXPORT int caio_uring_wake_fd(void *handle)
{
	return wake_hand_over(&((struct uring_backend *)handle)->wake);
}

/*
 * Copies the backend's counters into *out; features holds the IORING_SETUP_* flags
 * accepted (IORING_SETUP_SQPOLL among them when the polling thread was granted).
 */
CAIO_EXPORT int caio_uring_info(void *handle, struct caio_info *out)
{
	struct uring_backend *b = handle;

	out->submit_calls = b->submit_calls;
	out->capacity = b->capacity;
	out->features = b->ring.setup_flags;
	return 0;
}

/*
 * Waits for every op still in flight (closing a ring does not wait for them, and
 * they may still write into caller memory) and for the pool's, then unmaps and
 * closes everything.
 */
CAIO_EXPORT int caio_uring_close(void *handle)
{
	struct uring_backend *b = handle;
	struct caio_done sink[64];

	owner_unregister(&b->owner);
	while (b->in_flight > 0) {
		uint32_t got = drain_cq(b, sink, 64);

		if (got > 0) {
			held_release_done(b->held, sink, got);
			continue;
		}
		int ret = ring_enter(&b->ring, 0, 1, IORING_ENTER_GETEVENTS);
		if (ret < 0 && ret != -EINTR)
			break;
	}
	/* The pool's ops have all run (or been cancelled) once it stops. */
	workers_stop(&b->pool);
	for (uint32_t i = 0; i < b->capacity; i++) {
		/* A ring op whose CQE never came may still be written by the kernel: its block stays. */
		if (b->in_flight == 0 || b->via[i] != VIA_RING)
			held_release(b->held, i);
	}
	free_backend(b);
	return 0;
}

/* An orphan (owner.h): close waits for the ring's completions, then frees everything. */
static int owner_close_orphan(void *handle)
{
	return caio_uring_close(handle);
}

/* With DEFER_TASKRUN only the submitting thread may wait for completions (others get -EEXIST). */
static bool owner_needs_owner_thread(void *handle)
{
	return (((struct uring_backend *)handle)->ring.setup_flags & IORING_SETUP_DEFER_TASKRUN) != 0;
}
