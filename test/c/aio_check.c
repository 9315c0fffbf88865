/*
 * Native checks for the Linux AIO backend (c/aio.c), driven through its seven
 * exported functions the way JavaScript drives them: submit, reap at once, then
 * block on the eventfd (poll) and reap again; no sleeps. A lost wake-up shows as a
 * poll timeout. Temporary files (and a FIFO) are created in the current directory
 * (O_DIRECT needs a real filesystem).
 *
 * From the repository root, with sanitizers:
 *   cc -std=gnu11 -O1 -g -Wall -Wextra -Werror -pthread -fsanitize=address,undefined \
 *      -fno-sanitize-recover=all -fno-omit-frame-pointer test/c/aio_check.c -o /tmp/aio_check &&
 *      (cd "$(mktemp -d)" && /tmp/aio_check)
 * and under valgrind, without them:
 *   cc -std=gnu11 -O1 -g -Wall -Wextra -Werror -pthread test/c/aio_check.c -o /tmp/aio_check_vg &&
 *      (cd "$(mktemp -d)" && valgrind --error-exitcode=1 --leak-check=full /tmp/aio_check_vg)
 */
#include "../../c/aio.c"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/uio.h>

#define CAP 64
#define BLK 4096
#define WAIT_MS 30000
/* A priority class the kernel does not know (7): io_submit refuses the iocb. */
#define PRIO_BAD (7 << 13)

#define CHECK(cond) check((cond), __LINE__, #cond)
#define CHECK_EQ(a, b) check_eq((long long)(a), (long long)(b), __LINE__, #a " == " #b)

static void check(bool ok, int line, const char *what)
{
	if (ok)
		return;
	fprintf(stderr, "aio_check: line %d: %s failed\n", line, what);
	exit(1);
}

static void check_eq(long long a, long long b, int line, const char *what)
{
	if (a == b)
		return;
	fprintf(stderr, "aio_check: line %d: %s failed (%lld != %lld)\n", line, what, a, b);
	exit(1);
}

/* Every completion seen so far, by slot; a second completion of a slot fails at once. */
struct results {
	int32_t res[CAP];
	uint32_t seen[CAP];
	uint32_t total;
};

static uint32_t waits; /* times a reap found nothing and the eventfd had to be waited for */

/* One staged operation; b is a pointer (or iovec array), 0 for fsync. */
#define OP(opc, f, b, n, off, ud)                                                                        \
	((struct caio_op){ .buf = (uint64_t)(uintptr_t)(b), .offset = (off), .len = (n), .fd = (f),       \
			   .user_data = (ud), .opcode = (opc) })

static uint64_t submit_calls(void *h)
{
	struct caio_info info;

	CHECK_EQ(caio_aio_info(h, &info), 0);
	return info.submit_calls;
}

static void wait_wake(void *h)
{
	struct pollfd p = { .fd = caio_aio_wake_fd(h), .events = POLLIN };
	uint64_t count;
	int ret;

	do
		ret = poll(&p, 1, WAIT_MS);
	while (ret < 0 && errno == EINTR);
	CHECK(ret >= 0);
	if (ret == 0) {
		fprintf(stderr, "aio_check: no wake-up within %d ms (lost wake-up?)\n", WAIT_MS);
		exit(1);
	}
	CHECK_EQ(read(p.fd, &count, sizeof(count)), sizeof(count));
	CHECK(count > 0);
	waits++;
}

