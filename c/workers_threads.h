/*
 * The thread pool's threads and its lifetime: how many to run (default_threads),
 * their stack and signal mask, the loop each runs (take an op from the pending
 * ring, run it with op_run.h, queue its completion and write the wake socket), and
 * the pool's setup and teardown (workers_init, workers_alloc, workers_start,
 * workers_stop, workers_free). Separate from the rings' bookkeeping
 * (workers_queue.h) and from the entry points the backends call for each batch
 * (workers.h).
 *
 * Included by workers.h, after its system headers (TinyCC compiles each backend's
 * file on its own).
 */
#ifndef CAIO_WORKERS_THREADS_H
#define CAIO_WORKERS_THREADS_H

#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"
#include "op_run.h"
#include "wake.h"
#include "workers_queue.h"

/* Workers only run syscall wrappers; glibc also carves static TLS out of this. */
#define WORKER_STACK_SIZE (64 * 1024)
#define DEFAULT_MAX_THREADS 64

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

static void finish_op(struct workers *w, uint32_t user_data, int32_t res)
{
	bool wake;

	pthread_mutex_lock(&w->lock);
	wake = push_done(w, user_data, res);
	pthread_mutex_unlock(&w->lock);
	if (wake)
		wake_signal(w->wake);
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

#endif
