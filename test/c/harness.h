/*
 * What the native checks share: assertions, completion bookkeeping, the wake
 * socket wait, and the checks that every backend has to pass in the same way. A program
 * includes its backend's .c file first (for _GNU_SOURCE and the caio_X_*
 * functions), then defines these and includes this file:
 *
 *   CHECK_NAME      "X_check": starts each printed line and names temp files
 *   BACKEND(fn)     caio_X_##fn: the backend's exported functions
 *   RESULTS_CAP     optional: largest user_data + 1 the checks use (CAP)
 *   REAP_MAX        optional: completions one reap may hand out (CAP)
 *   SUBMITS_WHOLE   optional: 1 if every valid batch must be taken by one submit call
 *   KERNEL_BACKEND  optional: also compile the checks for backends that hand ops
 *                   to the kernel (aio, uring), which also need
 *     BAD_PRIO_TAKEN(h)  how much of 4 writes, the second with PRIO_BAD, the
 *                        first submit takes
 *     BAD_FD_SUBMITS     optional: submit calls for 4 ops, 2 with bad fds
 *
 * The name is not *_check.c, so test/native.test.ts does not build this file by itself.
 */
#ifndef CAIO_TEST_HARNESS_H
#define CAIO_TEST_HARNESS_H

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#define CAP 64
#define WAIT_MS 30000
/* A priority class the kernel does not know (7). */
#define PRIO_BAD (7 << 13)
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#ifndef RESULTS_CAP
#define RESULTS_CAP CAP
#endif
#ifndef REAP_MAX
#define REAP_MAX CAP
#endif
#ifndef SUBMITS_WHOLE
#define SUBMITS_WHOLE 0
#endif

/* file:line, since a failed check may be in this file or in the program. */
#define CHECK(cond) check((cond), __FILE__, __LINE__, #cond)
#define CHECK_EQ(a, b) check_eq((long long)(a), (long long)(b), __FILE__, __LINE__, #a " == " #b)

static void check(bool ok, const char *file, int line, const char *what)
{
	if (ok)
		return;
	fprintf(stderr, CHECK_NAME ": %s:%d: %s failed\n", file, line, what);
	exit(1);
}

static void check_eq(long long a, long long b, const char *file, int line, const char *what)
{
	if (a == b)
		return;
	fprintf(stderr, CHECK_NAME ": %s:%d: %s failed (%lld != %lld)\n", file, line, what, a, b);
	exit(1);
}

/* Every completion seen so far, by slot; a second completion of a slot fails at once. */
struct results {
	int32_t res[RESULTS_CAP];
	uint32_t seen[RESULTS_CAP];
	uint32_t total;
};

static uint32_t waits; /* times a reap found nothing and the wake socket had to be waited for */

/* One staged operation; b is a pointer (or iovec array), 0 for fsync. */
#define OP(opc, f, b, n, off, ud)                                                                        \
	((struct caio_op){ .buf = (uint64_t)(uintptr_t)(b), .offset = (off), .len = (n), .fd = (f),       \
			   .user_data = (ud), .opcode = (opc) })

static void *open_backend(uint32_t capacity, uint32_t option)
{
	void *h = NULL;

	CHECK_EQ(BACKEND(open)(capacity, option, &h), 0);
	CHECK(h != NULL);
	return h;
}

static struct caio_info info_of(void *h)
{
	struct caio_info info;

	CHECK_EQ(BACKEND(info)(h, &info), 0);
	return info;
}

/* Capacities out of range are refused, and no handle is handed out. */
static void check_open_bounds(void)
{
	void *h = NULL;

	CHECK_EQ(BACKEND(open)(0, 0, &h), -EINVAL);
	CHECK_EQ(BACKEND(open)(65537, 0, &h), -EINVAL);
	CHECK(h == NULL);
}

static bool readable(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int ret;

	do
		ret = poll(&p, 1, ms);
	while (ret < 0 && errno == EINTR);
	CHECK(ret >= 0);
	return ret == 1;
}

/*
 * Reads every byte waiting on the wake socket (one per wake-up; see c/wake.h). The
 * checks own the socket once they asked for it and leave it to process exit.
 */
static size_t consume_wake(void *h)
{
	char bytes[256];
	int fd = BACKEND(wake_fd)(h);
	size_t total = 0;
	ssize_t n;

	do {
		CHECK((n = read(fd, bytes, sizeof(bytes))) > 0);
		total += (size_t)n;
	} while (readable(fd, 0));
	return total;
}

