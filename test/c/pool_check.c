/*
 * Native checks for the thread-pool backend (c/pool.c), driven through its seven
 * exported functions. Completions are awaited the way JavaScript does it: reap,
 * then block on the wake socket; no sleeps. A lost wake-up shows as a poll timeout.
 * Temporary files are created in the current directory.
 *
 * From the repository root, with sanitizers:
 *   cc -std=gnu11 -O1 -g -Wall -Wextra -Werror -pthread -fsanitize=address,undefined \
 *      -fno-sanitize-recover=all -fno-omit-frame-pointer test/c/pool_check.c -o /tmp/pool_check &&
 *      (cd "$(mktemp -d)" && /tmp/pool_check)
 * and under valgrind, without them:
 *   cc -std=gnu11 -O1 -g -Wall -Wextra -Werror -pthread test/c/pool_check.c -o /tmp/pool_check_vg &&
 *      (cd "$(mktemp -d)" &&
 *       valgrind --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=all /tmp/pool_check_vg)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <sys/socket.h>

/*
 * Fault injection for the wake socket: c/wake.h's send() comes here, and fails with
 * ENOBUFS while send_failures > 0 (see check_wake_retry).
 */
static int send_failures;

static ssize_t send_or_fail(int fd, const void *buf, size_t len, int flags)
{
	int left = __atomic_load_n(&send_failures, __ATOMIC_RELAXED);

	while (left > 0) {
		if (__atomic_compare_exchange_n(&send_failures, &left, left - 1, false, __ATOMIC_RELAXED,
						__ATOMIC_RELAXED)) {
			errno = ENOBUFS;
			return -1;
		}
	}
	return send(fd, buf, len, flags);
}

#define send send_or_fail
#include "../../c/pool.c"
/* The backends hold flagged ops' blocks through memory.c's functions (c/memory.h). */
#include "../../c/memory.c"
#undef send

#define CHECK_NAME "pool_check"
#define BACKEND(fn) caio_pool_##fn
/* caio_pool_submit queues a valid batch whole or refuses it: no kernel queue to stop part-way. */
#define SUBMITS_WHOLE 1
#include "harness.h"
#include "file_ops.h"

#include <dirent.h>
#include <time.h>

/* A valid best-effort priority: class 2, level 4. */
#define PRIO_BE4 ((2 << 13) | 4)

static void write_all(int fd, const void *buf, size_t len)
{
	CHECK_EQ(write(fd, buf, len), (ssize_t)len);
}

static void check_open_arguments(void)
{
	struct caio_info info;
	void *h = NULL;

	check_open_bounds();
	CHECK_EQ(caio_pool_open(CAP, 1025, &h), -EINVAL);
	CHECK(h == NULL);

	h = open_backend(CAP, 0);
	info = info_of(h);
	CHECK_EQ(info.capacity, CAP);
	CHECK_EQ(info.features, default_threads(CAP));
	CHECK(info.features >= 4 && info.features <= 64);
	CHECK_EQ(info.submit_calls, 0);
	CHECK_EQ(caio_pool_close(h), 0);

	/* Never more default threads than ops that can be in flight. */
	h = open_backend(2, 0);
	info = info_of(h);
	CHECK_EQ(info.features, 2);
	CHECK_EQ(caio_pool_close(h), 0);
}

