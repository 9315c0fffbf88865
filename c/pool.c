/*
 * Thread-pool backend ("thread"): a fixed set of pthreads runs each op as one
 * blocking syscall (pread, pwritev, fsync, ...). It needs nothing from the kernel
 * beyond threads and a socketpair, so it works where io_uring and AIO are refused,
 * and on descriptors they handle badly (pipes, /proc files).
 *
 * One mutex guards everything shared: the pending ring workers take ops from, the
 * completion ring reap drains, and a per-slot state that makes cancel exact.
 *
 * Cancelling a queued op leaves a tombstone in the pending ring instead of closing
 * the gap, so a batch of cancels costs O(1) each under one lock: the slot's ring
 * position is kept in queue_at[]; workers skip tombstones; and the ring has room for
 * 2 x capacity entries, so the tombstones of slots already reaped and reused fit
 * beside the live entries until a submit that would not fit compacts the ring.
 */
#define _GNU_SOURCE
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common.h"
#include "wake.h"

#ifndef IOPRIO_WHO_PROCESS
#define IOPRIO_WHO_PROCESS 1
#endif
#ifndef IOPRIO_CLASS_SHIFT
#define IOPRIO_CLASS_SHIFT 13
#endif

/* Workers only run syscall wrappers; glibc also carves static TLS out of this. */
#define WORKER_STACK_SIZE (64 * 1024)
#define MAX_THREADS 1024
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

struct pool_backend {
	pthread_mutex_t lock;
	pthread_cond_t work;    /* ops were queued, or the pool is stopping */
	struct wake wake;       /* written directly by the workers, no relay */
	uint32_t capacity;
	uint32_t nthreads;
	uint32_t started;       /* threads created so far; stop_workers joins these */
	uint32_t idle;          /* workers waiting on `work` */
	bool stopping;
	/* The wake socket was written for the completions queued since the last draining reap. */
	bool wake_pending;
	uint64_t submit_calls;
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

static long sys_ioprio_get(void)
{
	/* who = 0: the calling thread; ioprio belongs to the task, not the process. */
	return syscall(SYS_ioprio_get, IOPRIO_WHO_PROCESS, 0);
}

static long sys_ioprio_set(int prio)
{
	return syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, prio);
}

/* Position `i` after `head` in a ring of `size` entries; i <= size. */
static uint32_t ring_at(uint32_t head, uint32_t i, uint32_t size)
{
	uint32_t at = head + i;

	return at >= size ? at - size : at;
}