/* Consumes the waiting wake-ups if the socket becomes readable within `ms`; false if it does not. */
static bool take_wake(void *h, int ms)
{
	if (!readable(BACKEND(wake_fd)(h), ms))
		return false;
	consume_wake(h);
	return true;
}

static void wait_wake(void *h)
{
	if (!take_wake(h, WAIT_MS)) {
		fprintf(stderr, CHECK_NAME ": no wake-up within %d ms (lost wake-up?)\n", WAIT_MS);
		exit(1);
	}
	waits++;
}

static uint32_t record(struct results *r, const struct caio_done *out, int n)
{
	CHECK(n >= 0);
	for (int i = 0; i < n; i++) {
		CHECK(out[i].user_data < RESULTS_CAP);
		CHECK_EQ(r->seen[out[i].user_data], 0);
		r->seen[out[i].user_data]++;
		r->res[out[i].user_data] = out[i].res;
	}
	r->total += (uint32_t)n;
	return (uint32_t)n;
}

/* Reaps until `want` completions have arrived in total, blocking on the wake socket in between. */
static void collect(void *h, struct results *r, uint32_t want)
{
	static struct caio_done out[REAP_MAX];

	while (r->total < want) {
		if (record(r, out, BACKEND(reap)(h, out, REAP_MAX)) == 0)
			wait_wake(h);
	}
	CHECK_EQ(r->total, want);
}

/* Cancels the op in one slot; returns what cancel returned (1: taken). */
static int cancel_one(void *h, uint32_t slot)
{
	return BACKEND(cancel)(h, &slot, 1);
}

/*
 * A cancel batch longer than the capacity, or naming a slot out of range, is
 * refused whole; an empty one takes nothing. None of them completes anything.
 */
static void check_cancel_refusals(void *h)
{
	static uint32_t slots[CAP + 1];
	struct caio_done out[4];

	for (uint32_t i = 0; i <= CAP; i++)
		slots[i] = i % CAP;
	CHECK_EQ(BACKEND(cancel)(h, slots, CAP + 1), -EINVAL);
	slots[1] = CAP;
	CHECK_EQ(BACKEND(cancel)(h, slots, 2), -EINVAL);
	CHECK_EQ(BACKEND(cancel)(h, slots, 0), 0);
	CHECK_EQ(BACKEND(reap)(h, out, 4), 0);
}

/* Nothing more to reap: no duplicate, no phantom (e.g. from a cancellation). */
static void expect_idle(void *h)
{
	struct caio_done out[8];

	CHECK_EQ(BACKEND(reap)(h, out, 8), 0);
}

/*
 * Offers ops[0..n) until all are consumed, the rest again after a partial count as
 * JavaScript does, and collects exactly one completion per op into a fresh *r.
 * Returns what the first submit call consumed.
 */
static uint32_t run_batch(void *h, const struct caio_op *ops, uint32_t n, struct results *r)
{
	int first = BACKEND(submit)(h, ops, n), rc = first;

	if (SUBMITS_WHOLE)
		CHECK_EQ(first, n);
	memset(r, 0, sizeof(*r));
	for (uint32_t done = 0;; rc = BACKEND(submit)(h, ops + done, n - done)) {
		CHECK(rc > 0);
		if ((done += (uint32_t)rc) == n)
			break;
	}
	collect(h, r, n);
	for (uint32_t i = 0; i < n; i++)
		CHECK_EQ(r->seen[ops[i].user_data], 1);
	expect_idle(h);
	return (uint32_t)first;
}

/*
 * A new file in the cwd (O_DIRECT needs a real filesystem, which /tmp may not be);
 * unlinked at once unless path[] is given to keep its name.
 */
static int temp_file(char path[64])
{
	char name[64] = CHECK_NAME ".XXXXXX";
	int fd = mkostemp(name, O_CLOEXEC);

	CHECK(fd >= 0);
	if (path)
		memcpy(path, name, sizeof(name));
	else
		CHECK_EQ(unlink(name), 0);
	return fd;
}

static void fill(uint8_t *buf, size_t len, uint32_t seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(seed * 131 + i * 7 + (i >> 8));
}

