/*
 * Native checks for the io_uring backend (c/uring.c), driven through its seven
 * exported functions the way JavaScript drives them: submit, reap at once, then
 * block on the eventfd (poll) and reap again; no sleeps. A lost wake-up shows as a
 * poll timeout. The checks run once per setup-flag mask: every optional flag tried,
 * DEFER_TASKRUN|SINGLE_ISSUER avoided, and every optional flag avoided. Temporary
 * files are created in the current directory (O_DIRECT needs a real filesystem).
 *
 * From the repository root, with sanitizers:
 *   cc -std=gnu11 -O1 -g -Wall -Wextra -Werror -pthread -fsanitize=address,undefined \
 *      -fno-sanitize-recover=all -fno-omit-frame-pointer test/c/uring_check.c -o /tmp/uring_check &&
 *      (cd "$(mktemp -d)" && /tmp/uring_check)
 * and under valgrind, without them:
 *   cc -std=gnu11 -O1 -g -Wall -Wextra -Werror -pthread test/c/uring_check.c -o /tmp/uring_check_vg &&
 *      (cd "$(mktemp -d)" && valgrind --error-exitcode=1 --leak-check=full /tmp/uring_check_vg)
 */
#include "../../c/uring.c"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/uio.h>

#define CAP 64
#define BIG_CAP 8192
#define BIG_OPS 5000
#define BLK 4096
#define WAIT_MS 30000
/* A priority class the kernel does not know (7): the op fails while the kernel prepares it. */
#define PRIO_BAD (7 << 13)
#define AVOID_DEFER (IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_SINGLE_ISSUER)
#define AVOID_ALL (AVOID_DEFER | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG | IORING_SETUP_SUBMIT_ALL)

#define CHECK(cond) check((cond), __LINE__, #cond)
#define CHECK_EQ(a, b) check_eq((long long)(a), (long long)(b), __LINE__, #a " == " #b)

static void check(bool ok, int line, const char *what)
{
	if (ok)
		return;
	fprintf(stderr, "uring_check: line %d: %s failed\n", line, what);
	exit(1);
}

static void check_eq(long long a, long long b, int line, const char *what)
{
	if (a == b)
		return;
	fprintf(stderr, "uring_check: line %d: %s failed (%lld != %lld)\n", line, what, a, b);
	exit(1);
}

/* Every completion seen so far, by slot; a second completion of a slot fails at once. */
struct results {
	int32_t res[BIG_CAP];
	uint32_t seen[BIG_CAP];
	uint32_t total;
};

static uint32_t waits; /* times a reap found nothing and the eventfd had to be waited for */

/* One staged operation; b is a pointer (or iovec array), 0 for fsync. */
#define OP(opc, f, b, n, off, ud)                                                                        \
	((struct caio_op){ .buf = (uint64_t)(uintptr_t)(b), .offset = (off), .len = (n), .fd = (f),       \
			   .user_data = (ud), .opcode = (opc) })

static void *open_uring(uint32_t capacity, uint32_t option)
{
	void *h = NULL;

	CHECK_EQ(caio_uring_open(capacity, option, &h), 0);
	CHECK(h != NULL);
	return h;
}

static uint64_t submit_calls(void *h)
{
	struct caio_info info;

	CHECK_EQ(caio_uring_info(h, &info), 0);
	return info.submit_calls;
}

/* Consumes the eventfd's count if it becomes readable within `ms`; false if it does not. */
static bool take_wake(void *h, int ms)
{
	struct pollfd p = { .fd = caio_uring_wake_fd(h), .events = POLLIN };
	uint64_t count;
	int ret;

	do
		ret = poll(&p, 1, ms);
	while (ret < 0 && errno == EINTR);
	CHECK(ret >= 0);
	if (ret == 0)
		return false;
	CHECK_EQ(read(p.fd, &count, sizeof(count)), sizeof(count));
	CHECK(count > 0);
	return true;
}

