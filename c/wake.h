/*
 * How a backend wakes JavaScript when completions arrive after the submitting call:
 * a byte on one end of an AF_UNIX socketpair, whose other end Bun polls on its own
 * event loop (Bun.connect({ fd })). A wake-up then costs one epoll return on the
 * JavaScript thread. A pending read of an eventfd, the alternative Bun offers,
 * costs a round trip through Bun's fs thread pool for every wake-up.
 *
 * The thread pool's workers write the socket themselves. io_uring and AIO can only
 * signal an eventfd, which nothing in Bun polls, so a relay thread blocks on that
 * eventfd and passes each wake-up on as one byte.
 *
 * Included by each backend's file (they are compiled one by one under TinyCC).
 */
#ifndef CAIO_WAKE_H
#define CAIO_WAKE_H

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Added to the eventfd to stop the relay; kernels add 1 per completion and never get near it. */
#define WAKE_STOP ((uint64_t)1 << 40)
#define WAKE_RELAY_STACK (64 * 1024)
/* Backoff between sends the kernel could not allocate for: 100 us doubling to 10 ms. */
#define WAKE_RETRY_MIN_NS 100000L
#define WAKE_RETRY_MAX_NS 10000000L

/* TinyCC (bun:ffi cc) has no __atomic builtins; it never reorders accesses, and x86-64 needs no more. */
#ifdef __TINYC__
#define WAKE_LOAD(p) (*(volatile __typeof__(*(p)) *)(p))
#define WAKE_STORE(p, v) ((void)(*(volatile __typeof__(*(p)) *)(p) = (v)))
#else
#define WAKE_LOAD(p) __atomic_load_n(p, __ATOMIC_RELAXED)
#define WAKE_STORE(p, v) __atomic_store_n(p, v, __ATOMIC_RELAXED)
#endif

struct wake {
	int tx;       /* written by the backend, never blocking */
	int rx;       /* polled by JavaScript, which owns it once wake_hand_over() returned it */
	bool handed_over;
	int event_fd; /* what the kernel signals, relayed to tx; -1 when the backend writes tx itself */
	pthread_t relay;
	bool relaying;
	bool closing; /* set by wake_quiesce(): nobody needs a wake-up any more, stop retrying */
	int follow_cpu; /* the CPU the JavaScript thread last submitted from; -1 unknown */
	int relay_cpu;  /* the CPU the relay is bound to; -1 none */
};

/*
 * The relay runs on the CPU the JavaScript thread last submitted from. A late
 * completion's task work runs on the JavaScript thread and signals the eventfd from
 * there, so the relay wakes on a CPU that is awake, and its byte wakes a thread on
 * the same CPU. Left to itself the scheduler wakes the relay on the CPU it last ran
 * on, usually an idle one: an interprocessor interrupt and, in a VM, a halted vCPU to
 * resume, twice per wake-up. Measured on O_DIRECT 4 KiB reads (2-vCPU VM, `uring`,
 * interleaved pairs): +18% at 1 in flight, +20% at 4, +24% at 16, +10% at 64.
 * Called on the JavaScript thread at each submitting call (sched_getcpu is a vDSO read).
 */
static __attribute__((unused)) void wake_follow(struct wake *w)
{
	int cpu = sched_getcpu();

	if (cpu >= 0)
		WAKE_STORE(&w->follow_cpu, cpu);
}

/* On the relay thread, before it blocks: moves it to the JavaScript thread's CPU when that changed. */
static void wake_relay_move(struct wake *w)
{
	int want = WAKE_LOAD(&w->follow_cpu);
	cpu_set_t set;

	if (want < 0 || want == w->relay_cpu || want >= CPU_SETSIZE)
		return;
	CPU_ZERO(&set);
	CPU_SET(want, &set);
	/* Refused (a CPU taken away meanwhile): it stays where it is and asks again after its next wake. */
	if (sched_setaffinity(0, sizeof(set), &set) == 0)
		w->relay_cpu = want;
}

/*
 * One byte on the socket, one attempt: 0, or the -errno of a send that failed. Never
 * sleeps, so it is the variant for the JavaScript thread. -EAGAIN (the socket is full)
 * loses nothing: the bytes already there are unread wake-ups.
 */