static uint32_t record(struct results *r, const struct caio_done *out, int n)
{
	CHECK(n >= 0);
	for (int i = 0; i < n; i++) {
		CHECK(out[i].user_data < CAP);
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
	static struct caio_done out[CAP];

	while (r->total < want) {
		if (record(r, out, caio_aio_reap(h, out, CAP)) == 0)
			wait_wake(h);
	}
	CHECK_EQ(r->total, want);
}

/* Nothing more to reap: no duplicate, no phantom (e.g. from a failed cancellation). */
static void expect_idle(void *h)
{
	struct caio_done out[8];

	CHECK_EQ(caio_aio_reap(h, out, 8), 0);
}

/*
 * Offers ops[0..n) until all are consumed, the rest again after a partial count as
 * JavaScript does, and collects exactly one completion per op into a fresh *r.
 * Returns what the first submit call consumed.
 */
static uint32_t run_batch(void *h, const struct caio_op *ops, uint32_t n, struct results *r)
{
	int first = caio_aio_submit(h, ops, n), rc = first;

	memset(r, 0, sizeof(*r));
	for (uint32_t done = 0;; rc = caio_aio_submit(h, ops + done, n - done)) {
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
	char name[64] = "aio_check.XXXXXX";
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
			printf("aio_check: O_DIRECT unsupported here (EINVAL): O_DIRECT part skipped, read buffered\n");
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
	/* io_submit stops at each bad iocb: queue 1, refuse 1, queue 1, refuse 1. */
	CHECK_EQ(submit_calls(h) - calls, 4);
	CHECK_EQ(pread(fd, buf[1], 16, 0), 11);
	CHECK(memcmp(buf[1], "firstsecond", 11) == 0);

	/* Refused by io_submit for its priority: completes with that error, the rest still runs. */
	ops[0] = OP(CAIO_OP_WRITE, fd, "A", 1, 0, 0);
	ops[1] = OP(CAIO_OP_WRITE, fd, "B", 1, 1, 1);
	ops[1].ioprio = PRIO_BAD;
	ops[2] = OP(CAIO_OP_WRITE, fd, "C", 1, 2, 2);
	ops[3] = OP(CAIO_OP_WRITE, fd, "D", 1, 3, 3);
	CHECK_EQ(run_batch(h, ops, 4, &r), 4);
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
	CHECK_EQ(caio_aio_submit(h, ops, 2), -EINVAL);
	ops[1] = OP(CAIO_OP_MAX + 1, fd, buf[1], 1, 0, 1);
	CHECK_EQ(caio_aio_submit(h, ops, 2), -EINVAL);
	for (uint32_t i = 0; i <= CAP; i++)
		ops[i] = OP(CAIO_OP_READ, fd, buf[0], 1, 0, i % CAP);
	CHECK_EQ(caio_aio_submit(h, ops, CAP + 1), -EINVAL);
	CHECK_EQ(caio_aio_submit(h, ops, 0), 0);
	CHECK_EQ(caio_aio_cancel(h, CAP), -EINVAL);
	CHECK_EQ(submit_calls(h), calls);
	CHECK_EQ(caio_aio_reap(h, out, 4), 0);
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
 * File reads are not cancellable by AIO: whatever cancel answers, the op completes
 * exactly once, and cancelling a slot with nothing in flight completes nothing.
 */
static void check_cancel(void *h)
{
	struct caio_op op;
	struct results r = { 0 };
	uint8_t *data, *buf = aligned(BLK);
	int fd = direct_file(BLK, &data);

	op = OP(CAIO_OP_READ, fd, buf, BLK, 0, 4);
	CHECK_EQ(caio_aio_submit(h, &op, 1), 1);
	(void)caio_aio_cancel(h, 4);
	CHECK(caio_aio_cancel(h, 9) < 0);
	collect(h, &r, 1);
	CHECK(r.res[4] == BLK || r.res[4] == -ECANCELED || r.res[4] == -EINTR);
	if (r.res[4] == BLK)
		CHECK(memcmp(buf, data, BLK) == 0);
	expect_idle(h);
	close(fd);
	free(buf);
	free(data);
}

/*
 * Stream-like descriptors are refused with ESPIPE instead of blocking io_submit
 * (the watchdog fails the run if it blocks); fsync of a FIFO fails in io_submit, and
 * a directory is left to the kernel (EINVAL, which JavaScript turns into EISDIR).
 * Every one of them, and the file reads around them, is ready as soon as submit returns.
 */
static void check_streams(void *h)
{
	static const int32_t want[7] = { 5, -ESPIPE, 5, -ESPIPE, -ESPIPE, -EINVAL, -EINVAL };
	char got[2][8], fifo_buf[8];
	struct iovec iov = { fifo_buf, sizeof(fifo_buf) };
	struct caio_op ops[7];
	struct caio_done out[2];
	struct results r = { 0 };
	int fd = temp_file(NULL), fifo, dev = open("/dev/null", O_RDWR | O_CLOEXEC);
	int dir = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	CHECK(dev >= 0 && dir >= 0);
	CHECK_EQ(mkfifo("aio_check.fifo", 0600), 0);
	fifo = open("aio_check.fifo", O_RDWR | O_CLOEXEC);
	CHECK(fifo >= 0);
	CHECK_EQ(unlink("aio_check.fifo"), 0);
	CHECK_EQ(write(fd, "hello", 5), 5);
	ops[0] = OP(CAIO_OP_READ, fd, got[0], sizeof(got[0]), 0, 0);
	ops[1] = OP(CAIO_OP_READ, fifo, fifo_buf, sizeof(fifo_buf), 0, 1);
	ops[2] = OP(CAIO_OP_READ, fd, got[1], sizeof(got[1]), 0, 2);
	ops[3] = OP(CAIO_OP_WRITEV, fifo, &iov, 1, 0, 3);
	ops[4] = OP(CAIO_OP_READ, dev, fifo_buf, sizeof(fifo_buf), 0, 4);
	ops[5] = OP(CAIO_OP_FSYNC, fifo, NULL, 0, 0, 5);
	ops[6] = OP(CAIO_OP_READ, dir, fifo_buf, sizeof(fifo_buf), 0, 6);
	CHECK_EQ(caio_aio_submit(h, ops, 7), 7);
	/* One at a time: refused ops are handed out across several reaps. */
	for (int i = 0; i < 7; i++)
		CHECK_EQ(record(&r, out, caio_aio_reap(h, out, 1)), 1);
	expect_idle(h);
	for (int i = 0; i < 7; i++)
		CHECK_EQ(r.res[i], want[i]);
	CHECK(memcmp(got[0], "hello", 5) == 0 && memcmp(got[1], "hello", 5) == 0);
	/* Nothing reached the FIFO. */
	CHECK_EQ(fcntl(fifo, F_SETFL, O_NONBLOCK), 0);
	CHECK(read(fifo, fifo_buf, sizeof(fifo_buf)) < 0 && errno == EAGAIN);
	close(fifo);
	close(dev);
	close(dir);
	close(fd);
}

/* Close with reads in flight and nothing reaped: it must wait, so the buffers are full after it. */
static void check_close_in_flight(void)
{
	enum { N = 16, LEN = 64 * 1024 };
	struct caio_op ops[N];
	void *h = NULL;
	uint8_t *data, *buf = aligned(N * LEN);
	int fd = direct_file(N * LEN, &data);

	CHECK_EQ(caio_aio_open(CAP, 0, &h), 0);
	for (uint32_t i = 0; i < N; i++)
		ops[i] = OP(CAIO_OP_READ, fd, buf + i * LEN, LEN, i * LEN, i);
	CHECK_EQ(caio_aio_submit(h, ops, N), N);
	CHECK_EQ(caio_aio_close(h), 0);
	CHECK(memcmp(buf, data, N * LEN) == 0);
	free(buf);
	free(data);
	close(fd);
}

/* A hang outside poll (close, submit) fails too instead of stalling the suite. */
static void watchdog(int sig)
{
	static const char msg[] = "aio_check: stuck for 45 s\n";

	(void)sig;
	(void)!write(2, msg, sizeof(msg) - 1);
	_exit(1);
}

int main(void)
{
	static void (*const steps[])(void *) = { check_file_io, check_vectored, check_errors,
						 check_direct,  check_cancel,   check_streams };
	struct caio_info info;
	void *h = NULL;
	int rc;

	signal(SIGALRM, watchdog);
	alarm(45);
	rc = caio_aio_open(CAP, 0, &h);
	if (rc == -EPERM || rc == -ENOSYS) {
		printf("aio_check: ok (skipped: Linux AIO unavailable: %s)\n", strerror(-rc));
		return 0;
	}
	CHECK_EQ(rc, 0);
	CHECK_EQ(caio_aio_info(h, &info), 0);
	CHECK_EQ(info.capacity, CAP);
	CHECK_EQ(info.submit_calls, 0);
	CHECK_EQ(info.features, 0);
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		uint64_t calls = submit_calls(h);

		steps[i](h);
		CHECK(submit_calls(h) > calls);
	}
	CHECK_EQ(caio_aio_close(h), 0);
	h = NULL;
	CHECK_EQ(caio_aio_open(0, 0, &h), -EINVAL);
	CHECK_EQ(caio_aio_open(65537, 0, &h), -EINVAL);
	CHECK(h == NULL);
	check_close_in_flight();
	printf("aio_check: %u eventfd waits\n", waits);
	puts("aio_check: ok");
	return 0;
}
