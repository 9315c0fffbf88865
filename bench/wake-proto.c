/*
 * Prototype: can the kernel wake Bun's event loop itself when an io_uring read
 * completes ("linked wake send"), instead of caio's relay thread (c/wake.h)?
 *
 * Models the JavaScript thread as one thread looping on epoll_wait over the read end
 * of an AF_UNIX socketpair (Bun polls caio's wake socket the same way), keeping DEPTH
 * random 4 KiB reads of FILE in flight. Variants:
 *
 *   relay  caio today: an eventfd registered on the ring (IORING_REGISTER_EVENTFD,
 *          muted around each submit as ring_mute_eventfd does); a relay pthread
 *          blocks reading it and sends one byte to the socket. On a wake the main
 *          thread drains the socket, reaps (io_uring_enter GETEVENTS when the ring
 *          has DEFER_TASKRUN or IORING_SQ_TASKRUN says task work waits, as
 *          ring_needs_flush does; otherwise it only reads the CQ) and resubmits.
 *   link   no eventfd, no relay: each read is IOSQE_IO_HARDLINK'ed to a 1-byte
 *          IORING_OP_SEND (MSG_DONTWAIT) on the socket's write end, flagged
 *          IOSQE_CQE_SKIP_SUCCESS, so the kernel writes the wake byte itself once
 *          the read completed. A send that fails (socket full, ...) posts a CQE,
 *          tagged SEND_TAG, which the reap counts and otherwise ignores.
 *   wait   reference, no epoll: io_uring_submit_and_wait(1), as bench/ceiling-reads.c.
 *
 * After every submit the main thread looks at the CQ at once, as caio reaps inline
 * completions right after submitting, and keeps resubmitting while reads complete
 * inline (cached reads), without going back to epoll. In that loop the link variant
 * drains the socket every DRAIN_EVERY inline reads: the bytes its sends left there
 * are what Bun's event loop would find and drain on its next visit.
 *
 * epoll_wait has a 1 s timeout: a variant whose wake never comes is reported as a
 * HANG for that sample (the reads are then collected with GETEVENTS). EINTR from
 * epoll_wait is retried, as Bun's loop does, and counted: without DEFER_TASKRUN a
 * completion's task work interrupts the sleeping submitter (TIF_NOTIFY_SIGNAL).
 *
 * Build and run (liburing 2.3+, kernel 6.1+ for DEFER_TASKRUN):
 *
 *   cc -O2 -Wall -o /tmp/wake-proto bench/wake-proto.c -luring -lpthread
 *   /tmp/wake-proto [-f FILE] [-s SECONDS] [-r ROUNDS] [-d 1,4,16] [-n] [-v relay/caio,link/coop,...]
 *
 * FILE defaults to bench/.data/read-268435456.bin (made by the bench). It first
 * checks, at depth 1 with O_DIRECT, which ring setup flags let the linked send
 * wake epoll at all, and whether a cached read's send happens inline in the
 * submitting io_uring_enter; then runs the timed matrix, interleaved: every round
 * runs each (depth, variant) once, the variants' order rotating from round to
 * round; -n skips the cached depth-1 samples, -v runs only the variants named. Prints one line per sample, then
 * medians and min-max per (mode, depth, variant). Latency is per read, from just
 * before the io_uring_enter that submitted it to the moment its CQE is read.
 *
 * What it found (kernel 6.18, 2 vCPUs, virtio disk): the linked send wakes epoll
 * with no setup flags, COOP_TASKRUN, TASKRUN_FLAG, SINGLE_ISSUER and SUBMIT_ALL,
 * and hangs with DEFER_TASKRUN (the read's completion is deferred task work, run
 * only by GETEVENTS, so the send is never issued while the thread sleeps in
 * epoll). Without DEFER_TASKRUN the completion's task work itself interrupts
 * epoll_wait (EINTR, about once per wake); the byte is there when it is retried.
 * A cached read's send runs inline, before the submitting io_uring_enter returns.
 * relay/mutereap is a side finding: with DEFER_TASKRUN the eventfd fires again
 * when GETEVENTS posts the CQE, so caio's relay wakes JavaScript twice per wake-up.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define BLOCK 4096
#define SEND_TAG UINT64_MAX
#define WAKE_STOP ((uint64_t)1 << 40)
#define EPOLL_TIMEOUT_MS 1000
#define DRAIN_EVERY 32
#define MAX_DEPTH 64
#define MAX_SAMPLES 1024

#define CAIO_FLAGS_NO_DEFER                                                                                        \
	(IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG | IORING_SETUP_SINGLE_ISSUER)
/* What c/ring.h asks for first (and this kernel grants). */
#define CAIO_FLAGS (CAIO_FLAGS_NO_DEFER | IORING_SETUP_DEFER_TASKRUN)