static void check_file_io(void *h)
{
	static uint8_t data[5][4096], back[5][4096];
	struct caio_op ops[8];
	struct results r;
	int fd = temp_file(NULL);

	for (uint32_t i = 0; i < 5; i++) {
		fill(data[i], sizeof(data[i]), i);
		ops[i] = OP(CAIO_OP_WRITE, fd, data[i], sizeof(data[i]), i * 4096, i);
	}
	ops[4].ioprio = PRIO_BE4;
	run_batch(h, ops, 5, &r);
	for (uint32_t i = 0; i < 5; i++)
		CHECK_EQ(r.res[i], 4096);

	ops[0] = OP(CAIO_OP_FSYNC, fd, NULL, 0, 0, 10);
	ops[1] = OP(CAIO_OP_FDSYNC, fd, NULL, 0, 0, 11);
	run_batch(h, ops, 2, &r);
	CHECK_EQ(r.res[10], 0);
	CHECK_EQ(r.res[11], 0);

	for (uint32_t i = 0; i < 5; i++)
		ops[i] = OP(CAIO_OP_READ, fd, back[i], sizeof(back[i]), i * 4096, 20 + i);
	/* Past the end: 0 bytes, not an error. */
	ops[5] = OP(CAIO_OP_READ, fd, back[0], 16, 5 * 4096, 30);
	/* A priority class the kernel does not know fails the op before it runs. */
	ops[6] = OP(CAIO_OP_WRITE, fd, data[0], 16, 0, 31);
	ops[6].ioprio = PRIO_BAD;
	run_batch(h, ops, 7, &r);
	for (uint32_t i = 0; i < 5; i++) {
		CHECK_EQ(r.res[20 + i], 4096);
		CHECK(memcmp(back[i], data[i], 4096) == 0);
	}
	CHECK_EQ(r.res[30], 0);
	CHECK_EQ(r.res[31], -EINVAL);
	close(fd);
}

static void check_errors(void *h)
{
	static uint8_t buf[64];
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
	struct caio_op ops[CAP + 1];
	struct results r;
	int closed = open("/dev/null", O_RDONLY | O_CLOEXEC);
	int dir = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	CHECK(closed >= 0 && dir >= 0);
	close(closed);
	ops[0] = OP(CAIO_OP_READ, closed, buf, sizeof(buf), 0, 0);
	ops[1] = OP(CAIO_OP_WRITE, -1, buf, sizeof(buf), 0, 1);
	ops[2] = OP(CAIO_OP_FSYNC, closed, NULL, 0, 0, 2);
	ops[3] = OP(CAIO_OP_READV, closed, &iov, 1, 0, 3);
	ops[4] = OP(CAIO_OP_READ, dir, buf, sizeof(buf), 0, 4);
	run_batch(h, ops, 5, &r);
	CHECK_EQ(r.res[0], -EBADF);
	CHECK_EQ(r.res[1], -EBADF);
	CHECK_EQ(r.res[2], -EBADF);
	CHECK_EQ(r.res[3], -EBADF);
	CHECK_EQ(r.res[4], -EISDIR);
	close(dir);

	/* Rejected batches consume nothing, so their slots stay free. */
	ops[0] = OP(CAIO_OP_READ, -1, buf, 1, 0, CAP);
	CHECK_EQ(caio_pool_submit(h, ops, 1), -EINVAL);
	ops[0] = OP(CAIO_OP_MAX + 1, -1, buf, 1, 0, 1);
	CHECK_EQ(caio_pool_submit(h, ops, 1), -EINVAL);
	ops[0] = OP(CAIO_OP_READ, -1, buf, 1, 0, 7);
	ops[1] = OP(CAIO_OP_READ, -1, buf, 1, 0, 7);
	CHECK_EQ(caio_pool_submit(h, ops, 2), -EINVAL);
	for (uint32_t i = 0; i <= CAP; i++)
		ops[i] = OP(CAIO_OP_READ, -1, buf, 1, 0, i % CAP);
	CHECK_EQ(caio_pool_submit(h, ops, CAP + 1), -EINVAL);
	CHECK_EQ(caio_pool_submit(h, ops, 0), 0);
	check_cancel_refusals(h);
	/* Slot 7 was freed by the rollback of the duplicate batch: cancelling it completes nothing. */
	CHECK_EQ(cancel_one(h, 7), 1);
	expect_idle(h);
	run_batch(h, ops + 7, 1, &r);
	CHECK_EQ(r.res[7], -EBADF);
}