static int wake_try_signal(struct wake *w)
{
	char byte = 1;

	for (;;) {
		if (send(w->tx, &byte, 1, MSG_DONTWAIT | MSG_NOSIGNAL) >= 0)
			return 0;
		if (errno != EINTR)
			return -errno;
	}
}

/* The kernel could not allocate the message: unlike a full socket, nothing was queued. */
static bool wake_transient(int ret)
{
	return ret == -ENOBUFS || ret == -ENOMEM;
}

/*
 * One byte on the socket, retried with a backoff while memory is short, since it
 * may be the only wake-up for a completion JavaScript is waiting for. Sleeps, so
 * only for pool workers and the relay thread, never the JavaScript thread or under
 * the pool lock. Gives up when the reader is gone (EPIPE, ECONNRESET), on any other
 * error, and once the backend is closing.
 */
static void wake_signal(struct wake *w)
{
	long delay = WAKE_RETRY_MIN_NS;

	while (wake_transient(wake_try_signal(w)) && !WAKE_LOAD(&w->closing)) {
		struct timespec ts = { 0, delay };

		nanosleep(&ts, NULL);
		delay = delay * 2 < WAKE_RETRY_MAX_NS ? delay * 2 : WAKE_RETRY_MAX_NS;
	}
}

/* From now on wake_signal gives up instead of retrying: the backend is closing. */
static void wake_quiesce(struct wake *w)
{
	WAKE_STORE(&w->closing, true);
}

static void *wake_relay_main(void *arg)
{
	struct wake *w = arg;
	eventfd_t count;

	for (;;) {
		wake_relay_move(w);
		if (eventfd_read(w->event_fd, &count) < 0) {
			if (errno == EINTR)
				continue;
			return NULL;
		}
		if (count >= WAKE_STOP)
			return NULL;
		wake_signal(w);
	}
}

static int wake_start_relay(struct wake *w)
{
	pthread_attr_t attr;
	sigset_t all, old;
	size_t stack = WAKE_RELAY_STACK;
	int ret;

	/* PTHREAD_STACK_MIN is 128 KiB on 64 KiB-page arm64. */
	if ((size_t)PTHREAD_STACK_MIN > stack)
		stack = (size_t)PTHREAD_STACK_MIN;
	ret = pthread_attr_init(&attr);
	if (ret)
		return -ret;
	ret = pthread_attr_setstacksize(&attr, stack);
	/* The relay inherits this mask: every signal stays with Bun's own threads. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	if (ret == 0)
		ret = pthread_create(&w->relay, &attr, wake_relay_main, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	if (ret)
		return -ret;
	pthread_setname_np(w->relay, "caio-wake");
	w->relaying = true;
	return 0;
}

static void wake_init(struct wake *w)
{
	w->tx = -1;
	w->rx = -1;
	w->handed_over = false;
	w->event_fd = -1;
	w->relaying = false;
	w->closing = false;
	w->follow_cpu = -1;
	w->relay_cpu = -1;
}

/*
 * Creates the socketpair and, with `relay`, a blocking eventfd for the kernel plus
 * the thread that relays it. Call wake_init() first; wake_close() undoes a partial open.
 */
static int wake_open(struct wake *w, bool relay)
{
	int pair[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0)
		return -errno;
	w->rx = pair[0];
	w->tx = pair[1];
	if (!relay)
		return 0;
	w->event_fd = eventfd(0, EFD_CLOEXEC);
	if (w->event_fd < 0)
		return -errno;
	return wake_start_relay(w);
}

/* The descriptor JavaScript polls. The caller owns it from now on (Bun closes it with its socket). */
static int wake_hand_over(struct wake *w)
{
	w->handed_over = true;
	return w->rx;
}

/* Stops the relay, then closes what the backend still owns; JavaScript's end stays open if handed over. */
static void wake_close(struct wake *w)
{
	wake_quiesce(w);
	if (w->relaying) {
		eventfd_write(w->event_fd, WAKE_STOP);
		pthread_join(w->relay, NULL);
		w->relaying = false;
	}
	if (w->event_fd >= 0)
		close(w->event_fd);
	if (w->tx >= 0)
		close(w->tx);
	if (w->rx >= 0 && !w->handed_over)
		close(w->rx);
	wake_init(w);
}

#endif
