/*
 * Native checks for the Linux AIO backend (c/aio.c), driven through its seven
 * exported functions the way JavaScript drives them: submit, reap at once, then
 * block on the wake socket (poll) and reap again; no sleeps. A lost wake-up shows as a
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

#define CHECK_NAME "aio_check"
#define BACKEND(fn) caio_aio_##fn
#define KERNEL_BACKEND
/* io_submit stops at each bad iocb: queue 1, refuse 1, queue 1, refuse 1. */
#define BAD_FD_SUBMITS 4
/* io_submit refuses the iocb for its priority; the backend completes it with that error and goes on. */
#define BAD_PRIO_TAKEN(h) 4
#include "harness.h"

/*
 * File reads are not cancellable by AIO: whatever becomes of a cancel, each op
 * completes exactly once, and cancelling a slot with nothing in flight completes
 * nothing. One call takes every slot it is given.
 */
static void check_cancel(void *h)
{
	enum { N = 32 };
	struct caio_op ops[N];
	uint32_t slots[N + 8];
	struct results r = { 0 };
	uint8_t *data, *buf = aligned(N * BLK);
	int fd = direct_file(N * BLK, &data);

	for (uint32_t i = 0; i < N; i++) {
		ops[i] = OP(CAIO_OP_READ, fd, buf + i * BLK, BLK, i * BLK, i);
		slots[i] = N - 1 - i;
	}
	for (uint32_t i = 0; i < 8; i++)
		slots[N + i] = N + i;
	CHECK_EQ(caio_aio_submit(h, ops, N), N);
	CHECK_EQ(caio_aio_cancel(h, slots, N + 8), N + 8);
	CHECK_EQ(cancel_one(h, 0), 1);
	collect(h, &r, N);
	for (uint32_t i = 0; i < N; i++) {
		CHECK(r.res[i] == BLK || r.res[i] == -ECANCELED || r.res[i] == -EINTR);
		if (r.res[i] == BLK)
			CHECK(memcmp(buf + i * BLK, data + i * BLK, BLK) == 0);
	}
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

int main(void)
{
	static void (*const steps[])(void *) = { check_file_io, check_vectored, check_errors,
						 check_direct,  check_cancel,   check_streams };
	struct caio_info info;
	void *h;

	start_watchdog();
	h = open_or_skip("Linux AIO");
	info = info_of(h);
	CHECK_EQ(info.capacity, CAP);
	CHECK_EQ(info.submit_calls, 0);
	CHECK_EQ(info.features, 0);
	run_steps(h, steps, ARRAY_SIZE(steps));
	CHECK_EQ(caio_aio_close(h), 0);
	check_open_bounds();
	check_close_in_flight(0);
	printf("aio_check: %u wake-up waits\n", waits);
	puts("aio_check: ok");
	return 0;
}
