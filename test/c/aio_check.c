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
/* The backends hold flagged ops' blocks through memory.c's functions (c/memory.h). */
#include "../../c/memory.c"

#define CHECK_NAME "aio_check"
#define BACKEND(fn) caio_aio_##fn
#define KERNEL_BACKEND
/* Bad descriptors complete at submit (fcntl fails); the two buffered writes are one hand-off to the pool. */
#define BAD_FD_SUBMITS 1
/* A buffered write: the pool's worker refuses the priority (ioprio_set) and the op fails alone. */
#define BAD_PRIO_TAKEN(h) 4
#include "harness.h"
#include "file_ops.h"

#include <pthread.h>

static struct aio_backend *aio_of(void *h)
{
	return h;
}

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
 * Stream-like descriptors go to the pool, which reads and writes them at their
 * stream position, as the thread backend does: a FIFO read waits there for the
 * write beside it, never inside io_submit (the watchdog fails the run if it
 * blocks). fsync of a FIFO fails (EINVAL), a directory read fails with EISDIR.
 */
static void check_streams(void *h)
{
	static const int32_t want[7] = { 5, 5, 5, 5, 0, -EINVAL, -EISDIR };
	char got[2][8], fifo_buf[8];
	struct iovec iov = { "fifo!", 5 };
	struct caio_op ops[7];
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
	ops[4] = OP(CAIO_OP_READ, dev, got[1] + 5, 1, 0, 4);
	ops[5] = OP(CAIO_OP_FSYNC, fifo, NULL, 0, 0, 5);
	ops[6] = OP(CAIO_OP_READ, dir, got[1] + 6, 1, 0, 6);
	run_batch(h, ops, 7, &r);
	for (int i = 0; i < 7; i++)
		CHECK_EQ(r.res[i], want[i]);
	CHECK(memcmp(got[0], "hello", 5) == 0 && memcmp(got[1], "hello", 5) == 0);
	CHECK(memcmp(fifo_buf, "fifo!", 5) == 0);
	close(fifo);
	close(dev);
	close(dir);
	close(fd);
}

/* An O_RDWR | O_DIRECT descriptor on a new file of `len` known bytes (*data), or -1 where O_DIRECT is refused. */
static int direct_rw_file(size_t len, uint8_t **data)
{
	char path[64];
	int fd = temp_file(path), dfd;

	*data = aligned(len);
	fill(*data, len, 41);
	CHECK_EQ(write(fd, *data, len), (ssize_t)len);
	CHECK_EQ(fsync(fd), 0);
	dfd = open(path, O_RDWR | O_DIRECT | O_CLOEXEC);
	CHECK(dfd >= 0 || errno == EINVAL);
	CHECK_EQ(unlink(path), 0);
	close(fd);
	return dfd;
}

/*
 * Each op takes the path on which io_submit does not do the work itself: O_DIRECT
 * reads, overwrites and fsyncs go to the kernel; buffered ops, an O_DIRECT write
 * that extends the file and one that covers part of a block go to the pool. Every
 * op completes once with its own result, and the file ends up as written.
 */