static void check_vectored(void *h)
{
	static uint8_t middle[5000], got[5006];
	struct iovec out_iov[3] = { { "abc", 3 }, { middle, sizeof(middle) }, { "xyz", 3 } };
	struct iovec in_iov[2] = { { got, 1000 }, { got + 1000, sizeof(got) - 1000 } };
	struct caio_op op;
	struct results r;
	int fd = temp_file(NULL);

	fill(middle, sizeof(middle), 9);
	op = OP(CAIO_OP_WRITEV, fd, out_iov, 3, 100000, 5);
	run_batch(h, &op, 1, &r);
	CHECK_EQ(r.res[5], 5006);
	op = OP(CAIO_OP_READV, fd, in_iov, 2, 100000, 6);
	run_batch(h, &op, 1, &r);
	CHECK_EQ(r.res[6], 5006);
	CHECK(memcmp(got, "abc", 3) == 0);
	CHECK(memcmp(got + 3, middle, sizeof(middle)) == 0);
	CHECK(memcmp(got + 5003, "xyz", 3) == 0);
	close(fd);
}

#define NATIVE_BLK 4096

static struct caio_mem_info mem_info(void)
{
	struct caio_mem_info info;

	CHECK_EQ(caio_mem_info(&info), 0);
	return info;
}

/*
 * Ops flagged CAIO_OP_F_NATIVE (c/memory.h): the backend holds the block from submit
 * until the completion, so a block JavaScript drops meanwhile stays until then and
 * goes with it; a flagged op whose memory is not one caio block completes with
 * -EFAULT and never runs.
 */
static void check_native_holds(void *h)
{
	static uint8_t data[NATIVE_BLK], local[64];
	struct caio_mem_out m;
	struct caio_mem_info before = mem_info(), info;
	struct caio_op ops[3];
	struct results r;
	int fd = temp_file(NULL);
	int rc;

	fill(data, NATIVE_BLK, 99);
	CHECK_EQ(pwrite(fd, data, NATIVE_BLK, 0), NATIVE_BLK);
	CHECK_EQ(caio_mem_alloc(NATIVE_BLK, NATIVE_BLK, CAIO_MEM_ZERO, &m), 0);
	ops[0] = OP(CAIO_OP_READ | CAIO_OP_F_NATIVE, fd, (uintptr_t)m.bytes, NATIVE_BLK, 0, 40);
	ops[1] = OP(CAIO_OP_READ | CAIO_OP_F_NATIVE, fd, local, sizeof(local), 0, 41);
	/* Runs past the block's end. */
	ops[2] = OP(CAIO_OP_READ | CAIO_OP_F_NATIVE, fd, (uintptr_t)(m.bytes + NATIVE_BLK - 16), 32, 0, 42);
	memset(&r, 0, sizeof(r));
	for (uint32_t done = 0; done < 3; done += (uint32_t)rc) {
		rc = BACKEND(submit)(h, ops + done, 3 - done);
		CHECK(rc > 0);
	}
	/* JavaScript lets go while the read is in flight: the backend's hold keeps the bytes. */
	CHECK_EQ(caio_mem_drop((struct caio_mem_block *)(uintptr_t)m.handle), 0);
	info = mem_info();
	CHECK_EQ(info.blocks, before.blocks + 1);
	collect(h, &r, 3);
	expect_idle(h);
	CHECK_EQ(r.res[40], NATIVE_BLK);
	CHECK_EQ(r.res[41], -EFAULT);
	CHECK_EQ(r.res[42], -EFAULT);
	info = mem_info();
	CHECK_EQ(info.holds, before.holds);
	CHECK_EQ(info.blocks, before.blocks);
	/* The ArrayBuffer's deallocator, which would run last; it frees the header. */
	js_release((void *)(uintptr_t)m.bytes, (void *)(uintptr_t)m.handle);
	CHECK_EQ(mem_info().wrapped, before.wrapped);
	close(fd);
}

#ifdef KERNEL_BACKEND

#define BLK 4096

static uint64_t submit_calls(void *h)
{
	return info_of(h).submit_calls;
}

static void *aligned(size_t len)
{
	void *p = NULL;

	CHECK_EQ(posix_memalign(&p, BLK, len), 0);
	memset(p, 0, len);
	return p;
}

/*
 * A file of `len` known bytes (*data, to free), reopened with O_DIRECT; where the
 * filesystem refuses O_DIRECT (EINVAL), says so once and returns a buffered fd.
 */
static int direct_file(size_t len, uint8_t **data)
{
	static bool said;
	char path[64];
	int fd = temp_file(path), dfd;

	*data = malloc(len);
	CHECK(*data != NULL);
	fill(*data, len, (uint32_t)len);
	CHECK_EQ(write(fd, *data, len), (ssize_t)len);
	CHECK_EQ(fsync(fd), 0);
	dfd = open(path, O_RDONLY | O_DIRECT | O_CLOEXEC);
	if (dfd < 0) {
		CHECK_EQ(errno, EINVAL);
		if (!said)
			printf(CHECK_NAME ": O_DIRECT unsupported here (EINVAL): O_DIRECT part skipped, read buffered\n");
		said = true;
		dfd = dup(fd);
	}
	CHECK_EQ(unlink(path), 0);
	close(fd);
	return dfd;
}