static uint32_t queue_size(const struct pool_backend *b)
{
	return 2 * b->capacity;
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
 * caller reaps right after it (see caio_pool_cancel), and a reap that leaves
 * completions behind, which a caller passing max >= capacity never does. Only a
 * failed attempt there leaves wake_pending set with no byte sent, and then the
 * caller's own reap empties the ring and clears it.
 */
static bool push_done(struct pool_backend *b, uint32_t user_data, int32_t res)
{
	struct caio_done *d = &b->done[ring_at(b->done_head, b->done_count, b->capacity)];

	d->user_data = user_data;
	d->res = res;
	b->done_count++;
	b->state[user_data] = SLOT_DONE;
	if (b->wake_pending)
		return false;
	b->wake_pending = true;
	return true;
}

static void finish_op(struct pool_backend *b, uint32_t user_data, int32_t res)
{
	bool wake;

	pthread_mutex_lock(&b->lock);
	wake = push_done(b, user_data, res);
	pthread_mutex_unlock(&b->lock);
	if (wake)
		wake_signal(&b->wake);
}

/* With no live entry left, the tombstones can go at once: O(1), and it spares a compaction. */
static void forget_tombstones_if_idle(struct pool_backend *b)
{
	if (b->queued == 0)
		b->queue_len = 0;
}

/* Removes and returns the oldest live slot, dropping the tombstones before it; needs queued > 0. */
static uint32_t dequeue(struct pool_backend *b)
{
	uint32_t slot;

	do {
		slot = b->queue[b->queue_head];
		b->queue_head = ring_at(b->queue_head, 1, queue_size(b));
		b->queue_len--;
	} while (slot == TOMBSTONE);
	b->queued--;
	forget_tombstones_if_idle(b);
	return slot;
}

/* Blocks until an op is queued; false once the pool is stopping and the queue is drained. */
static bool take_op(struct pool_backend *b, struct caio_op *op)
{
	bool got;

	pthread_mutex_lock(&b->lock);
	while (b->queued == 0 && !b->stopping) {
		b->idle++;
		pthread_cond_wait(&b->work, &b->lock);
		b->idle--;
	}
	got = b->queued > 0;
	if (got) {
		uint32_t slot = dequeue(b);

		*op = b->ops[slot];
		b->state[slot] = SLOT_RUNNING;
	}
	pthread_mutex_unlock(&b->lock);
	return got;
}

static ssize_t do_rw(const struct caio_op *op, bool positioned)
{
	void *buf = (void *)(uintptr_t)op->buf;
	const struct iovec *iov = buf;
	off_t off = (off_t)op->offset;
	int iovcnt = (int)op->len;

	switch (op->opcode) {
	case CAIO_OP_READ:
		return positioned ? pread(op->fd, buf, op->len, off) : read(op->fd, buf, op->len);
	case CAIO_OP_WRITE:
		return positioned ? pwrite(op->fd, buf, op->len, off) : write(op->fd, buf, op->len);
	case CAIO_OP_READV:
		return positioned ? preadv(op->fd, iov, iovcnt, off) : readv(op->fd, iov, iovcnt);
	case CAIO_OP_WRITEV:
		return positioned ? pwritev(op->fd, iov, iovcnt, off) : writev(op->fd, iov, iovcnt);
	case CAIO_OP_FSYNC:
		return fsync(op->fd);
	case CAIO_OP_FDSYNC:
		return fdatasync(op->fd);
	}
	errno = EINVAL;
	return -1;
}

static ssize_t do_rw_retry(const struct caio_op *op, bool positioned)
{
	ssize_t ret;

	do
		ret = do_rw(op, positioned);
	while (ret < 0 && errno == EINTR);
	return ret;
}

/* Runs the op's one syscall; bytes moved, 0, or -errno. */
static int32_t run_op(const struct caio_op *op)
{
	ssize_t ret = do_rw_retry(op, true);

	/* Pipes, sockets and some /proc files refuse positioned I/O: use the stream position, as Node does for -1. */
	if (ret < 0 && errno == ESPIPE && op->opcode != CAIO_OP_FSYNC && op->opcode != CAIO_OP_FDSYNC)
		ret = do_rw_retry(op, false);
	/* The kernel caps one transfer at 0x7ffff000 bytes, so the count fits. */
	return ret < 0 ? -errno : (int32_t)ret;
}

/*
 * Runs the op under its own I/O priority, then returns the thread to `base`. A
 * priority the kernel refuses fails the op with EINVAL/EPERM, as the kernel
 * backends do; any other failure (ENOSYS in a sandbox) runs the op unprioritised,
 * since the priority is only advice and this backend is the sandbox fallback.
 */
static int32_t run_prioritized(const struct caio_op *op, int base)
{
	int32_t res;

	if (op->ioprio == 0)
		return run_op(op);
	if (sys_ioprio_set(op->ioprio) < 0) {
		if (errno == EINVAL || errno == EPERM)
			return -errno;
		return run_op(op);
	}
	res = run_op(op);
	/* 0 (no class: follow the CPU nice level) is always accepted, should `base` not be. */
	if (sys_ioprio_set(base) < 0)
		sys_ioprio_set(0);
	return res;
}

/* The priority a worker returns to after a prioritised op: what it inherited. */
static int inherited_ioprio(void)
{
	long prio = sys_ioprio_get();

	/*
	 * Older kernels report "no class, level 4" for a thread that never set one,
	 * which ioprio_set rejects; class NONE means 0 whatever the level.
	 */
	if (prio < 0 || (prio >> IOPRIO_CLASS_SHIFT) == 0)
		return 0;
	return (int)prio;
}

static void *worker_main(void *arg)
{
	struct pool_backend *b = arg;
	/* Nothing else changes a worker's priority, so its starting value is the one to restore. */
	int base = inherited_ioprio();
	struct caio_op op;

	while (take_op(b, &op))
		finish_op(b, op.user_data, run_prioritized(&op, base));
	return NULL;
}

static int create_threads(struct pool_backend *b, const pthread_attr_t *attr)
{
	sigset_t all, old;
	int ret = 0;

	/* Workers inherit this mask: every signal stays with Bun's own threads. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (; b->started < b->nthreads; b->started++) {
		ret = pthread_create(&b->threads[b->started], attr, worker_main, b);
		if (ret)
			break;
		/* Named before open returns, for top, gdb and the tests; a failure changes nothing. */
		pthread_setname_np(b->threads[b->started], "caio-pool");
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return -ret;
}

static int start_workers(struct pool_backend *b)
{
	pthread_attr_t attr;
	int ret;

	ret = pthread_attr_init(&attr);
	if (ret)
		return -ret;
	ret = -pthread_attr_setstacksize(&attr, worker_stack_size());
	if (ret == 0)
		ret = create_threads(b, &attr);
	pthread_attr_destroy(&attr);
	return ret;
}

/* Lets the workers drain the queue and exit, then joins every one that was started. */
static void stop_workers(struct pool_backend *b)
{
	pthread_mutex_lock(&b->lock);
	b->stopping = true;
	pthread_cond_broadcast(&b->work);
	pthread_mutex_unlock(&b->lock);
	/* Nobody reads the wake socket any more: a worker retrying a send must not hold up the join. */
	wake_quiesce(&b->wake);
	for (uint32_t i = 0; i < b->started; i++)
		pthread_join(b->threads[i], NULL);
	b->started = 0;
}

static void free_backend(struct pool_backend *b)
{
	wake_close(&b->wake);
	pthread_cond_destroy(&b->work);
	pthread_mutex_destroy(&b->lock);
	free(b->queue);
	free(b->done);
	free(b->ops);
	free(b->queue_at);
	free(b->state);
	free(b->threads);
	free(b);
}

static int alloc_tables(struct pool_backend *b)
{
	b->queue = calloc(queue_size(b), sizeof(*b->queue));
	b->done = calloc(b->capacity, sizeof(*b->done));
	b->ops = calloc(b->capacity, sizeof(*b->ops));
	b->queue_at = calloc(b->capacity, sizeof(*b->queue_at));
	b->state = calloc(b->capacity, sizeof(*b->state));
	b->threads = calloc(b->nthreads, sizeof(*b->threads));
	if (!b->queue || !b->done || !b->ops || !b->queue_at || !b->state || !b->threads)
		return -ENOMEM;
	return 0;
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
	b->lock = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER;
	b->work = (pthread_cond_t)PTHREAD_COND_INITIALIZER;
	wake_init(&b->wake);
	b->capacity = capacity;
	b->nthreads = option ? option : default_threads(capacity);
	ret = alloc_tables(b);
	if (ret < 0)
		goto err;
	ret = wake_open(&b->wake, false);
	if (ret < 0)
		goto err;
	ret = start_workers(b);
	if (ret < 0)
		goto err;
	*out = b;
	return 0;
err:
	stop_workers(b);
	free_backend(b);
	return ret;
}

static bool op_valid(const struct pool_backend *b, const struct caio_op *op)
{
	return op->user_data < b->capacity && op->opcode <= CAIO_OP_MAX &&
	       b->state[op->user_data] == SLOT_FREE;
}

/* Marks every op's slot queued, or none of them: a bad or busy slot rejects the batch. */
static int claim_slots(struct pool_backend *b, const struct caio_op *ops, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		if (!op_valid(b, &ops[i])) {
			while (i--)
				b->state[ops[i].user_data] = SLOT_FREE;
			return -EINVAL;
		}
		b->state[ops[i].user_data] = SLOT_QUEUED;
	}
	return 0;
}