static void check_routing(void *h)
{
	enum { N = 8, SIZE = 4 * BLK };
	static const uint8_t want_via[N] = { VIA_POOL, VIA_AIO, VIA_AIO, VIA_POOL,
					       VIA_POOL, VIA_AIO, VIA_POOL, VIA_POOL };
	static const int32_t want[N] = { 100, BLK, BLK, BLK, 512, 0, 0, 3 };
	static uint8_t expect[SIZE + BLK];
	uint8_t *data, *buf = aligned(4 * BLK), plain[100], piped[8];
	struct caio_op ops[N];
	struct results r = { 0 };
	int p[2], dfd = direct_rw_file(SIZE, &data), fd = temp_file(NULL);

	if (dfd < 0) {
		printf("aio_check: O_DIRECT unsupported here: routing check skipped\n");
		close(fd);
		free(data);
		free(buf);
		return;
	}
	CHECK_EQ(pipe2(p, O_CLOEXEC), 0);
	CHECK_EQ(write(p[1], "abc", 3), 3);
	CHECK_EQ(write(fd, data, 100), 100);
	fill(buf + BLK, BLK, 7);
	fill(buf + 2 * BLK, BLK, 8);
	fill(buf + 3 * BLK, BLK, 9);
	ops[0] = OP(CAIO_OP_READ, fd, plain, 100, 0, 0);
	ops[1] = OP(CAIO_OP_READ, dfd, buf, BLK, 2 * BLK, 1);
	ops[2] = OP(CAIO_OP_WRITE, dfd, buf + BLK, BLK, BLK, 2);          /* overwrite */
	ops[3] = OP(CAIO_OP_WRITE, dfd, buf + 2 * BLK, BLK, SIZE, 3);     /* extends the file */
	ops[4] = OP(CAIO_OP_WRITE, dfd, buf + 3 * BLK, 512, 3 * BLK, 4);  /* part of a block */
	ops[5] = OP(CAIO_OP_FDSYNC, dfd, NULL, 0, 0, 5);
	ops[6] = OP(CAIO_OP_FSYNC, fd, NULL, 0, 0, 6);
	ops[7] = OP(CAIO_OP_READ, p[0], piped, sizeof(piped), 0, 7);
	CHECK_EQ(caio_aio_submit(h, ops, N), N);
	for (uint32_t i = 0; i < N; i++)
		CHECK_EQ(aio_of(h)->via[i], want_via[i]);
	collect(h, &r, N);
	expect_idle(h);
	memcpy(expect, data, SIZE);
	fill(expect + BLK, BLK, 7);
	fill(expect + SIZE, BLK, 8);
	fill(expect + 3 * BLK, 512, 9);
	/* A 512-byte O_DIRECT write is refused on a disk with 4 KiB logical blocks. */
	if (r.res[4] == -EINVAL) {
		r.res[4] = 512;
		memcpy(expect + 3 * BLK, data + 3 * BLK, 512);
	}
	for (uint32_t i = 0; i < N; i++)
		CHECK_EQ(r.res[i], want[i]);
	CHECK(memcmp(plain, data, 100) == 0);
	CHECK(memcmp(buf, data + 2 * BLK, BLK) == 0);
	CHECK(memcmp(piped, "abc", 3) == 0);
	CHECK_EQ(pread(dfd, buf, 4 * BLK, BLK), 4 * BLK);
	CHECK(memcmp(buf, expect + BLK, 4 * BLK) == 0);
	close(p[0]);
	close(p[1]);
	close(dfd);
	close(fd);
	free(data);
	free(buf);
}

/* A context doing only O_DIRECT reads and overwrites starts no thread. */
static void check_direct_only_has_no_threads(void)
{
	void *h = open_backend(CAP, 0);
	struct caio_op ops[2];
	struct results r;
	uint8_t *data, *buf = aligned(2 * BLK);
	int dfd = direct_rw_file(2 * BLK, &data);

	if (dfd >= 0) {
		ops[0] = OP(CAIO_OP_READ, dfd, buf, BLK, 0, 0);
		ops[1] = OP(CAIO_OP_WRITE, dfd, buf + BLK, BLK, BLK, 1);
		run_batch(h, ops, 2, &r);
		CHECK_EQ(r.res[0], BLK);
		CHECK_EQ(r.res[1], BLK);
		CHECK_EQ(aio_of(h)->pool.started, 0);
		close(dfd);
	}
	CHECK_EQ(caio_aio_close(h), 0);
	free(data);
	free(buf);
}

/*
 * With one pool thread held by a FIFO read, a buffered read waits in the pool's
 * queue: cancelled, it completes at once with -ECANCELED; the running read keeps
 * its own result once data arrives.
 */