static void check_pipes(void *h)
{
	char in[16] = { 0 }, a[3] = { 0 }, b[8] = { 0 };
	struct iovec out_iov[2] = { { .iov_base = "wor", .iov_len = 3 }, { .iov_base = "ld", .iov_len = 2 } };
	struct iovec in_iov[2] = { { .iov_base = a, .iov_len = 2 }, { .iov_base = b, .iov_len = sizeof(b) } };
	struct caio_op op;
	struct results r;
	int p[2];

	CHECK_EQ(pipe2(p, O_CLOEXEC), 0);
	write_all(p[1], "hello", 5);
	/* pread on a pipe is ESPIPE; the offset is ignored and read(2) runs instead. */
	op = OP(CAIO_OP_READ, p[0], in, sizeof(in), 777, 0);
	run_batch(h, &op, 1, &r);
	CHECK_EQ(r.res[0], 5);
	CHECK(memcmp(in, "hello", 5) == 0);

	op = OP(CAIO_OP_WRITE, p[1], "world", 5, 123, 1);
	run_batch(h, &op, 1, &r);
	CHECK_EQ(r.res[1], 5);
	CHECK_EQ(read(p[0], in, sizeof(in)), 5);
	CHECK(memcmp(in, "world", 5) == 0);

	op = OP(CAIO_OP_WRITEV, p[1], out_iov, 2, 55, 2);
	run_batch(h, &op, 1, &r);
	CHECK_EQ(r.res[2], 5);
	op = OP(CAIO_OP_READV, p[0], in_iov, 2, 66, 3);
	run_batch(h, &op, 1, &r);
	CHECK_EQ(r.res[3], 5);
	CHECK(memcmp(a, "wo", 2) == 0 && memcmp(b, "rld", 3) == 0);

	/* fsync has no stream fallback: a pipe cannot be synced. */
	op = OP(CAIO_OP_FSYNC, p[1], NULL, 0, 0, 4);
	run_batch(h, &op, 1, &r);
	CHECK_EQ(r.res[4], -EINVAL);
	close(p[0]);
	close(p[1]);

	p[0] = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
	CHECK(p[0] >= 0);
	op = OP(CAIO_OP_READ, p[0], in, 5, 0, 5);
	run_batch(h, &op, 1, &r);
	CHECK_EQ(r.res[5], 5);
	CHECK(memcmp(in, "Name:", 5) == 0);
	close(p[0]);
}

/*
 * Occupies the single worker of a 1-thread pool: a write four times the pipe's size
 * fills it and blocks. Returns once the data shows up, i.e. the op is running.
 */
static uint8_t *block_worker(void *h, int p[2], uint32_t user_data, uint16_t ioprio, size_t *len)
{
	struct caio_op op;
	uint8_t *big;
	int size;

	CHECK_EQ(pipe2(p, O_CLOEXEC), 0);
	size = fcntl(p[1], F_GETPIPE_SZ);
	CHECK(size > 0);
	*len = (size_t)size * 4;
	big = malloc(*len);
	CHECK(big != NULL);
	fill(big, *len, 77);
	op = OP(CAIO_OP_WRITE, p[1], big, (uint32_t)*len, 0, user_data);
	op.ioprio = ioprio;
	CHECK_EQ(caio_pool_submit(h, &op, 1), 1);
	CHECK(readable(p[0], WAIT_MS));
	return big;
}

/* Reads the blocked write's bytes out of the pipe, which lets it finish. */
static void drain(int fd, const uint8_t *expect, size_t len)
{
	static uint8_t chunk[65536];
	size_t got = 0;

	while (got < len) {
		size_t want = len - got < sizeof(chunk) ? len - got : sizeof(chunk);
		ssize_t n = read(fd, chunk, want);

		CHECK(n > 0);
		CHECK(memcmp(chunk, expect + got, (size_t)n) == 0);
		got += (size_t)n;
	}
}