/* A kernel (or sandbox) without the interface is a skip, not a failure: ends the program. */
static void *open_or_skip(const char *interface)
{
	void *h = NULL;
	int rc = BACKEND(open)(CAP, 0, &h);

	if (rc == -EPERM || rc == -ENOSYS) {
		printf(CHECK_NAME ": ok (skipped: %s unavailable: %s)\n", interface, strerror(-rc));
		exit(0);
	}
	CHECK_EQ(rc, 0);
	return h;
}

static void watchdog(int sig)
{
	static const char msg[] = CHECK_NAME ": stuck for 45 s\n";

	(void)sig;
	(void)!write(2, msg, sizeof(msg) - 1);
	_exit(1);
}

/* A hang outside poll (close, submit) fails too instead of stalling the suite. */
static void start_watchdog(void)
{
	signal(SIGALRM, watchdog);
	alarm(45);
}

/* Each step must reach the kernel: a step that never submits would prove nothing. */
static void run_steps(void *h, void (*const steps[])(void *), size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t calls = submit_calls(h);

		steps[i](h);
		CHECK(submit_calls(h) > calls);
	}
}

static void check_file_io(void *h)
{
	static uint8_t data[8][BLK], back[9][BLK], disk[8 * BLK];
	struct caio_op ops[9];
	struct results r;
	int fd = temp_file(NULL);

	for (uint32_t i = 0; i < 8; i++) {
		fill(data[i], BLK, i);
		ops[i] = OP(CAIO_OP_WRITE, fd, data[i], BLK, i * BLK, 7 - i);
	}
	run_batch(h, ops, 8, &r);
	for (uint32_t i = 0; i < 8; i++)
		CHECK_EQ(r.res[i], BLK);
	CHECK_EQ(pread(fd, disk, sizeof(disk), 0), (ssize_t)sizeof(disk));
	CHECK(memcmp(disk, data, sizeof(disk)) == 0);

	ops[0] = OP(CAIO_OP_FSYNC, fd, NULL, 0, 0, 10);
	ops[1] = OP(CAIO_OP_FDSYNC, fd, NULL, 0, 0, 11);
	run_batch(h, ops, 2, &r);
	CHECK_EQ(r.res[10], 0);
	CHECK_EQ(r.res[11], 0);

	for (uint32_t i = 0; i < 8; i++)
		ops[i] = OP(CAIO_OP_READ, fd, back[i], BLK, i * BLK, 20 + i);
	/* Past the end: 0 bytes, not an error. */
	ops[8] = OP(CAIO_OP_READ, fd, back[8], 16, 8 * BLK, 30);
	run_batch(h, ops, 9, &r);
	for (uint32_t i = 0; i < 8; i++) {
		CHECK_EQ(r.res[20 + i], BLK);
		CHECK(memcmp(back[i], data[i], BLK) == 0);
	}
	CHECK_EQ(r.res[30], 0);
	close(fd);
}