static void wait_wake(void *h)
{
	if (!take_wake(h, WAIT_MS)) {
		fprintf(stderr, "uring_check: no wake-up within %d ms (lost wake-up?)\n", WAIT_MS);
		exit(1);
	}
	waits++;
}

static uint32_t record(struct results *r, const struct caio_done *out, int n)
{
	CHECK(n >= 0);
	for (int i = 0; i < n; i++) {
		CHECK(out[i].user_data < BIG_CAP);
		CHECK_EQ(r->seen[out[i].user_data], 0);
		r->seen[out[i].user_data]++;
		r->res[out[i].user_data] = out[i].res;
	}
	r->total += (uint32_t)n;
	return (uint32_t)n;
}

/* Reaps until `want` completions have arrived in total, blocking on the eventfd in between. */
static void collect(void *h, struct results *r, uint32_t want)
{
	static struct caio_done out[512];

	while (r->total < want) {
		if (record(r, out, caio_uring_reap(h, out, 512)) == 0)
			wait_wake(h);
	}
	CHECK_EQ(r->total, want);
}

/* Nothing more to reap: no duplicate, no phantom (e.g. a cancellation's own CQE). */
static void expect_idle(void *h)
{
	struct caio_done out[8];

	CHECK_EQ(caio_uring_reap(h, out, 8), 0);
}

/*
 * Offers ops[0..n) until all are consumed, the rest again after a partial count as
 * JavaScript does, and collects exactly one completion per op into a fresh *r.
 * Returns what the first submit call consumed.
 */