/* The thread id of the only live pool worker (workers name themselves "caio-pool"). */
static pid_t only_worker(void)
{
	DIR *dir = opendir("/proc/self/task");
	struct dirent *e;
	pid_t tid = 0;
	int found = 0;

	CHECK(dir != NULL);
	while ((e = readdir(dir))) {
		char path[300], comm[32] = { 0 };
		int fd;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm", e->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (read(fd, comm, sizeof(comm) - 1) > 0 && strcmp(comm, "caio-pool\n") == 0) {
			tid = atoi(e->d_name);
			found++;
		}
		close(fd);
	}
	closedir(dir);
	CHECK_EQ(found, 1);
	return tid;
}

static long thread_ioprio(pid_t tid)
{
	return syscall(SYS_ioprio_get, IOPRIO_WHO_PROCESS, tid);
}

static void check_cancel(void)
{
	void *h = open_backend(CAP, 1);
	struct caio_op ops[40];
	struct caio_done out[CAP];
	struct results r = { 0 };
	char bytes[CAP] = { 0 };
	uint32_t odd[22];
	uint8_t *big;
	size_t big_len;
	int p[2], a[2], rc;
	pid_t worker;

	big = block_worker(h, p, 0, PRIO_BE4, &big_len);
	/* Running: taken, but it changes nothing; the op's own result comes later. */
	CHECK_EQ(cancel_one(h, 0), 1);
	expect_idle(h);
	/* The priority is the worker thread's own while the op runs. */
	worker = only_worker();
	CHECK_EQ(thread_ioprio(worker), PRIO_BE4);

	/* The worker is stuck, so these stay queued: reads of one byte from an empty pipe. */
	CHECK_EQ(pipe2(a, O_CLOEXEC), 0);
	for (uint32_t i = 0; i < 40; i++)
		ops[i] = OP(CAIO_OP_READ, a[0], &bytes[i + 1], 1, 0, i + 1);
	CHECK_EQ(caio_pool_submit(h, ops, 40), 40);
	CHECK_EQ(caio_pool_submit(h, &ops[1], 1), -EINVAL);
	/* The odd slots in one call; a slot cancelled twice, or holding nothing, is taken and ignored. */
	for (uint32_t i = 0; i < 20; i++)
		odd[i] = 2 * i + 1;
	odd[20] = 1;
	odd[21] = 50;
	CHECK_EQ(caio_pool_cancel(h, odd, 22), 22);
	CHECK_EQ(cancel_one(h, 1), 1);

	/* 20 completions, one wake-up; a reap that leaves some behind wakes again. */
	CHECK(readable(caio_pool_wake_fd(h), 0));
	CHECK_EQ(consume_wake(h), 1);
	CHECK_EQ(record(&r, out, caio_pool_reap(h, out, 1)), 1);
	CHECK(readable(caio_pool_wake_fd(h), 0));
	CHECK_EQ(consume_wake(h), 1);
	CHECK_EQ(record(&r, out, caio_pool_reap(h, out, CAP)), 19);
	CHECK(!readable(caio_pool_wake_fd(h), 0));
	for (uint32_t ud = 1; ud <= 40; ud += 2) {
		CHECK_EQ(r.seen[ud], 1);
		CHECK_EQ(r.res[ud], -ECANCELED);
	}
	CHECK_EQ(cancel_one(h, 1), 1);
	expect_idle(h);

	/* One byte for each surviving read, then release the worker. */
	write_all(a[1], "abcdefghijklmnopqrst", 20);
	drain(p[0], big, big_len);
	collect(h, &r, 41);
	CHECK_EQ(r.seen[0], 1);
	CHECK_EQ(r.res[0], (int32_t)big_len);
	for (uint32_t ud = 2; ud <= 40; ud += 2) {
		CHECK_EQ(r.seen[ud], 1);
		CHECK_EQ(r.res[ud], 1);
		/* One worker takes the queue in order, cancelled holes and all. */
		CHECK_EQ(bytes[ud], 'a' + (int)(ud / 2 - 1));
	}
	rc = caio_pool_reap(h, out, CAP);
	CHECK_EQ(rc, 0);
	/* ... and is back to what it inherited once the op is over. */
	CHECK_EQ(thread_ioprio(worker), inherited_ioprio());
	CHECK_EQ(caio_pool_close(h), 0);
	close(a[0]);
	close(a[1]);
	close(p[0]);
	close(p[1]);
	free(big);
}

