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
 * Cancelling a queued op leaves a tombstone in the pending ring instead of closing
 * the gap, so a batch of cancels costs O(1) each under one lock: the slot's ring
 * position is kept in queue_at[]; workers skip tombstones; and the ring has room for
 * 2 x capacity entries, so the tombstones of slots already reaped and reused fit
 * beside the live entries until a submit that would not fit compacts the ring.
 *
 * Included by each backend's file (they are compiled one by one under TinyCC).
 */
#ifndef CAIO_WORKERS_H
#define CAIO_WORKERS_H

#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
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

/* Workers only run syscall wrappers; glibc also carves static TLS out of this. */
#define WORKER_STACK_SIZE (64 * 1024)
#define DEFAULT_MAX_THREADS 64
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

static uint32_t cpu_count(void)
{
	cpu_set_t set;
	long online;

	/* The affinity mask, not the machine: a container or taskset may allow fewer CPUs. */
	if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0)
		return (uint32_t)CPU_COUNT(&set);
	online = sysconf(_SC_NPROCESSORS_ONLN);
	return online > 0 ? (uint32_t)online : 1;
}

/*
 * min(capacity, max(4, 2 x CPUs)), at most 64. Workers spend their time blocked in
 * the kernel, so twice the CPUs keeps a device's queue fed while some threads wait;
 * 4 is the floor (libuv's pool size) for small machines. Past 64 the shared lock and
 * context switches cost more than extra parallelism buys, and more threads than
 * capacity would never have work.
 */
static uint32_t default_threads(uint32_t capacity)
{
	uint32_t n = 2 * cpu_count();

	if (n < 4)
		n = 4;
	if (n > DEFAULT_MAX_THREADS)
		n = DEFAULT_MAX_THREADS;
	return n < capacity ? n : capacity;
}

static size_t worker_stack_size(void)
{
	/* PTHREAD_STACK_MIN is a sysconf call on glibc 2.34+ and 128 KiB on 64 KiB-page arm64. */
	size_t min = (size_t)PTHREAD_STACK_MIN;

	return min > WORKER_STACK_SIZE ? min : WORKER_STACK_SIZE;
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

static void finish_op(struct workers *w, uint32_t user_data, int32_t res)
{
	bool wake;

	pthread_mutex_lock(&w->lock);
	wake = push_done(w, user_data, res);
	pthread_mutex_unlock(&w->lock);
	if (wake)
		wake_signal(w->wake);
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

/* Blocks until an op is queued; false once the pool is stopping and the queue is drained. */
static bool take_op(struct workers *w, struct caio_op *op)
{
	bool got;

	pthread_mutex_lock(&w->lock);
	while (w->queued == 0 && !w->stopping) {
		w->idle++;
		pthread_cond_wait(&w->work, &w->lock);
		w->idle--;
	}
	got = w->queued > 0;
	if (got) {
		uint32_t slot = dequeue(w);

		*op = w->ops[slot];
		w->state[slot] = SLOT_RUNNING;
	}
	pthread_mutex_unlock(&w->lock);
	return got;
}

static void *worker_main(void *arg)
{
	struct workers *w = arg;
	/* Nothing else changes a worker's priority, so its starting value is the one to restore. */
	int base = inherited_ioprio();
	struct caio_op op;

	while (take_op(w, &op))
		finish_op(w, op.user_data, run_prioritized(&op, base));
	return NULL;
}

static int create_threads(struct workers *w, uint32_t until, const pthread_attr_t *attr)
{
	sigset_t all, old;
	int ret = 0;

	/* Workers inherit this mask: every signal stays with Bun's own threads. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (; w->started < until; w->started++) {
		ret = pthread_create(&w->threads[w->started], attr, worker_main, w);
		if (ret)
			break;
		/* Named before the caller returns, for top, gdb and the tests; a failure changes nothing. */
		pthread_setname_np(w->threads[w->started], w->name);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return -ret;
}

/*
 * Starts workers until `count` run (at most nthreads), from the calling thread,
 * which must be the one that submits. Returns 0, or -errno if one could not be
 * created (those started before it keep running; workers_stop joins them).
 */
static int workers_start(struct workers *w, uint32_t count)
{
	pthread_attr_t attr;
	int ret;

	if (count > w->nthreads)
		count = w->nthreads;
	if (w->started >= count)
		return 0;
	ret = pthread_attr_init(&attr);
	if (ret)
		return -ret;
	ret = -pthread_attr_setstacksize(&attr, worker_stack_size());
	if (ret == 0)
		ret = create_threads(w, count, &attr);
	pthread_attr_destroy(&attr);
	return ret;
}

/*
 * Sets up an empty pool that will write `wake` and may run `nthreads` threads
 * named `name`; no memory and no thread yet (workers_alloc, workers_start).
 */
static void workers_init(struct workers *w, struct wake *wake, uint32_t capacity, uint32_t nthreads, const char *name)
{
	memset(w, 0, sizeof(*w));
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->work, NULL);
	w->wake = wake;
	w->name = name;
	w->capacity = capacity;
	w->nthreads = nthreads;
}

/* Allocates the rings and per-slot tables; -ENOMEM (workers_free releases a partial set). */
static int workers_alloc(struct workers *w)
{
	w->queue = calloc(queue_size(w), sizeof(*w->queue));
	w->done = calloc(w->capacity, sizeof(*w->done));
	w->ops = calloc(w->capacity, sizeof(*w->ops));
	w->queue_at = calloc(w->capacity, sizeof(*w->queue_at));
	w->state = calloc(w->capacity, sizeof(*w->state));
	w->threads = calloc(w->nthreads, sizeof(*w->threads));
	if (!w->queue || !w->done || !w->ops || !w->queue_at || !w->state || !w->threads)
		return -ENOMEM;
	return 0;
}

/*
 * Lets the workers finish every queued op and exit, then joins every one that was
 * started. No caller memory is touched after it returns.
 */
static void workers_stop(struct workers *w)
{
	pthread_mutex_lock(&w->lock);
	w->stopping = true;
	pthread_cond_broadcast(&w->work);
	pthread_mutex_unlock(&w->lock);
	/* Nobody reads the wake socket any more: a worker retrying a send must not hold up the join. */
	wake_quiesce(w->wake);
	for (uint32_t i = 0; i < w->started; i++)
		pthread_join(w->threads[i], NULL);
	w->started = 0;
}

/* Frees what workers_init and workers_alloc made; after workers_stop. */
static void workers_free(struct workers *w)
{
	pthread_cond_destroy(&w->work);
	pthread_mutex_destroy(&w->lock);
	free(w->queue);
	free(w->done);
	free(w->ops);
	free(w->queue_at);
	free(w->state);
	free(w->threads);
}

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

/* Completes the op in `slot` with -ECANCELED if it is queued; true if the wake socket must be written. */
static bool cancel_queued(struct workers *w, uint32_t slot)
{
	if (w->state[slot] != SLOT_QUEUED)
		return false;
	w->queue[w->queue_at[slot]] = TOMBSTONE;
	w->queued--;
	return push_done(w, slot, -ECANCELED);
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