static uint32_t run_batch(void *h, const struct caio_op *ops, uint32_t n, struct results *r)
{
	int first = caio_uring_submit(h, ops, n), rc = first;

	memset(r, 0, sizeof(*r));
	for (uint32_t done = 0;; rc = caio_uring_submit(h, ops + done, n - done)) {
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

/* A new file in the cwd; unlinked at once unless path[] is given to keep its name. */
static int temp_file(char path[64])
{
	char name[64] = "uring_check.XXXXXX";
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
			printf("uring_check: O_DIRECT unsupported here (EINVAL): O_DIRECT part skipped, read buffered\n");
		said = true;
		dfd = dup(fd);
	}
	CHECK_EQ(unlink(path), 0);
	close(fd);
	return dfd;
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

static void check_errors(void *h)
{
	static uint8_t buf[4][512];
	struct caio_op ops[CAP + 1];
	struct caio_done out[4];
	struct caio_info info;
	struct results r;
	int fd = temp_file(NULL), closed = open("/dev/null", O_RDONLY | O_CLOEXEC);
	uint64_t calls;

	CHECK(closed >= 0);
	close(closed);
	/* Bad descriptors in the middle and at the end; the rest of the batch still runs. */
	ops[0] = OP(CAIO_OP_WRITE, fd, "first", 5, 0, 0);
	ops[1] = OP(CAIO_OP_READ, closed, buf[0], 512, 0, 1);
	ops[2] = OP(CAIO_OP_WRITE, fd, "second", 6, 5, 2);
	ops[3] = OP(CAIO_OP_FSYNC, -1, NULL, 0, 0, 3);
	run_batch(h, ops, 4, &r);
	CHECK_EQ(r.res[0], 5);
	CHECK_EQ(r.res[1], -EBADF);
	CHECK_EQ(r.res[2], 6);
	CHECK_EQ(r.res[3], -EBADF);
	CHECK_EQ(pread(fd, buf[1], 16, 0), 11);
	CHECK(memcmp(buf[1], "firstsecond", 11) == 0);

	/* Failed in prep: without SUBMIT_ALL the kernel stops after it and the tail is taken back. */
	ops[0] = OP(CAIO_OP_WRITE, fd, "A", 1, 0, 0);
	ops[1] = OP(CAIO_OP_WRITE, fd, "B", 1, 1, 1);
	ops[1].ioprio = PRIO_BAD;
	ops[2] = OP(CAIO_OP_WRITE, fd, "C", 1, 2, 2);
	ops[3] = OP(CAIO_OP_WRITE, fd, "D", 1, 3, 3);
	CHECK_EQ(caio_uring_info(h, &info), 0);
	CHECK_EQ(run_batch(h, ops, 4, &r), info.features & IORING_SETUP_SUBMIT_ALL ? 4 : 2);
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
	CHECK_EQ(caio_uring_submit(h, ops, 2), -EINVAL);
	ops[1] = OP(CAIO_OP_MAX + 1, fd, buf[1], 1, 0, 1);
	CHECK_EQ(caio_uring_submit(h, ops, 2), -EINVAL);
	for (uint32_t i = 0; i <= CAP; i++)
		ops[i] = OP(CAIO_OP_READ, fd, buf[0], 1, 0, i % CAP);
	CHECK_EQ(caio_uring_submit(h, ops, CAP + 1), -EINVAL);
	CHECK_EQ(caio_uring_submit(h, ops, 0), 0);
	CHECK_EQ(caio_uring_cancel(h, CAP), -EINVAL);
	CHECK_EQ(submit_calls(h), calls);
	CHECK_EQ(caio_uring_reap(h, out, 4), 0);
	close(fd);
}

/* O_DIRECT reads complete after submit returns: waited for through the eventfd. */
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

/*
 * A pipe read waits forever unless cancelled. As in JavaScript, nothing is reaped
 * after cancel until the eventfd fires. A file read may or may not be past cancelling.
 */
static void check_cancel(void *h)
{
	static char pipe_buf[16];
	struct caio_op op;
	struct caio_done out[4];
	struct results r = { 0 };
	uint8_t *data, *buf = aligned(BLK);
	int p[2], fd = direct_file(BLK, &data);

	CHECK_EQ(pipe2(p, O_CLOEXEC), 0);
	op = OP(CAIO_OP_READ, p[0], pipe_buf, sizeof(pipe_buf), 0, 3);
	CHECK_EQ(caio_uring_submit(h, &op, 1), 1);
	CHECK_EQ(caio_uring_reap(h, out, 4), 0);
	(void)take_wake(h, 0);
	/* 0 means the cancellation request went in, whatever becomes of it. */
	CHECK_EQ(caio_uring_cancel(h, 3), 0);
	wait_wake(h);
	collect(h, &r, 1);
	CHECK(r.res[3] == -ECANCELED || r.res[3] == -EINTR);

	op = OP(CAIO_OP_READ, fd, buf, BLK, 0, 4);
	CHECK_EQ(caio_uring_submit(h, &op, 1), 1);
	CHECK_EQ(caio_uring_cancel(h, 4), 0);
	/* A slot with nothing in flight: the cancellation's own -ENOENT must not surface. */
	CHECK_EQ(caio_uring_cancel(h, 9), 0);
	collect(h, &r, 2);
	CHECK(r.res[4] == BLK || r.res[4] == -ECANCELED || r.res[4] == -EINTR);
	if (r.res[4] == BLK)
		CHECK(memcmp(buf, data, BLK) == 0);
	expect_idle(h);
	close(fd);
	close(p[0]);
	close(p[1]);
	free(buf);
	free(data);
}

/* Close with reads in flight and nothing reaped: it must wait, so the buffers are full after it. */
static void check_close_in_flight(uint32_t option)
{
	enum { N = 16, LEN = 64 * 1024 };
	struct caio_op ops[N];
	void *h = open_uring(CAP, option);
	uint8_t *data, *buf = aligned(N * LEN);
	int fd = direct_file(N * LEN, &data);

	for (uint32_t i = 0; i < N; i++)
		ops[i] = OP(CAIO_OP_READ, fd, buf + i * LEN, LEN, i * LEN, i);
	CHECK_EQ(caio_uring_submit(h, ops, N), N);
	CHECK_EQ(caio_uring_close(h), 0);
	CHECK(memcmp(buf, data, N * LEN) == 0);
	free(buf);
	free(data);
	close(fd);
}

/* More ops than the SQ holds: one submit call consumes them all, SQ-ful by SQ-ful. */
static void check_big_batch(uint32_t option)
{
	static struct caio_op ops[BIG_OPS];
	static uint8_t file[BIG_OPS * 64], got[BIG_OPS][64];
	static struct results r;
	void *h = open_uring(BIG_CAP, option);
	struct caio_info info;
	int fd = temp_file(NULL);

	CHECK_EQ(caio_uring_info(h, &info), 0);
	CHECK_EQ(info.capacity, BIG_CAP);
	CHECK_EQ(((struct uring_backend *)h)->sq.entries, MAX_SQ_ENTRIES);
	fill(file, sizeof(file), 3);
	CHECK_EQ(write(fd, file, sizeof(file)), (ssize_t)sizeof(file));
	memset(got, 0, sizeof(got));
	for (uint32_t i = 0; i < BIG_OPS; i++)
		ops[i] = OP(CAIO_OP_READ, fd, got[i], 64, (uint64_t)(BIG_OPS - 1 - i) * 64, i);
	CHECK_EQ(run_batch(h, ops, BIG_OPS, &r), BIG_OPS);
	for (uint32_t i = 0; i < BIG_OPS; i++) {
		CHECK_EQ(r.res[i], 64);
		CHECK(memcmp(got[i], file + (BIG_OPS - 1 - i) * 64, 64) == 0);
	}
	CHECK(submit_calls(h) >= 2);
	CHECK_EQ(caio_uring_close(h), 0);
	close(fd);
}

static void check_mode(uint32_t option)
{
	static void (*const steps[])(void *) = { check_file_io, check_vectored, check_errors, check_direct, check_cancel };
	struct caio_info info;
	void *h = open_uring(CAP, option);

	CHECK_EQ(caio_uring_info(h, &info), 0);
	CHECK_EQ(info.capacity, CAP);
	CHECK_EQ(info.submit_calls, 0);
	CHECK_EQ(info.features & option, 0);
	CHECK_EQ(info.features & (IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP), IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP);
	printf("uring_check: avoid 0x%x -> setup flags 0x%x\n", option, info.features);
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		uint64_t calls = submit_calls(h);

		steps[i](h);
		CHECK(submit_calls(h) > calls);
	}
	CHECK_EQ(caio_uring_close(h), 0);
}

/* A hang outside poll (close, submit) fails too instead of stalling the suite. */
static void watchdog(int sig)
{
	static const char msg[] = "uring_check: stuck for 45 s\n";

	(void)sig;
	(void)!write(2, msg, sizeof(msg) - 1);
	_exit(1);
}

int main(void)
{
	static const uint32_t masks[] = { 0, AVOID_DEFER, AVOID_ALL };
	void *h = NULL;
	int rc;

	signal(SIGALRM, watchdog);
	alarm(45);
	rc = caio_uring_open(CAP, 0, &h);

	if (rc == -EPERM || rc == -ENOSYS) {
		printf("uring_check: ok (skipped: io_uring unavailable: %s)\n", strerror(-rc));
		return 0;
	}
	CHECK_EQ(rc, 0);
	CHECK_EQ(caio_uring_close(h), 0);
	h = NULL;
	CHECK_EQ(caio_uring_open(0, 0, &h), -EINVAL);
	CHECK_EQ(caio_uring_open(65537, 0, &h), -EINVAL);
	CHECK(h == NULL);
	for (size_t i = 0; i < sizeof(masks) / sizeof(masks[0]); i++) {
		check_mode(masks[i]);
		check_big_batch(masks[i]);
		check_close_in_flight(masks[i]);
	}
	printf("uring_check: %u eventfd waits\n", waits);
	puts("uring_check: ok");
	return 0;
}