static void check_pool_cancel(void)
{
	void *h = open_backend(CAP, 1);
	char fifo_buf[4], plain[4];
	struct caio_op ops[2];
	struct caio_done out[4];
	struct results r = { 0 };
	int p[2], fd = temp_file(NULL);

	CHECK_EQ(pipe2(p, O_CLOEXEC), 0);
	ops[0] = OP(CAIO_OP_READ, p[0], fifo_buf, sizeof(fifo_buf), 0, 0);
	ops[1] = OP(CAIO_OP_READ, fd, plain, sizeof(plain), 0, 1);
	CHECK_EQ(caio_aio_submit(h, ops, 1), 1);
	/* The read is running once the worker is no longer idle with it queued. */
	for (;;) {
		pthread_mutex_lock(&aio_of(h)->pool.lock);
		bool running = aio_of(h)->pool.queued == 0;
		pthread_mutex_unlock(&aio_of(h)->pool.lock);
		if (running)
			break;
		sched_yield();
	}
	CHECK_EQ(caio_aio_submit(h, &ops[1], 1), 1);
	CHECK_EQ(cancel_one(h, 1), 1);
	CHECK_EQ(cancel_one(h, 0), 1);
	CHECK_EQ(record(&r, out, caio_aio_reap(h, out, 4)), 1);
	CHECK_EQ(r.res[1], -ECANCELED);
	CHECK_EQ(write(p[1], "xyz", 3), 3);
	collect(h, &r, 2);
	CHECK_EQ(r.res[0], 3);
	expect_idle(h);
	CHECK_EQ(caio_aio_close(h), 0);
	close(p[0]);
	close(p[1]);
	close(fd);
}

struct releaser {
	struct aio_backend *b;
	int fd;
};

/* Waits until close has begun (the pool is stopping), then lets the blocked read finish. */
static void *release_after_close_starts(void *arg)
{
	struct releaser *rel = arg;

	pthread_mutex_lock(&rel->b->pool.lock);
	while (!rel->b->pool.stopping)
		pthread_cond_wait(&rel->b->pool.work, &rel->b->pool.lock);
	pthread_mutex_unlock(&rel->b->pool.lock);
	CHECK_EQ(write(rel->fd, "late", 4), 4);
	return NULL;
}

/* close waits for the pool's running and queued ops: the writes queued behind a blocked read land. */
static void check_close_waits_for_pool(void)
{
	static uint8_t chunks[4][512], back[4 * 512];
	void *h = open_backend(CAP, 1);
	struct caio_op ops[5];
	struct releaser rel;
	pthread_t thread;
	char late[4];
	int p[2], fd = temp_file(NULL);

	CHECK_EQ(pipe2(p, O_CLOEXEC), 0);
	ops[0] = OP(CAIO_OP_READ, p[0], late, sizeof(late), 0, 0);
	for (uint32_t i = 0; i < 4; i++) {
		fill(chunks[i], sizeof(chunks[i]), 200 + i);
		ops[i + 1] = OP(CAIO_OP_WRITE, fd, chunks[i], sizeof(chunks[i]), i * 512, i + 1);
	}
	CHECK_EQ(caio_aio_submit(h, ops, 5), 5);
	rel = (struct releaser){ .b = h, .fd = p[1] };
	CHECK_EQ(pthread_create(&thread, NULL, release_after_close_starts, &rel), 0);
	CHECK_EQ(caio_aio_close(h), 0);
	CHECK_EQ(pthread_join(thread, NULL), 0);
	CHECK(memcmp(late, "late", 4) == 0);
	CHECK_EQ(pread(fd, back, sizeof(back), 0), (ssize_t)sizeof(back));
	for (uint32_t i = 0; i < 4; i++)
		CHECK(memcmp(back + i * 512, chunks[i], 512) == 0);
	close(p[0]);
	close(p[1]);
	close(fd);
}

int main(void)
{
	static void (*const steps[])(void *) = { check_file_io, check_vectored, check_native_holds, check_errors,
						 check_direct,  check_cancel,   check_streams,      check_routing,
						 check_file_ops };
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
	check_direct_only_has_no_threads();
	check_pool_cancel();
	check_close_waits_for_pool();
	printf("aio_check: %u wake-up waits\n", waits);
	puts("aio_check: ok");
	return 0;
}