/*
 * Drops the tombstones, keeping the live entries in order: O(ring). Only a submit
 * that would not fit calls it, and then more than `capacity` tombstones are there
 * (live + new <= capacity, since each holds a distinct slot, and the ring holds
 * 2 x capacity), each left by one cancel since the last compaction: O(1) per cancel.
 */
static void compact(struct pool_backend *b)
{
	uint32_t kept = 0;

	/* In place: the write position never passes the read position. */
	for (uint32_t i = 0; i < b->queue_len; i++) {
		uint32_t slot = b->queue[ring_at(b->queue_head, i, queue_size(b))];
		uint32_t at;

		if (slot == TOMBSTONE)
			continue;
		at = ring_at(b->queue_head, kept++, queue_size(b));
		b->queue[at] = slot;
		b->queue_at[slot] = at;
	}
	b->queue_len = kept;
}

/* Appends ops[0..n), whose slots claim_slots() marked queued. */
static void enqueue(struct pool_backend *b, const struct caio_op *ops, uint32_t n)
{
	if (b->queue_len + n > queue_size(b))
		compact(b);
	for (uint32_t i = 0; i < n; i++) {
		uint32_t slot = ops[i].user_data;
		uint32_t at = ring_at(b->queue_head, b->queue_len++, queue_size(b));

		b->queue[at] = slot;
		b->queue_at[slot] = at;
		b->ops[slot] = ops[i];
	}
	b->queued += n;
}