enum kind { RELAY, LINK, WAIT };

struct variant {
	const char *name;
	enum kind kind;
	unsigned flags;
	bool mute_reap; /* relay: also mute the eventfd around the reap's GETEVENTS */
};

static const struct variant matrix[] = {
	{ "relay/caio", RELAY, CAIO_FLAGS, false },          /* (a) caio today */
	{ "relay/mutereap", RELAY, CAIO_FLAGS, true },  /* (a) muting the GETEVENTS too (see reap) */
	{ "relay/nodefer", RELAY, CAIO_FLAGS_NO_DEFER, false }, /* (a) if caio dropped DEFER_TASKRUN */
	{ "link/coop", LINK, CAIO_FLAGS_NO_DEFER, false },      /* (b) caio's flags minus DEFER_TASKRUN */
	{ "link/none", LINK, 0, false },                     /* (b) no setup flags */
	{ "wait", WAIT, 0, false },                          /* (c) the ceiling's loop */
};
#define MATRIX_LEN (sizeof(matrix) / sizeof(matrix[0]))

static const struct {
	const char *name;
	unsigned flags;
} flag_sets[] = {
	{ "none", 0 },
	{ "COOP_TASKRUN", IORING_SETUP_COOP_TASKRUN },
	{ "COOP_TASKRUN|TASKRUN_FLAG", IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG },
	{ "SINGLE_ISSUER", IORING_SETUP_SINGLE_ISSUER },
	{ "SINGLE_ISSUER|COOP|TASKRUN_FLAG|SUBMIT_ALL", CAIO_FLAGS_NO_DEFER },
	{ "SINGLE_ISSUER|DEFER_TASKRUN", IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN },
	{ "caio's: DEFER|SINGLE|COOP|TASKRUN_FLAG|SUBMIT_ALL", CAIO_FLAGS },
};

struct result {
	bool ok, hang;
	double seconds;
	uint64_t reads;
	double iops, p50_us, p99_us;
	uint64_t wakes, eintr, spurious, send_fails, enters;
	double submit_ns; /* mean time of one submitting io_uring_enter */
	uint64_t inline_bytes; /* probe: bytes on the socket right after a submit */
};

struct run {
	const struct variant *v;
	bool direct;
	unsigned depth;
	int fd, rx, tx, ep, efd;
	struct io_uring ring;
	pthread_t relay;
	bool relaying;
	unsigned char *buffers;
	double submitted[MAX_DEPTH];
	bool busy[MAX_DEPTH];
	unsigned in_flight;
	uint32_t x; /* xorshift32 state */
	uint64_t blocks;
	uint64_t *lat;
	size_t lat_len, lat_cap;
	bool measuring;
	uint64_t inline_reads;
	struct result *res;
};

static const char *path = "/work/main/bench/.data/read-268435456.bin";

static void die(const char *what, int err)
{
	fprintf(stderr, "wake-proto: %s: %s\n", what, strerror(err));
	exit(1);
}

static double now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e9 + t.tv_nsec;
}