static void check_errors(void *h)
{
	static uint8_t buf[4][512];
	struct caio_op ops[CAP + 1];
	struct caio_done out[4];
	struct results r;
	int fd = temp_file(NULL), closed = open("/dev/null", O_RDONLY | O_CLOEXEC);
	uint64_t calls;

	CHECK(closed >= 0);
	close(closed);
	/* Bad descriptors in the middle and at the end; the rest of the batch still runs. */
	calls = submit_calls(h);
	ops[0] = OP(CAIO_OP_WRITE, fd, "first", 5, 0, 0);
	ops[1] = OP(CAIO_OP_READ, closed, buf[0], 512, 0, 1);
	ops[2] = OP(CAIO_OP_WRITE, fd, "second", 6, 5, 2);
	ops[3] = OP(CAIO_OP_FSYNC, -1, NULL, 0, 0, 3);
	run_batch(h, ops, 4, &r);
	CHECK_EQ(r.res[0], 5);
	CHECK_EQ(r.res[1], -EBADF);
	CHECK_EQ(r.res[2], 6);
	CHECK_EQ(r.res[3], -EBADF);
#ifdef BAD_FD_SUBMITS
	CHECK_EQ(submit_calls(h) - calls, BAD_FD_SUBMITS);
#endif
	CHECK_EQ(pread(fd, buf[1], 16, 0), 11);
	CHECK(memcmp(buf[1], "firstsecond", 11) == 0);

	/* A priority the kernel refuses fails that op alone. */
	ops[0] = OP(CAIO_OP_WRITE, fd, "A", 1, 0, 0);
	ops[1] = OP(CAIO_OP_WRITE, fd, "B", 1, 1, 1);
	ops[1].ioprio = PRIO_BAD;
	ops[2] = OP(CAIO_OP_WRITE, fd, "C", 1, 2, 2);
	ops[3] = OP(CAIO_OP_WRITE, fd, "D", 1, 3, 3);
	CHECK_EQ(run_batch(h, ops, 4, &r), BAD_PRIO_TAKEN(h));
	CHECK_EQ(r.res[0], 1);
	CHECK_EQ(r.res[1], -EINVAL);
	CHECK_EQ(r.res[2], 1);
	CHECK_EQ(r.res[3], 1);
	CHECK_EQ(pread(fd, buf[2], 4, 0), 4);
	CHECK(memcmp(buf[2], "AiCD", 4) == 0);

	/* Rejected batches consume nothing: no syscall, no completion. */
	calls = submit_calls(h);
	ops[0] = OP(CAIO_OP_READ, fd, buf[0], 1, 0, 0);
	ops[1] = OP(CAIO_OP_READ, fd, buf[1], 1, 0, CAP);
	CHECK_EQ(BACKEND(submit)(h, ops, 2), -EINVAL);
	ops[1] = OP(CAIO_OP_MAX + 1, fd, buf[1], 1, 0, 1);
	CHECK_EQ(BACKEND(submit)(h, ops, 2), -EINVAL);
	for (uint32_t i = 0; i <= CAP; i++)
		ops[i] = OP(CAIO_OP_READ, fd, buf[0], 1, 0, i % CAP);
	CHECK_EQ(BACKEND(submit)(h, ops, CAP + 1), -EINVAL);
	CHECK_EQ(BACKEND(submit)(h, ops, 0), 0);
	check_cancel_refusals(h);
	CHECK_EQ(submit_calls(h), calls);
	CHECK_EQ(BACKEND(reap)(h, out, 4), 0);
	close(fd);
}

/* O_DIRECT reads complete after submit returns: waited for through the wake socket. */
static void check_direct(void *h)
{
	enum { N = 32 };
	struct iovec iov[2];
	struct caio_op ops[N + 1];
	struct results r;
	uint8_t *data, *buf = aligned((N + 2) * BLK);
	int fd = direct_file(N * BLK, &data);

	for (uint32_t i = 0; i < N; i++)
		ops[i] = OP(CAIO_OP_READ, fd, buf + i * BLK, BLK, (N - 1 - i) * BLK, i);
	iov[0] = (struct iovec){ .iov_base = buf + N * BLK, .iov_len = BLK };
	iov[1] = (struct iovec){ .iov_base = buf + (N + 1) * BLK, .iov_len = BLK };
	ops[N] = OP(CAIO_OP_READV, fd, iov, 2, 3 * BLK, N);
	run_batch(h, ops, N + 1, &r);
	for (uint32_t i = 0; i < N; i++) {
		CHECK_EQ(r.res[i], BLK);
		CHECK(memcmp(buf + i * BLK, data + (N - 1 - i) * BLK, BLK) == 0);
	}
	CHECK_EQ(r.res[N], 2 * BLK);
	CHECK(memcmp(buf + N * BLK, data + 3 * BLK, 2 * BLK) == 0);
	close(fd);
	free(buf);
	free(data);
}

/* Close with reads in flight and nothing reaped: it must wait, so the buffers are full after it. */
static void check_close_in_flight(uint32_t option)
{
	enum { N = 16, LEN = 64 * 1024 };
	struct caio_op ops[N];
	void *h = open_backend(CAP, option);
	uint8_t *data, *buf = aligned(N * LEN);
	int fd = direct_file(N * LEN, &data);

	for (uint32_t i = 0; i < N; i++)
		ops[i] = OP(CAIO_OP_READ, fd, buf + i * LEN, LEN, i * LEN, i);
	CHECK_EQ(BACKEND(submit)(h, ops, N), N);
	CHECK_EQ(BACKEND(close)(h), 0);
	CHECK(memcmp(buf, data, N * LEN) == 0);
	free(buf);
	free(data);
	close(fd);
}

#endif /* KERNEL_BACKEND */

#endif /* CAIO_TEST_HARNESS_H */
