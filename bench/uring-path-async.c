/*
 * What IOSQE_ASYNC costs on io_uring path ops (c/uring.c sets it on every one), for a
 * cached local file: OPENAT (O_RDONLY, which the kernel tries inline first) and STATX
 * (which it always runs in io-wq), each inline, with IOSQE_ASYNC, and through caio's
 * pool (CAIO_URING_NO_FILE_OPS), in batches of 1 and of 32.
 *
 *   cc -std=gnu11 -O2 -pthread bench/uring-path-async.c -o /tmp/upa && /tmp/upa [rounds]
 *
 * The file opened and stat'ed is created in the current directory (removed at the end).
 *
 * Per op: wall time from submit to the last completion, the submitting thread's CPU
 * time (what the JavaScript thread would spend) and the whole process's (io-wq and
 * pool threads included). The median of `rounds` rounds (default 15) of 2048 ops.
 */
#include "../c/uring.c"
#include "../c/memory.c"

#include <poll.h>
#include <sys/socket.h>
#include <stdio.h>
#include <time.h>

#define OPS 2048
/* A regular file in the current directory: its dentries stay cached between rounds. */
#define PATH "uring-path-async.tmp"

enum mode { INLINE, ASYNC, POOL };

static const char *const mode_name[] = { "inline", "IOSQE_ASYNC", "pool" };

static double now_ns(clockid_t clock)
{
	struct timespec t;

	clock_gettime(clock, &t);
	return t.tv_sec * 1e9 + t.tv_nsec;
}

static void fail(const char *what, int ret)
{
	fprintf(stderr, "uring-path-async: %s: %d\n", what, ret);
	exit(1);
}

/* Submits ops[0..n) straight onto the ring, with or without IOSQE_ASYNC. */
static void submit_raw(struct uring_backend *b, const struct caio_op *ops, uint32_t n, bool async)
{
	for (uint32_t i = 0; i < n; i++)
		prep_sqe(ring_sqe(&b->ring, i), &ops[i], async);
	if (ring_submit(&b->ring, n, &b->submit_calls) != (int)n)
		fail("ring_submit", -1);
	b->in_flight += n;
}

/* Sleeps until the pool's workers write the wake socket, as JavaScript does, and drains it. */
static void wait_wake(struct uring_backend *b)
{
	char bytes[64];

	poll(&(struct pollfd){ .fd = b->wake.rx, .events = POLLIN }, 1, 1000);
	(void)!recv(b->wake.rx, bytes, sizeof(bytes), MSG_DONTWAIT);
}

static void wait_all(struct uring_backend *b, uint32_t n, struct caio_done *out)
{
	uint32_t got = 0;

	while (got < n) {
		int r = caio_uring_reap(b, out + got, n - got);

		if (r < 0)
			fail("reap", r);
		got += (uint32_t)r;
		if (got < n && b->in_flight > 0)
			ring_enter(&b->ring, 0, 1, IORING_ENTER_GETEVENTS);
		else if (got < n)
			wait_wake(b);
	}
}

struct sample {
	double wall, thread, process;
};

static int by_value(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;

	return (a > b) - (a < b);
}

static struct sample one_round(struct uring_backend *b, struct caio_op *ops, uint32_t batch, enum mode mode)
{
	static struct caio_done out[OPS];
	double w = now_ns(CLOCK_MONOTONIC), t = now_ns(CLOCK_THREAD_CPUTIME_ID), p = now_ns(CLOCK_PROCESS_CPUTIME_ID);
	struct sample s;

	for (uint32_t done = 0; done < OPS; done += batch) {
		if (mode == POOL) {
			if (caio_uring_submit(b, ops, batch) != (int)batch)
				fail("submit", -1);
		} else {
			submit_raw(b, ops, batch, mode == ASYNC);
		}
		wait_all(b, batch, out + done);
	}
	s.wall = (now_ns(CLOCK_MONOTONIC) - w) / OPS;
	s.thread = (now_ns(CLOCK_THREAD_CPUTIME_ID) - t) / OPS;
	s.process = (now_ns(CLOCK_PROCESS_CPUTIME_ID) - p) / OPS;
	for (uint32_t i = 0; i < OPS; i++) {
		if (out[i].res < 0)
			fail("op", out[i].res);
		if (ops[0].opcode == CAIO_OP_OPENAT)
			close(out[i].res);
	}
	return s;
}

static void measure(struct uring_backend *b, struct caio_op *ops, uint32_t batch, enum mode mode, int rounds)
{
	double wall[64], thread[64], process[64];

	one_round(b, ops, batch, mode); /* warm-up: io-wq and pool threads started, dentries cached */
	for (int r = 0; r < rounds; r++) {
		struct sample s = one_round(b, ops, batch, mode);

		wall[r] = s.wall;
		thread[r] = s.thread;
		process[r] = s.process;
	}
	qsort(wall, rounds, sizeof(double), by_value);
	qsort(thread, rounds, sizeof(double), by_value);
	qsort(process, rounds, sizeof(double), by_value);
	printf("| %-6s | %5u | %-11s | %8.0f | %8.0f | %8.0f |\n", ops[0].opcode == CAIO_OP_OPENAT ? "OPENAT" : "STATX",
	       batch, mode_name[mode], wall[rounds / 2], thread[rounds / 2], process[rounds / 2]);
}

int main(int argc, char **argv)
{
	static struct caio_op ops[32];
	static uint8_t memory[32][512];
	static const uint32_t batches[] = { 1, 32 };
	int rounds = argc > 1 ? atoi(argv[1]) : 15;
	void *ring, *pooled;

	if (rounds < 1 || rounds > 64)
		fail("rounds (1..64)", rounds);
	int fd = open(PATH, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);

	if (fd < 0)
		fail("create " PATH, -errno);
	close(fd);
	if (caio_uring_open(64, 0, &ring) < 0 || caio_uring_open(64, CAIO_URING_NO_FILE_OPS, &pooled) < 0)
		fail("caio_uring_open", -1);
	printf("| op     | batch | route       | wall ns/op | JS-thread CPU ns/op | process CPU ns/op |\n");
	printf("|--------|-------|-------------|-----------:|-----------:|-----------:|\n");
	for (int code = CAIO_OP_OPENAT; code <= CAIO_OP_STATX; code += CAIO_OP_STATX - CAIO_OP_OPENAT) {
		for (uint32_t i = 0; i < 32; i++) {
			bool statx = code == CAIO_OP_STATX;

			strcpy((char *)memory[i] + (statx ? 256 : 0), PATH);
			ops[i] = (struct caio_op){ .buf = (uintptr_t)memory[i], .len = sizeof(memory[i]), .fd = AT_FDCWD,
						   .user_data = i, .opcode = (uint16_t)code,
						   .offset = statx ? (uint64_t)0x7ff << 32 : O_RDONLY };
		}
		for (size_t k = 0; k < 2; k++) {
			measure(ring, ops, batches[k], INLINE, rounds);
			measure(ring, ops, batches[k], ASYNC, rounds);
			measure(pooled, ops, batches[k], POOL, rounds);
		}
	}
	caio_uring_close(ring);
	caio_uring_close(pooled);
	unlink(PATH);
	return 0;
}