static double elapsed_ms(const struct timespec *since)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - since->tv_sec) * 1e3 + (double)(now.tv_nsec - since->tv_nsec) / 1e6;
}

/*
 * 65,535 queued ops cancelled in one call behind a blocked worker, in queue order
 * (the worst order for closing each gap): O(1) per cancel, so far below the bound,
 * where shifting the queue per cancel takes seconds. Each completes once, -ECANCELED.
 */
static void check_cancel_many(void)
{
	enum { N = 65535, BOUND_MS = 500 };
	static struct caio_op ops[N];
	static uint32_t slots[N];
	static struct caio_done out[N + 1];
	static uint8_t seen[N + 1];
	static char bytes[N + 1];
	struct pool_backend *b;
	struct timespec start;
	struct results r = { 0 };
	double submit_ms, cancel_ms;
	void *h = open_backend(N + 1, 1);
	size_t big_len;
	uint8_t *big;
	int p[2], a[2], n;

	b = h;
	big = block_worker(h, p, 0, 0, &big_len);
	CHECK_EQ(pipe2(a, O_CLOEXEC), 0);
	for (uint32_t i = 0; i < N; i++) {
		ops[i] = OP(CAIO_OP_READ, a[0], &bytes[i + 1], 1, 0, i + 1);
		slots[i] = i + 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &start);
	CHECK_EQ(caio_pool_submit(h, ops, N), N);
	submit_ms = elapsed_ms(&start);
	clock_gettime(CLOCK_MONOTONIC, &start);
	CHECK_EQ(caio_pool_cancel(h, slots, N), N);
	cancel_ms = elapsed_ms(&start);
	printf("pool_check: %d queued ops submitted in %.1f ms, cancelled in one call in %.1f ms\n", N, submit_ms, cancel_ms);
	CHECK(cancel_ms < BOUND_MS);
	/* The last live entry gone, the tombstones went with it. */
	CHECK_EQ(b->pool.queued, 0);
	CHECK_EQ(b->pool.queue_len, 0);

	CHECK_EQ(consume_wake(h), 1);
	n = caio_pool_reap(h, out, N + 1);
	CHECK_EQ(n, N);
	for (int i = 0; i < n; i++) {
		CHECK(out[i].user_data >= 1 && out[i].user_data <= N);
		CHECK_EQ(seen[out[i].user_data]++, 0);
		CHECK_EQ(out[i].res, -ECANCELED);
	}
	drain(p[0], big, big_len);
	collect(h, &r, 1);
	CHECK_EQ(r.res[0], (int32_t)big_len);
	expect_idle(h);
	CHECK_EQ(caio_pool_close(h), 0);
	close(a[0]);
	close(a[1]);
	close(p[0]);
	close(p[1]);
	free(big);
}