static int enter(int fd, unsigned submit, unsigned min, unsigned flags)
{
	int ret = (int)syscall(__NR_io_uring_enter, fd, submit, min, flags, NULL, 0);
	return ret < 0 ? -errno : ret;
}

/* The relay of c/wake.h: eventfd -> one byte on the socket. */
static void *relay_main(void *arg)
{
	struct run *r = arg;
	eventfd_t count;
	char byte = 1;

	for (;;) {
		if (eventfd_read(r->efd, &count) < 0) {
			if (errno == EINTR)
				continue;
			return NULL;
		}
		if (count >= WAKE_STOP)
			return NULL;
		while (send(r->tx, &byte, 1, MSG_DONTWAIT | MSG_NOSIGNAL) < 0 && errno == EINTR)
			;
	}
}

static uint64_t next_offset(struct run *r)
{
	r->x ^= r->x << 13;
	r->x ^= r->x >> 17;
	r->x ^= r->x << 5;
	return (uint64_t)(r->x % r->blocks) * BLOCK;
}

static struct io_uring_sqe *sqe_or_die(struct run *r)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&r->ring);

	if (!sqe)
		die("io_uring_get_sqe", EBUSY);
	return sqe;
}

static void eventfd_mute(struct run *r, bool mute)
{
	if (r->v->kind != RELAY)
		return;
	io_uring_cq_eventfd_toggle(&r->ring, !mute);
	if (!mute)
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

/* Refills every free slot and submits them in one io_uring_enter (wait: and waits for one). */
static void refill(struct run *r, bool wait)
{
	static char one = 1;
	unsigned added = 0;

	for (unsigned slot = 0; slot < r->depth; slot++) {
		if (r->busy[slot])
			continue;
		struct io_uring_sqe *sqe = sqe_or_die(r);
		io_uring_prep_read(sqe, r->fd, r->buffers + (size_t)slot * BLOCK, BLOCK, next_offset(r));
		io_uring_sqe_set_data64(sqe, slot);
		if (r->v->kind == LINK) {
			sqe->flags |= IOSQE_IO_HARDLINK;
			sqe = sqe_or_die(r);
			io_uring_prep_send(sqe, r->tx, &one, 1, MSG_DONTWAIT | MSG_NOSIGNAL);
			sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
			io_uring_sqe_set_data64(sqe, SEND_TAG);
		}
		r->busy[slot] = true;
		r->in_flight++;
		added++;
	}
	if (!added && !wait)
		return;
	double t0 = now_ns();
	for (unsigned slot = 0; slot < r->depth; slot++) {
		if (r->busy[slot] && r->submitted[slot] < 0)
			r->submitted[slot] = t0;
	}
	eventfd_mute(r, true);
	int ret = wait ? io_uring_submit_and_wait(&r->ring, 1) : io_uring_submit(&r->ring);
	eventfd_mute(r, false);
	if (ret < 0 && ret != -EINTR)
		die("io_uring_submit", -ret);
	if (r->measuring && !wait) {
		r->res->enters++;
		r->res->submit_ns += now_ns() - t0;
	}
}

/* Takes every CQE there is (flushing held-back task work as caio's ring_needs_flush says); returns the reads. */
static unsigned reap(struct run *r)
{
	unsigned flags = r->ring.flags;
	unsigned sqf = IO_URING_READ_ONCE(*r->ring.sq.kflags);
	struct io_uring_cqe *cqe;
	unsigned head, seen = 0, reads = 0;

	while ((sqf & (IORING_SQ_TASKRUN | IORING_SQ_CQ_OVERFLOW)) ||
	       ((flags & IORING_SETUP_DEFER_TASKRUN) && !(flags & IORING_SETUP_TASKRUN_FLAG))) {
		/*
		 * With DEFER_TASKRUN the eventfd fires twice per wake-up: once when the
		 * completion's task work is queued (that one woke us), again when this
		 * GETEVENTS posts the CQE, a second byte and a spurious wake. mute_reap
		 * mutes it here; work queued while muted leaves IORING_SQ_TASKRUN set
		 * (TASKRUN_FLAG), so after unmuting, a set flag means flush again.
		 */
		if (r->v->mute_reap)
			eventfd_mute(r, true);
		int ret = enter(r->ring.ring_fd, 0, 0, IORING_ENTER_GETEVENTS);
		if (ret < 0 && ret != -EINTR)
			die("io_uring_enter(GETEVENTS)", -ret);
		if (!r->v->mute_reap)
			break;
		eventfd_mute(r, false);
		if (!(flags & IORING_SETUP_TASKRUN_FLAG))
			break;
		sqf = IO_URING_READ_ONCE(*r->ring.sq.kflags);
	}
	double now = now_ns();
	io_uring_for_each_cqe(&r->ring, head, cqe) {
		seen++;
		if (cqe->user_data == SEND_TAG) {
			if (r->measuring)
				r->res->send_fails++;
			continue;
		}
		unsigned slot = (unsigned)cqe->user_data;
		if (cqe->res != BLOCK) {
			fprintf(stderr, "wake-proto: read returned %d\n", cqe->res);
			exit(1);
		}
		if (r->measuring) {
			if (r->lat_len == r->lat_cap) {
				r->lat_cap = r->lat_cap ? 2 * r->lat_cap : 1 << 16;
				r->lat = realloc(r->lat, r->lat_cap * sizeof(*r->lat));
				if (!r->lat)
					die("realloc", ENOMEM);
			}
			r->lat[r->lat_len++] = (uint64_t)(now - r->submitted[slot]);
			r->res->reads++;
		}
		r->submitted[slot] = -1;
		r->busy[slot] = false;
		r->in_flight--;
		reads++;
	}
	io_uring_cq_advance(&r->ring, seen);
	return reads;
}

static void drain_socket(struct run *r)
{
	char buf[4096];

	while (recv(r->rx, buf, sizeof(buf), MSG_DONTWAIT) == (ssize_t)sizeof(buf))
		;
}

/* Collects whatever is in flight, unmeasured (after the deadline or a hang). */
static void finish(struct run *r)
{
	r->measuring = false;
	while (r->in_flight > 0) {
		int ret = enter(r->ring.ring_fd, 0, 1, IORING_ENTER_GETEVENTS);
		if (ret < 0 && ret != -EINTR)
			die("io_uring_enter(finish)", -ret);
		reap(r);
	}
	/* A failed linked send may still post its CQE after the read's. */
	struct __kernel_timespec ts = { 0, 20 * 1000 * 1000 };
	struct io_uring_cqe *cqe;
	while (io_uring_wait_cqe_timeout(&r->ring, &cqe, &ts) == 0)
		io_uring_cqe_seen(&r->ring, cqe);
}

/* The event loop: reads complete inline (resubmit at once) or are woken for through epoll. */
static void loop_epoll(struct run *r, double deadline)
{
	struct epoll_event ev;

	refill(r, false);
	while (now_ns() < deadline) {
		unsigned got = reap(r);
		if (got > 0) {
			/* Inline completions: JavaScript goes on without visiting the event loop. */
			if (r->v->kind == LINK && (r->inline_reads += got) >= DRAIN_EVERY) {
				r->inline_reads = 0;
				drain_socket(r);
			}
			refill(r, false);
			continue;
		}
		int n;
		/* Bun's loop retries epoll_wait on EINTR without returning to JavaScript. */
		while ((n = epoll_wait(r->ep, &ev, 1, EPOLL_TIMEOUT_MS)) < 0) {
			if (errno != EINTR)
				die("epoll_wait", errno);
			r->res->eintr++;
		}
		if (n == 0) {
			r->res->hang = true;
			return;
		}
		r->res->wakes++;
		r->inline_reads = 0;
		drain_socket(r);
		got = reap(r);
		if (got == 0) {
			r->res->spurious++;
			continue;
		}
		refill(r, false);
	}
}

static void loop_wait(struct run *r, double deadline)
{
	refill(r, false);
	while (now_ns() < deadline) {
		reap(r);
		refill(r, true);
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* One sample. Returns false when the ring setup refused the flags. */
static bool run_sample(const struct variant *v, unsigned depth, bool direct, double seconds, struct result *res,
		       bool probe_inline)
{
	struct run r = { .v = v, .direct = direct, .depth = depth, .efd = -1, .res = res };
	struct io_uring_params p = { .flags = v->flags };
	int pair[2];
	int ret;

	memset(res, 0, sizeof(*res));
	r.x = 0x9e3779b9u ^ (uint32_t)now_ns();
	r.fd = open(path, O_RDONLY | (direct ? O_DIRECT : 0));
	if (r.fd < 0)
		die(path, errno);
	r.blocks = (uint64_t)lseek(r.fd, 0, SEEK_END) / BLOCK;
	ret = io_uring_queue_init_params(2 * depth < 8 ? 8 : 2 * depth, &r.ring, &p);
	if (ret < 0) {
		close(r.fd);
		return false;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0)
		die("socketpair", errno);
	r.rx = pair[0];
	r.tx = pair[1];
	r.ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = r.rx };
	if (epoll_ctl(r.ep, EPOLL_CTL_ADD, r.rx, &ev) < 0)
		die("epoll_ctl", errno);
	if (v->kind == RELAY) {
		r.efd = eventfd(0, EFD_CLOEXEC);
		if ((ret = io_uring_register_eventfd(&r.ring, r.efd)) < 0)
			die("io_uring_register_eventfd", -ret);
		if ((ret = pthread_create(&r.relay, NULL, relay_main, &r)) != 0)
			die("pthread_create", ret);
		r.relaying = true;
	}
	if (posix_memalign((void **)&r.buffers, BLOCK, (size_t)depth * BLOCK))
		die("posix_memalign", ENOMEM);
	for (unsigned i = 0; i < depth; i++)
		r.submitted[i] = -1;

	if (probe_inline) {
		/* Is a cached read's linked send done before the submitting io_uring_enter returns? */
		r.measuring = true;
		for (int i = 0; i < 1000; i++) {
			int avail = 0;
			refill(&r, false);
			ioctl(r.rx, FIONREAD, &avail);
			res->inline_bytes += (uint64_t)avail;
			if (reap(&r) == 0)
				finish(&r);
			drain_socket(&r);
		}
		r.measuring = false;
	} else {
		/* Unmeasured warm-up, then the sample. */
		double start = now_ns();
		r.measuring = false;
		if (v->kind == WAIT)
			loop_wait(&r, start + 0.1e9);
		else
			loop_epoll(&r, start + 0.1e9);
		if (!res->hang) {
			memset(res, 0, sizeof(*res));
			r.measuring = true;
			start = now_ns();
			if (v->kind == WAIT)
				loop_wait(&r, start + seconds * 1e9);
			else
				loop_epoll(&r, start + seconds * 1e9);
			res->seconds = (now_ns() - start) / 1e9;
		}
	}
	finish(&r);
	res->ok = !res->hang;
	res->iops = res->seconds > 0 ? res->reads / res->seconds : 0;
	if (r.lat_len > 0) {
		qsort(r.lat, r.lat_len, sizeof(*r.lat), cmp_u64);
		res->p50_us = r.lat[r.lat_len / 2] / 1e3;
		res->p99_us = r.lat[(size_t)(r.lat_len * 0.99)] / 1e3;
	}
	if (res->enters)
		res->submit_ns /= (double)res->enters;
	if (r.relaying) {
		eventfd_write(r.efd, WAKE_STOP);
		pthread_join(r.relay, NULL);
	}
	io_uring_queue_exit(&r.ring);
	if (r.efd >= 0)
		close(r.efd);
	close(r.ep);
	close(r.rx);
	close(r.tx);
	close(r.fd);
	free(r.buffers);
	free(r.lat);
	return true;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

struct cell {
	int n, hangs;
	double iops[MAX_SAMPLES], p50[MAX_SAMPLES], p99[MAX_SAMPLES], submit[MAX_SAMPLES];
	double wakes, eintr, spurious, send_fails; /* per read, summed over samples */
};

static void check_flags(void)
{
	printf("== which setup flags let the linked send wake epoll (O_DIRECT, depth 1, 0.5 s)\n");
	for (size_t i = 0; i < sizeof(flag_sets) / sizeof(flag_sets[0]); i++) {
		struct variant v = { flag_sets[i].name, LINK, flag_sets[i].flags, false };
		struct result res;

		if (!run_sample(&v, 1, true, 0.5, &res, false)) {
			printf("  %-52s setup refused\n", flag_sets[i].name);
			continue;
		}
		if (res.hang)
			printf("  %-52s HANG (no wake within %d ms)\n", flag_sets[i].name, EPOLL_TIMEOUT_MS);
		else
			printf("  %-52s works: %.0f IOPS, EINTR/read %.2f, wakes/read %.2f\n", flag_sets[i].name, res.iops,
			       (double)res.eintr / res.reads, (double)res.wakes / res.reads);
	}
	printf("== cached read, linked send: bytes on the socket right after the submitting io_uring_enter (1000 reads)\n");
	for (size_t i = 0; i < sizeof(flag_sets) / sizeof(flag_sets[0]); i++) {
		struct variant v = { flag_sets[i].name, LINK, flag_sets[i].flags, false };
		struct result res;

		if (run_sample(&v, 1, false, 0, &res, true))
			printf("  %-52s %4llu of 1000 (mean submit enter %.0f ns)\n", flag_sets[i].name,
			       (unsigned long long)res.inline_bytes, res.submit_ns);
	}
	fflush(stdout);
}

static void parse_depths(const char *s, unsigned *depths, int *n)
{
	*n = 0;
	while (*s && *n < 8) {
		unsigned d = (unsigned)strtoul(s, (char **)&s, 10);
		if (d == 0 || d > MAX_DEPTH)
			die("depth", EINVAL);
		depths[(*n)++] = d;
		if (*s == ',')
			s++;
	}
}

/* Whether `name` is in the comma-separated list `only` (NULL: every variant). */
static bool selected(const char *only, const char *name)
{
	size_t len = strlen(name);

	for (const char *p = only; p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL) {
		if (strncmp(p, name, len) == 0 && (p[len] == ',' || p[len] == 0))
			return true;
	}
	return !only;
}

int main(int argc, char **argv)
{
	double seconds = 2;
	int rounds = 5, ndepths = 0, opt;
	unsigned depths[8];
	bool cached = true;
	const char *only = NULL;

	parse_depths("1,4,16", depths, &ndepths);
	while ((opt = getopt(argc, argv, "f:s:r:d:nv:")) != -1) {
		switch (opt) {
		case 'f': path = optarg; break;
		case 's': seconds = atof(optarg); break;
		case 'r': rounds = atoi(optarg); break;
		case 'd': parse_depths(optarg, depths, &ndepths); break;
		case 'n': cached = false; break;
		case 'v': only = optarg; break;
		default:
			fprintf(stderr, "usage: wake-proto [-f FILE] [-s SECONDS] [-r ROUNDS] [-d 1,4,16] [-n] [-v VARIANT,...]\n");
			return 2;
		}
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	check_flags();

	/* Cells: [mode][depth][variant]; mode 0 = O_DIRECT, 1 = cached (depth 1 only). */
	static struct cell cells[2][8][MATRIX_LEN];
	printf("== samples: %d rounds x %.1f s, interleaved\n", rounds, seconds);
	for (int round = 0; round < rounds; round++) {
		for (int mode = 0; mode < (cached ? 2 : 1); mode++) {
			for (int di = 0; di < (mode ? 1 : ndepths); di++) {
				unsigned depth = mode ? 1 : depths[di];
				for (size_t k = 0; k < MATRIX_LEN; k++) {
					size_t vi = (k + (size_t)round) % MATRIX_LEN;
					const struct variant *v = &matrix[vi];
					struct cell *c = &cells[mode][di][vi];
					struct result res;

					if (!selected(only, v->name))
						continue;

					if (!run_sample(v, depth, mode == 0, seconds, &res, false)) {
						printf("  r%d %-7s d%-2u %-14s setup refused\n", round, mode ? "cached" : "direct",
						       depth, v->name);
						continue;
					}
					printf("  r%d %-7s d%-2u %-14s %s %8.0f IOPS p50 %7.1f us p99 %7.1f us  wakes/read %.2f "
					       "EINTR/read %.2f spurious %llu sendfail %llu enter %.0f ns\n",
					       round, mode ? "cached" : "direct", depth, v->name, res.hang ? "HANG" : "ok  ",
					       res.iops, res.p50_us, res.p99_us, res.reads ? (double)res.wakes / res.reads : 0,
					       res.reads ? (double)res.eintr / res.reads : 0, (unsigned long long)res.spurious,
					       (unsigned long long)res.send_fails, res.submit_ns);
					if (res.hang) {
						c->hangs++;
						continue;
					}
					c->iops[c->n] = res.iops;
					c->p50[c->n] = res.p50_us;
					c->p99[c->n] = res.p99_us;
					c->submit[c->n] = res.submit_ns;
					c->n++;
					c->wakes += res.wakes / (double)res.reads;
					c->eintr += res.eintr / (double)res.reads;
					c->spurious += res.spurious / (double)res.reads;
					c->send_fails += res.send_fails;
				}
			}
		}
	}

	printf("\n== medians [min-max] over rounds\n");
	printf("%-7s %-5s %-14s %-26s %-26s %-26s %-8s %-8s %s\n", "mode", "depth", "variant", "IOPS", "p50 us",
	       "p99 us", "wk/read", "EINTR/rd", "enter ns");
	for (int mode = 0; mode < (cached ? 2 : 1); mode++) {
		for (int di = 0; di < (mode ? 1 : ndepths); di++) {
			for (size_t vi = 0; vi < MATRIX_LEN; vi++) {
				struct cell *c = &cells[mode][di][vi];
				char a[64], b[64], d[64];

				if (!selected(only, matrix[vi].name))
					continue;
				if (c->n == 0) {
					printf("%-7s %-5u %-14s %s\n", mode ? "cached" : "direct", mode ? 1 : depths[di],
					       matrix[vi].name, c->hangs ? "HANG every round" : "no sample");
					continue;
				}
				double lo_i, hi_i, lo_5, hi_5, lo_9, hi_9;
				qsort(c->iops, (size_t)c->n, sizeof(double), cmp_double);
				qsort(c->p50, (size_t)c->n, sizeof(double), cmp_double);
				qsort(c->p99, (size_t)c->n, sizeof(double), cmp_double);
				lo_i = c->iops[0], hi_i = c->iops[c->n - 1];
				lo_5 = c->p50[0], hi_5 = c->p50[c->n - 1];
				lo_9 = c->p99[0], hi_9 = c->p99[c->n - 1];
				snprintf(a, sizeof a, "%.0f [%.0f-%.0f]", median(c->iops, c->n), lo_i, hi_i);
				snprintf(b, sizeof b, "%.1f [%.1f-%.1f]", median(c->p50, c->n), lo_5, hi_5);
				snprintf(d, sizeof d, "%.1f [%.1f-%.1f]", median(c->p99, c->n), lo_9, hi_9);
				printf("%-7s %-5u %-14s %-26s %-26s %-26s %-8.2f %-8.2f %.0f%s\n", mode ? "cached" : "direct",
				       mode ? 1 : depths[di], matrix[vi].name, a, b, d, c->wakes / c->n, c->eintr / c->n,
				       median(c->submit, c->n), c->hangs ? " (some rounds HANG)" : "");
			}
		}
	}
	return 0;
}