/* Wakes a sleeping worker for each new op; the caller holds the lock. */
static void wake_workers(struct pool_backend *b, uint32_t n)
{
	/* One broadcast when every sleeper gets work, else one signal per op: no herd of 64 for a batch of 2. */
	if (n >= b->idle) {
		if (b->idle > 0)
			pthread_cond_broadcast(&b->work);
		return;
	}
	while (n--)
		pthread_cond_signal(&b->work);
}

/*
 * Hands ops[0..n) to the workers under one lock and returns n: each op completes
 * exactly once through caio_pool_reap. Returns -EINVAL, consuming nothing, if an
 * op has a bad opcode or a user_data that is out of range or still in flight.
 * The queue never fills (live entries hold distinct slots, and compaction makes
 * room for them), so the -EAGAIN of a full queue cannot arise.
 */
CAIO_EXPORT int caio_pool_submit(void *handle, const struct caio_op *ops, uint32_t n)
{
	struct pool_backend *b = handle;
	int ret;

	if (n > b->capacity)
		return -EINVAL;
	if (n == 0)
		return 0;
	pthread_mutex_lock(&b->lock);
	ret = claim_slots(b, ops, n);
	if (ret == 0) {
		enqueue(b, ops, n);
		wake_workers(b, n);
		b->submit_calls++;
	}
	pthread_mutex_unlock(&b->lock);
	return ret < 0 ? ret : (int)n;
}

/*
 * Copies up to `max` completions into out[] without blocking and frees their
 * slots. Returns the count (0 when none are ready). With max >= capacity it takes
 * every completion there is; a caller passing less should call again while it
 * gets `max`, as the wake-up for the rest is only best effort (see push_done).
 */
CAIO_EXPORT int caio_pool_reap(void *handle, struct caio_done *out, uint32_t max)
{
	struct pool_backend *b = handle;
	uint32_t n;
	bool left;

	pthread_mutex_lock(&b->lock);
	n = b->done_count < max ? b->done_count : max;
	for (uint32_t i = 0; i < n; i++) {
		out[i] = b->done[ring_at(b->done_head, i, b->capacity)];
		b->state[out[i].user_data] = SLOT_FREE;
	}
	b->done_head = ring_at(b->done_head, n, b->capacity);
	b->done_count -= n;
	left = b->done_count > 0;
	/* See push_done: only an empty ring may forget that the socket was written. */
	if (!left)
		b->wake_pending = false;
	pthread_mutex_unlock(&b->lock);
	/* The caller may already have consumed the write for what is left; it must not wait in vain. */
	if (left)
		wake_try_signal(&b->wake);
	return (int)n;
}

/* Completes the op in `slot` with -ECANCELED if it is queued; true if the wake socket must be written. */
static bool cancel_queued(struct pool_backend *b, uint32_t slot)
{
	if (b->state[slot] != SLOT_QUEUED)
		return false;
	b->queue[b->queue_at[slot]] = TOMBSTONE;
	b->queued--;
	return push_done(b, slot, -ECANCELED);
}

static int validate_slots(const struct pool_backend *b, const uint32_t *slots, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		if (slots[i] >= b->capacity)
			return -EINVAL;
	}
	return 0;
}

/*
 * Cancels the ops in slots[0..n) that no worker has started, under one lock, and
 * returns n (all taken). Those complete with -ECANCELED, already by the time this
 * returns, so the caller reaps right after it: their wake-up byte is sent without
 * retrying, as this runs on the JavaScript thread. A running or finished op gets
 * its own result; a free slot is ignored. Returns -EINVAL, cancelling nothing,
 * when n > capacity or a slot is out of range.
 */
CAIO_EXPORT int caio_pool_cancel(void *handle, const uint32_t *slots, uint32_t n)
{
	struct pool_backend *b = handle;
	bool wake = false;

	if (n > b->capacity || validate_slots(b, slots, n) < 0)
		return -EINVAL;
	pthread_mutex_lock(&b->lock);
	for (uint32_t i = 0; i < n; i++)
		wake |= cancel_queued(b, slots[i]);
	forget_tombstones_if_idle(b);
	pthread_mutex_unlock(&b->lock);
	if (wake)
		wake_try_signal(&b->wake);
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
	out->capacity = b->capacity;
	out->features = b->nthreads;
	return 0;
}

/*
 * Waits for every queued and running op to finish, joins the workers, closes the
 * wake socket and frees the handle. No buffer is touched after this returns; an op
 * blocked forever (a read from a silent pipe) blocks close with it.
 */
CAIO_EXPORT int caio_pool_close(void *handle)
{
	struct pool_backend *b = handle;

	stop_workers(b);
	free_backend(b);
	return 0;
}