/* What a pipe holds right now (its write end stays open): reads without blocking. */
static size_t pipe_contents(int fd, char *buf, size_t cap)
{
	size_t got = 0;
	ssize_t n;

	CHECK_EQ(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
	while (got < cap && (n = read(fd, buf + got, cap - got)) > 0)
		got += (size_t)n;
	CHECK(got < cap);
	CHECK(read(fd, buf, 1) < 0 && errno == EAGAIN);
	return got;
}

/*
 * A cancelled op's tombstone stays in the queue while its slot is reaped and reused
 * behind it: the new op runs once, in its own place in the queue, and the cancelled
 * one never runs. Each op writes one letter to a pipe, so the pipe shows what ran, how
 * often, and in what order.
 */
static void check_tombstone_reuse(void)
{
	void *h = open_backend(CAP, 1);
	struct pool_backend *b = h;
	struct caio_op ops[3];
	struct caio_done out[4];
	struct results cancelled = { 0 }, r = { 0 };
	char got[16];
	uint8_t *big;
	size_t big_len;
	int p[2], q[2];

	big = block_worker(h, p, 0, 0, &big_len);
	CHECK_EQ(pipe2(q, O_CLOEXEC), 0);
	ops[0] = OP(CAIO_OP_WRITE, q[1], "a", 1, 0, 4);
	ops[1] = OP(CAIO_OP_WRITE, q[1], "X", 1, 0, 5);
	ops[2] = OP(CAIO_OP_WRITE, q[1], "b", 1, 0, 6);
	CHECK_EQ(caio_pool_submit(h, ops, 3), 3);
	CHECK_EQ(cancel_one(h, 5), 1);
	CHECK_EQ(record(&cancelled, out, caio_pool_reap(h, out, 4)), 1);
	CHECK_EQ(cancelled.res[5], -ECANCELED);
	/* Slot 5 is free again while its tombstone still sits between "a" and "b". */
	CHECK_EQ(b->pool.queue_len, 3);
	CHECK_EQ(b->pool.queued, 2);
	ops[0] = OP(CAIO_OP_WRITE, q[1], "Y", 1, 0, 5);
	CHECK_EQ(caio_pool_submit(h, ops, 1), 1);
	CHECK_EQ(b->pool.queue_len, 4);

	drain(p[0], big, big_len);
	collect(h, &r, 4);
	CHECK_EQ(r.res[0], (int32_t)big_len);
	CHECK_EQ(r.res[4], 1);
	CHECK_EQ(r.res[5], 1);
	CHECK_EQ(r.res[6], 1);
	expect_idle(h);
	CHECK_EQ(pipe_contents(q[0], got, sizeof(got)), 3);
	CHECK(memcmp(got, "abY", 3) == 0);
	CHECK_EQ(caio_pool_close(h), 0);
	close(q[0]);
	close(q[1]);
	close(p[0]);
	close(p[1]);
	free(big);
}

/*
 * Rounds of cancel, reap and resubmit behind a blocked worker fill a small pool's
 * ring (2 x capacity entries) with tombstones until submits must compact it. The
 * queue order survives: the pipe receives exactly the live ops' letters, in the
 * order they were queued.
 */
static void check_compaction_order(void)
{
	enum { POOL_CAP = 8, ROUNDS = 12 };
	static char letters[POOL_CAP * (ROUNDS + 1)];
	void *h = open_backend(POOL_CAP, 1);
	struct pool_backend *b = h;
	struct caio_op ops[POOL_CAP];
	struct caio_done out[POOL_CAP];
	struct results r = { 0 };
	uint32_t live[POOL_CAP], nlive = 0, next = 0, compactions = 0, cancel[POOL_CAP];
	char want[sizeof(letters)], got[sizeof(letters) + 1];
	size_t nwant = 0;
	uint8_t *big;
	size_t big_len;
	int p[2], q[2];

	for (size_t i = 0; i < sizeof(letters); i++)
		letters[i] = (char)('!' + i);
	big = block_worker(h, p, 0, 0, &big_len);
	CHECK_EQ(pipe2(q, O_CLOEXEC), 0);
	/* live[] is the model of the queue: the slots in FIFO order; slot s carries letter ops[s-1]. */
	for (uint32_t slot = 1; slot < POOL_CAP; slot++) {
		ops[slot] = OP(CAIO_OP_WRITE, q[1], &letters[next++], 1, 0, slot);
		CHECK_EQ(caio_pool_submit(h, &ops[slot], 1), 1);
		live[nlive++] = slot;
	}
	for (uint32_t round = 0; round < ROUNDS; round++) {
		/* Cancel every live op but the (round % nlive)-th, then queue those slots again. */
		uint32_t keep = live[round % nlive], n = 0, len_before;
		struct caio_op again[POOL_CAP];

		for (uint32_t i = 0; i < nlive; i++) {
			if (live[i] != keep)
				cancel[n++] = live[i];
		}
		CHECK_EQ(caio_pool_cancel(h, cancel, n), n);
		CHECK_EQ(caio_pool_reap(h, out, POOL_CAP), n);
		live[0] = keep;
		nlive = 1;
		for (uint32_t i = 0; i < n; i++) {
			again[i] = OP(CAIO_OP_WRITE, q[1], &letters[next++], 1, 0, cancel[i]);
			live[nlive++] = cancel[i];
		}
		len_before = b->pool.queue_len;
		CHECK_EQ(caio_pool_submit(h, again, n), n);
		if (b->pool.queue_len < len_before + n)
			compactions++;
		CHECK(b->pool.queue_len <= 2 * POOL_CAP);
		for (uint32_t i = 0; i < n; i++)
			ops[cancel[i]] = again[i];
	}
	printf("pool_check: %u compactions in %u rounds of cancel and resubmit\n", compactions, ROUNDS);
	CHECK(compactions >= 2);
	for (uint32_t i = 0; i < nlive; i++)
		want[nwant++] = *(const char *)(uintptr_t)ops[live[i]].buf;

	drain(p[0], big, big_len);
	collect(h, &r, 1 + nlive);
	expect_idle(h);
	CHECK_EQ(pipe_contents(q[0], got, sizeof(got)), nwant);
	CHECK(memcmp(got, want, nwant) == 0);
	CHECK_EQ(caio_pool_close(h), 0);
	close(q[0]);
	close(q[1]);
	close(p[0]);
	close(p[1]);
	free(big);
}

/*
 * A worker whose wake-up send fails for want of memory (ENOBUFS) retries it after a
 * short sleep instead of dropping it: the only wake-up for this completion arrives.
 */
static void check_wake_retry(void)
{
	static uint8_t data[512];
	struct caio_op op;
	struct results r = { 0 };
	struct caio_done out[2];
	void *h = open_backend(CAP, 1);
	int fd = temp_file(NULL);

	__atomic_store_n(&send_failures, 3, __ATOMIC_RELAXED);
	op = OP(CAIO_OP_WRITE, fd, data, sizeof(data), 0, 0);
	CHECK_EQ(caio_pool_submit(h, &op, 1), 1);
	if (!take_wake(h, 5000)) {
		fprintf(stderr, CHECK_NAME ": the wake-up was dropped after ENOBUFS\n");
		exit(1);
	}
	CHECK_EQ(__atomic_load_n(&send_failures, __ATOMIC_RELAXED), 0);
	CHECK_EQ(record(&r, out, caio_pool_reap(h, out, 2)), 1);
	CHECK_EQ(r.res[0], (int32_t)sizeof(data));
	CHECK_EQ(caio_pool_close(h), 0);

	/* A send that keeps failing does not hold up close: nobody reads the socket any more. */
	h = open_backend(CAP, 1);
	__atomic_store_n(&send_failures, INT_MAX, __ATOMIC_RELAXED);
	CHECK_EQ(caio_pool_submit(h, &op, 1), 1);
	CHECK_EQ(caio_pool_close(h), 0);
	__atomic_store_n(&send_failures, 0, __ATOMIC_RELAXED);
	close(fd);
}

struct drainer {
	struct pool_backend *pool;
	int fd;
	const uint8_t *expect;
	size_t len;
};

/*
 * Waits (on the pool's own condition variable, which close broadcasts) until close
 * has begun, and only then unblocks the worker: close must be waiting for queued work.
 */
static void *drain_after_close_starts(void *arg)
{
	struct drainer *d = arg;

	pthread_mutex_lock(&d->pool->pool.lock);
	while (!d->pool->pool.stopping)
		pthread_cond_wait(&d->pool->pool.work, &d->pool->pool.lock);
	pthread_mutex_unlock(&d->pool->pool.lock);
	drain(d->fd, d->expect, d->len);
	return NULL;
}

static void check_close_waits(void)
{
	static uint8_t chunks[10][512], back[10 * 512];
	void *h = open_backend(CAP, 1);
	struct caio_op ops[10];
	struct drainer d;
	pthread_t thread;
	size_t big_len;
	uint8_t *big;
	int p[2], fd = temp_file(NULL);

	big = block_worker(h, p, 0, 0, &big_len);
	for (uint32_t i = 0; i < 10; i++) {
		fill(chunks[i], sizeof(chunks[i]), 100 + i);
		ops[i] = OP(CAIO_OP_WRITE, fd, chunks[i], sizeof(chunks[i]), i * 512, i + 1);
	}
	CHECK_EQ(caio_pool_submit(h, ops, 10), 10);
	d = (struct drainer){ .pool = h, .fd = p[0], .expect = big, .len = big_len };
	CHECK_EQ(pthread_create(&thread, NULL, drain_after_close_starts, &d), 0);
	CHECK_EQ(caio_pool_close(h), 0);
	CHECK_EQ(pthread_join(thread, NULL), 0);
	CHECK_EQ(pread(fd, back, sizeof(back), 0), (ssize_t)sizeof(back));
	for (uint32_t i = 0; i < 10; i++)
		CHECK(memcmp(back + i * 512, chunks[i], 512) == 0);
	close(fd);
	close(p[0]);
	close(p[1]);
	free(big);
}

/* Many small batches waited for only through the wake socket: a lost wake-up hangs here. */
static void check_wake_stress(void *h, uint32_t rounds)
{
	static uint8_t file[CAP * 64], got[CAP][64];
	struct caio_op ops[CAP];
	struct results r;
	int fd = temp_file(NULL);

	fill(file, sizeof(file), 5);
	write_all(fd, file, sizeof(file));
	for (uint32_t round = 0; round < rounds; round++) {
		uint32_t n = 1 + (round * 37) % CAP;

		for (uint32_t i = 0; i < n; i++) {
			uint32_t at = (round + i * 13) % CAP;
			ops[i] = OP(CAIO_OP_READ, fd, got[i], 64, at * 64, i);
		}
		run_batch(h, ops, n, &r);
		for (uint32_t i = 0; i < n; i++) {
			CHECK_EQ(r.res[i], 64);
			CHECK(memcmp(got[i], file + ops[i].offset, 64) == 0);
		}
	}
	close(fd);
}

int main(void)
{
	struct caio_info info;
	void *h;

	check_open_arguments();
	h = open_backend(CAP, 2);
	info = info_of(h);
	CHECK_EQ(info.features, 2);
	CHECK_EQ(info.capacity, CAP);
	check_file_io(h);
	check_vectored(h);
	check_native_holds(h);
	check_errors(h);
	check_pipes(h);
	check_wake_stress(h, 2000);
	info = info_of(h);
	/* One per accepted batch: 3 (file) + 2 (vectored) + 1 (native holds) + 2 (errors) + 6 (pipes) + 2000 (stress). */
	CHECK_EQ(info.submit_calls, 2014);
	check_file_ops(h);
	CHECK_EQ(caio_pool_close(h), 0);
	check_cancel();
	check_cancel_many();
	check_tombstone_reuse();
	check_compaction_order();
	check_wake_retry();
	check_close_waits();
	puts("pool_check: ok");
	return 0;
}
