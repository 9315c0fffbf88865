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
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

/* Added to the eventfd to stop the relay; kernels add 1 per completion and never get near it. */
#define WAKE_STOP ((uint64_t)1 << 40)
#define WAKE_RELAY_STACK (64 * 1024)

struct wake {
	int tx;       /* written by the backend, never blocking */
	int rx;       /* polled by JavaScript, which owns it once wake_hand_over() returned it */
	bool handed_over;
	int event_fd; /* what the kernel signals, relayed to tx; -1 when the backend writes tx itself */
	pthread_t relay;
	bool relaying;
};

/* One byte on the socket. A full socket already holds unread wake-ups; a closed one has no reader left. */
static void wake_signal(struct wake *w)
{
	char byte = 1;

	while (send(w->tx, &byte, 1, MSG_DONTWAIT | MSG_NOSIGNAL) < 0 && errno == EINTR)
		;
}

static void *wake_relay_main(void *arg)
{
	struct wake *w = arg;
	eventfd_t count;

	for (;;) {
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
