/*
 * Native checks for the io_uring backend (c/uring.c), driven through its seven
 * exported functions the way JavaScript drives them: submit, reap at once, then
 * block on the wake socket (poll) and reap again; no sleeps. A lost wake-up shows as a
 * poll timeout. The checks run once per setup-flag mask: every optional flag tried,
 * DEFER_TASKRUN|SINGLE_ISSUER avoided, and every optional flag avoided; then the
 * same steps with a polling thread (CAIO_URING_SQPOLL). Temporary
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
/* The backends hold flagged ops' blocks through memory.c's functions (c/memory.h). */
#include "../../c/memory.c"

#define CHECK_NAME "uring_check"
#define BACKEND(fn) caio_uring_##fn
#define KERNEL_BACKEND
/* check_big_batch's slots; its 5000 completions come 512 per reap. */
#define BIG_CAP 8192
#define RESULTS_CAP BIG_CAP
#define REAP_MAX 512
/* Failed in prep: without SUBMIT_ALL the kernel stops after it and the tail is taken back. */
/* (With SQPOLL publishing is submitting: the kernel's thread takes all of them.) */
#define BAD_PRIO_TAKEN(h) (info_of(h).features & (IORING_SETUP_SUBMIT_ALL | IORING_SETUP_SQPOLL) ? 4 : 2)
#include "harness.h"
#include "file_ops.h"

#define BIG_OPS 5000
#define AVOID_DEFER (IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_SINGLE_ISSUER)
#define AVOID_ALL (AVOID_DEFER | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG | IORING_SETUP_SUBMIT_ALL)

/*
 * A pipe read waits forever unless cancelled. Nothing is reaped after cancel until
 * the wake socket fires: cancel leaves the eventfd unmuted, so its completions are
 * announced even to a caller that waits. A file read may or may not be past cancelling.
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
	/* 1: the cancellation request went in, whatever becomes of it. */
	CHECK_EQ(cancel_one(h, 3), 1);
	wait_wake(h);
	collect(h, &r, 1);
	CHECK(r.res[3] == -ECANCELED || r.res[3] == -EINTR);

	op = OP(CAIO_OP_READ, fd, buf, BLK, 0, 4);
	CHECK_EQ(caio_uring_submit(h, &op, 1), 1);
	CHECK_EQ(cancel_one(h, 4), 1);
	/* A slot with nothing in flight: the cancellation's own -ENOENT must not surface. */
	CHECK_EQ(cancel_one(h, 9), 1);
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

static struct uring_backend *ring_of(void *h)
{
	return h;
}

/* Pipe reads that wait forever, slots first .. first+n-1, one byte each into bytes[]. */
static void submit_pipe_reads(void *h, int fd, uint32_t first, uint32_t n, char *bytes)
{
	static struct caio_op ops[BIG_CAP];

	for (uint32_t i = 0; i < n; i++)
		ops[i] = OP(CAIO_OP_READ, fd, &bytes[first + i], 1, 0, first + i);
	CHECK_EQ(caio_uring_submit(h, ops, n), n);
}

/* 5000 pipe reads on a ring with a polling thread, cancelled in one call: each completes once, cancelled. */
static void check_cancel_batch_sqpoll(void)
{
	static uint32_t slots[BIG_OPS];
	static char bytes[BIG_OPS];
	static struct results r;
	void *h = open_backend(BIG_CAP, CAIO_URING_SQPOLL);
	int p[2];

	CHECK_EQ(pipe2(p, O_CLOEXEC), 0);
	submit_pipe_reads(h, p[0], 0, BIG_OPS, bytes);
	for (uint32_t i = 0; i < BIG_OPS; i++)
		slots[i] = i;
	CHECK_EQ(caio_uring_cancel(h, slots, BIG_OPS), BIG_OPS);
	memset(&r, 0, sizeof(r));
	collect(h, &r, BIG_OPS);
	for (uint32_t i = 0; i < BIG_OPS; i++)
		CHECK(r.res[i] == -ECANCELED || r.res[i] == -EINTR);
	expect_idle(h);
	CHECK_EQ(caio_uring_close(h), 0);
	close(p[0]);
	close(p[1]);
}

/*
 * 5000 pipe reads cancelled in one call: one io_uring_enter per SQ-ful (2 with a
 * 4096-entry SQ), not one per cancel. Each read completes once, cancelled.
 */
static void check_cancel_batch(uint32_t option)
{
	static uint32_t slots[BIG_OPS];
	static char bytes[BIG_OPS];
	static struct results r;
	void *h = open_backend(BIG_CAP, option);
	uint64_t calls;
	int p[2];

	CHECK_EQ(pipe2(p, O_CLOEXEC), 0);
	submit_pipe_reads(h, p[0], 0, BIG_OPS, bytes);
	for (uint32_t i = 0; i < BIG_OPS; i++)
		slots[i] = i;
	calls = submit_calls(h);
	CHECK_EQ(caio_uring_cancel(h, slots, BIG_OPS), BIG_OPS);
	CHECK_EQ(submit_calls(h) - calls, (BIG_OPS + MAX_SQ_ENTRIES - 1) / MAX_SQ_ENTRIES);
	memset(&r, 0, sizeof(r));
	collect(h, &r, BIG_OPS);
	for (uint32_t i = 0; i < BIG_OPS; i++)
		CHECK(r.res[i] == -ECANCELED || r.res[i] == -EINTR);
	expect_idle(h);
	/* Every cancellation's own CQE was consumed too. */
	CHECK_EQ(ring_of(h)->cancels_in_flight, 0);
	CHECK_EQ(caio_uring_close(h), 0);
	close(p[0]);
	close(p[1]);
}

/* The CQ holds what the kernel posted and nobody consumed; never more than its size. */
static void check_no_overflow(void *h)
{
	struct uring_backend *b = ring_of(h);

	CHECK(!(__atomic_load_n(b->ring.sq.flags, __ATOMIC_RELAXED) & IORING_SQ_CQ_OVERFLOW));
	CHECK(__atomic_load_n(b->ring.cq.tail, __ATOMIC_ACQUIRE) - *b->ring.cq.head <= b->ring.cq_entries);
}

/*
 * Takes cancellations of slots with nothing in flight (2 and 3), at most 3 per call,
 * until the CQ is spoken for with `in_flight` ops' CQEs owed: their -ENOENT CQEs wait
 * behind a CQE nobody consumed.
 */
static void fill_cq_with_cancels(void *h, uint32_t in_flight)
{
	static const uint32_t nothing[3] = { 2, 3, 2 };

	for (uint32_t left = ring_of(h)->ring.cq_entries - in_flight; left > 0;) {
		uint32_t n = left < 3 ? left : 3;

		CHECK_EQ(caio_uring_cancel(h, nothing, n), (int)n);
		left -= n;
	}
}

/*
 * A ring of 4 ops has a small CQ (two CQEs per step of the longest chain per op).
 * With 2 ops in flight (one of them failed, its CQE at the head of the CQ) and
 * cancellations whose CQEs wait behind it filling the rest, the CQ is spoken for: another cancel is not taken and a submit gets -EAGAIN, neither
 * entering the kernel. After a reap both are taken. The CQ never overflows.
 */
static void check_cq_budget(uint32_t option)
{
	static char bytes[4];
	uint32_t one = 1, two[2] = { 2, 3 };
	struct caio_op ops[2];
	struct caio_done out[4];
	struct results r = { 0 }, rest = { 0 };
	void *h = open_backend(4, option);
	uint64_t calls;
	int p[2];

	CHECK(ring_of(h)->ring.cq_entries >= 8);
	CHECK_EQ(pipe2(p, O_CLOEXEC), 0);
	ops[0] = OP(CAIO_OP_READ, -1, bytes, 1, 0, 0);
	ops[1] = OP(CAIO_OP_READ, p[0], &bytes[1], 1, 0, 1);
	CHECK_EQ(caio_uring_submit(h, ops, 2), 2);
	fill_cq_with_cancels(h, 2);
	check_no_overflow(h);

	calls = submit_calls(h);
	CHECK_EQ(caio_uring_cancel(h, &one, 1), 0);
	ops[0] = OP(CAIO_OP_READ, p[0], &bytes[2], 1, 0, 2);
	ops[1] = OP(CAIO_OP_READ, p[0], &bytes[3], 1, 0, 3);
	CHECK_EQ(caio_uring_submit(h, ops, 2), -EAGAIN);
	CHECK_EQ(submit_calls(h), calls);
	check_no_overflow(h);

	CHECK_EQ(record(&r, out, caio_uring_reap(h, out, 4)), 1);
	CHECK_EQ(r.res[0], -EBADF);
	CHECK_EQ(caio_uring_cancel(h, &one, 1), 1);
	CHECK_EQ(caio_uring_submit(h, ops, 2), 2);
	CHECK_EQ(caio_uring_cancel(h, two, 2), 2);
	check_no_overflow(h);
	collect(h, &rest, 3);
	for (uint32_t slot = 1; slot <= 3; slot++)
		CHECK(rest.res[slot] == -ECANCELED || rest.res[slot] == -EINTR);
	expect_idle(h);
	CHECK_EQ(ring_of(h)->cancels_in_flight, 0);
	CHECK_EQ(caio_uring_close(h), 0);
	close(p[0]);
	close(p[1]);
}

/* More ops than the SQ holds: one submit call consumes them all, SQ-ful by SQ-ful. */
static void check_big_batch(uint32_t option)
{
	static struct caio_op ops[BIG_OPS];
	static uint8_t file[BIG_OPS * 64], got[BIG_OPS][64];
	static struct results r;
	void *h = open_backend(BIG_CAP, option);
	int fd = temp_file(NULL);

	CHECK_EQ(info_of(h).capacity, BIG_CAP);
	CHECK_EQ(((struct uring_backend *)h)->ring.sq.entries, MAX_SQ_ENTRIES);
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

/* From now on this ring takes every regular file in the current directory's file system for a remote one. */
static void pretend_remote(void *h, int fd)
{
	struct fsc_statx st;
	struct mount_entry k;

	CHECK_EQ(fsc_statx(fd, FSC_STATX_TYPE | FSC_STATX_MNT_ID_UNIQUE, &st), 0);
	k = mount_key(&st);
	k.remote = true;
	ring_of(h)->mounts.e[0] = k;
	ring_of(h)->mounts.next = 1;
}

/* The file system a temporary file is on (the repository's disk) is classified as local. */
static void check_local_classification(void *h)
{
	struct fd_memo memo = { 0 };
	struct fd_facts *f;
	struct fsc_statx old;
	bool remote = true;
	int fd = temp_file(NULL);

	f = fd_facts(&memo, fd);
	fd_stat(f, &ring_of(h)->mounts);
	CHECK_EQ(f->err, 0);
	CHECK(S_ISREG(f->mode));
	CHECK(!f->remote);
	/* The way kernels before 6.8 identify a mount: its line in /proc/self/mountinfo. */
	if (fsc_statx(fd, FSC_STATX_MNT_ID, &old) == 0 && (old.mask & FSC_STATX_MNT_ID)) {
		CHECK_EQ(mountinfo_remote(old.mnt_id, &remote), 0);
		CHECK(!remote);
	}
	CHECK(magic_is_remote(0x65735546) && magic_is_remote(0x6969) && !magic_is_remote(0xEF53));
	CHECK(fstype_is_remote("fuse.sshfs") && fstype_is_remote("nfs4") && !fstype_is_remote("ext4"));
	close(fd);
}

/*
 * Ops on a remote file go to the pool, in the same batch as ring ops on a pipe; all
 * complete once through reap, and the batch costs one io_uring_enter plus one
 * hand-off. A queued pool op is cancelled at once (-ECANCELED), a running one keeps
 * its result, and close waits for the pool.
 */
static void check_remote(uint32_t option)
{
	static uint8_t data[3 * BLK], got[2][BLK];
	static const uint8_t want_via[5] = { VIA_POOL, VIA_RING, VIA_POOL, VIA_POOL, VIA_RING };
	char piped[8], fifo_buf[4];
	struct caio_op ops[5], blocker;
	struct results r;
	void *h = open_backend(CAP, option);
	struct uring_backend *b = ring_of(h);
	uint64_t calls;
	int p[2], q[2], fd = temp_file(NULL);

	fill(data, sizeof(data), 21);
	CHECK_EQ(write(fd, data, sizeof(data)), (ssize_t)sizeof(data));
	pretend_remote(h, fd);
	CHECK_EQ(pipe2(p, O_CLOEXEC), 0);
	CHECK_EQ(write(p[1], "pipe", 4), 4);
	ops[0] = OP(CAIO_OP_READ, fd, got[0], BLK, BLK, 0);
	ops[1] = OP(CAIO_OP_READ, p[0], piped, sizeof(piped), 0, 1);
	ops[2] = OP(CAIO_OP_WRITE, fd, data, BLK, 3 * BLK, 2);
	ops[3] = OP(CAIO_OP_FDSYNC, fd, NULL, 0, 0, 3);
	ops[4] = OP(CAIO_OP_READ, fd, got[1], BLK, 2 * BLK, 4);
	ops[4].fd = -1;
	calls = submit_calls(h);
	CHECK_EQ(caio_uring_submit(h, ops, 5), 5);
	CHECK_EQ(submit_calls(h) - calls, 2);
	for (uint32_t i = 0; i < 5; i++)
		CHECK_EQ(b->via[i], want_via[i]);
	memset(&r, 0, sizeof(r));
	collect(h, &r, 5);
	expect_idle(h);
	CHECK_EQ(r.res[0], BLK);
	CHECK(memcmp(got[0], data + BLK, BLK) == 0);
	CHECK_EQ(r.res[1], 4);
	CHECK(memcmp(piped, "pipe", 4) == 0);
	CHECK_EQ(r.res[2], BLK);
	CHECK_EQ(r.res[3], 0);
	CHECK_EQ(r.res[4], -EBADF);
	CHECK_EQ(caio_uring_close(h), 0);

	/* A new ring whose pool has one worker, held by a FIFO read handed to the pool directly. */
	h = open_backend(CAP, option);
	b = ring_of(h);
	pretend_remote(h, fd);
	b->pool.nthreads = 1;
	CHECK(workers_usable(&b->pool));
	CHECK_EQ(pipe2(q, O_CLOEXEC), 0);
	blocker = OP(CAIO_OP_READ, q[0], fifo_buf, sizeof(fifo_buf), 0, 7);
	b->via[7] = VIA_POOL;
	CHECK_EQ(workers_submit(&b->pool, &blocker, 1, b->held), 0);
	for (;;) {
		pthread_mutex_lock(&b->pool.lock);
		bool running = b->pool.queued == 0;
		pthread_mutex_unlock(&b->pool.lock);
		if (running)
			break;
		sched_yield();
	}
	CHECK_EQ(caio_uring_submit(h, ops, 1), 1);
	CHECK_EQ(cancel_one(h, 0), 1);
	CHECK_EQ(cancel_one(h, 7), 1);
	memset(&r, 0, sizeof(r));
	collect(h, &r, 1);
	CHECK_EQ(r.res[0], -ECANCELED);
	/* Queued behind the blocked read when close begins: close runs it, then returns. */
	CHECK_EQ(caio_uring_submit(h, &ops[2], 1), 1);
	CHECK_EQ(write(q[1], "late", 4), 4);
	CHECK_EQ(caio_uring_close(h), 0);
	CHECK(memcmp(fifo_buf, "late", 4) == 0);
	close(p[0]);
	close(p[1]);
	close(q[0]);
	close(q[1]);
	close(fd);
}

/*
 * With the CQ spoken for, a batch of a remote op then a ring op takes the remote
 * one alone (a prefix); a batch starting with a ring op takes nothing.
 */
static void check_remote_prefix(uint32_t option)
{
	static char bytes[4];
	static uint8_t got[BLK];
	uint32_t slots[2] = { 1, 3 };
	struct caio_op ops[2];
	struct results r = { 0 };
	void *h = open_backend(4, option);
	int p[2], fd = temp_file(NULL);

	pretend_remote(h, fd);
	CHECK_EQ(write(fd, "remote", 6), 6);
	CHECK_EQ(pipe2(p, O_CLOEXEC), 0);
	ops[0] = OP(CAIO_OP_READ, -1, bytes, 1, 0, 0);
	ops[1] = OP(CAIO_OP_READ, p[0], &bytes[1], 1, 0, 1);
	CHECK_EQ(caio_uring_submit(h, ops, 2), 2);
	fill_cq_with_cancels(h, 2);
	ops[0] = OP(CAIO_OP_READ, fd, got, BLK, 0, 2);
	ops[1] = OP(CAIO_OP_READ, p[0], &bytes[3], 1, 0, 3);
	CHECK_EQ(caio_uring_submit(h, ops, 2), 1);
	CHECK_EQ(caio_uring_submit(h, &ops[1], 1), -EAGAIN);
	collect(h, &r, 2);
	CHECK_EQ(r.res[0], -EBADF);
	CHECK_EQ(r.res[2], 6);
	CHECK(memcmp(got, "remote", 6) == 0);
	CHECK_EQ(caio_uring_submit(h, &ops[1], 1), 1);
	CHECK_EQ(caio_uring_cancel(h, slots, 2), 2);
	collect(h, &r, 4);
	CHECK(r.res[1] == -ECANCELED || r.res[1] == -EINTR);
	CHECK(r.res[3] == -ECANCELED || r.res[3] == -EINTR);
	expect_idle(h);
	CHECK_EQ(caio_uring_close(h), 0);
	close(p[0]);
	close(p[1]);
	close(fd);
}

/* The caio opcodes from OPENAT to MKDIRAT, as ring_ops bits. */
#define FILE_OP_BITS (((1U << (CAIO_OP_MKDIRAT + 1)) - 1) & ~((1U << CAIO_OP_OPENAT) - 1))

/*
 * File ops take the ring where the kernel has their opcode (IORING_REGISTER_PROBE),
 * and the pool where it has not, which CAIO_URING_NO_FILE_OPS pretends: every file
 * check passes both ways, and again with no pool at all (the submitting call runs
 * them). A path op carries IOSQE_ASYNC and is never classified by its fd.
 */
static void check_file_op_routes(uint32_t option)
{
	struct fo_arena a = fo_arena_new();
	struct caio_op op;
	struct statx *sx;
	void *h = open_backend(CAP, option);
	struct uring_backend *b = ring_of(h);
	uint32_t ring_ops = b->ring_ops;

	printf("uring_check: file ops on the ring: 0x%x of 0x%x\n", ring_ops & FILE_OP_BITS, FILE_OP_BITS);
	op = fo_statx(&a, AT_FDCWD, ".", 0, 3, &sx);
	CHECK_EQ(fo_run(h, op), 0);
	CHECK(S_ISDIR(sx->stx_mode));
	CHECK_EQ(b->via[3], ring_has(b, CAIO_OP_STATX) ? VIA_RING : VIA_POOL);
	/* Not one descriptor looked at: AT_FDCWD is not a file to classify. */
	CHECK_EQ(b->memo.used, 0);
	CHECK_EQ(caio_uring_close(h), 0);

	h = open_backend(CAP, option | CAIO_URING_NO_FILE_OPS);
	b = ring_of(h);
	CHECK_EQ(b->ring_ops, ring_ops & ~FILE_OP_BITS);
	CHECK_EQ(fo_run(h, op), 0);
	CHECK_EQ(b->via[3], VIA_POOL);
	check_file_ops(h);
	CHECK(b->pool.started > 0);
	CHECK_EQ(caio_uring_close(h), 0);

	h = open_backend(CAP, option | CAIO_URING_NO_FILE_OPS);
	b = ring_of(h);
	b->pool.broken = true;
	CHECK_EQ(fo_run(h, op), 0);
	CHECK_EQ(b->via[3], VIA_SYNC);
	check_file_ops(h);
	CHECK_EQ(b->pool.started, 0);
	CHECK_EQ(caio_uring_close(h), 0);
	fo_arena_free(&a);
}

static void check_mode(uint32_t option)
{
	static void (*const steps[])(void *) = { check_file_io, check_vectored, check_native_holds,
						 check_errors,  check_direct,   check_cancel, check_file_ops };
	void *h = open_backend(CAP, option);
	struct caio_info info = info_of(h);

	check_local_classification(h);
	CHECK_EQ(info.capacity, CAP);
	CHECK_EQ(info.submit_calls, 0);
	CHECK_EQ(info.features & option, 0);
	CHECK_EQ(info.features & (IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP), IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP);
	printf("uring_check: avoid 0x%x -> setup flags 0x%x\n", option, info.features);
	run_steps(h, steps, ARRAY_SIZE(steps));
	CHECK_EQ(caio_uring_close(h), 0);
}

/*
 * The steps of check_mode on a ring with a polling thread, and close with reads in
 * flight. No io_uring_enter is counted: while the thread is awake a submission
 * makes none. A refused SQPOLL (CAIO_URING_REFUSE_SQPOLL) leaves an ordinary ring.
 */
static void check_sqpoll(void)
{
	static void (*const steps[])(void *) = { check_file_io, check_vectored, check_native_holds,
						 check_errors,  check_direct,   check_cancel, check_file_ops };
	void *h = open_backend(CAP, CAIO_URING_SQPOLL);
	uint32_t features = info_of(h).features;

	printf("uring_check: sqpoll -> setup flags 0x%x%s\n", features,
	       features & IORING_SETUP_SQPOLL ? "" : " (SQPOLL refused here: an ordinary ring)");
	CHECK_EQ(features & (IORING_SETUP_COOP_TASKRUN | IORING_SETUP_DEFER_TASKRUN), 0);
	for (size_t i = 0; i < ARRAY_SIZE(steps); i++)
		steps[i](h);
	CHECK_EQ(caio_uring_close(h), 0);
	check_close_in_flight(CAIO_URING_SQPOLL);
	check_cancel_batch_sqpoll();
	h = open_backend(CAP, CAIO_URING_SQPOLL | CAIO_URING_REFUSE_SQPOLL);
	CHECK_EQ(info_of(h).features & IORING_SETUP_SQPOLL, 0);
	check_direct(h);
	CHECK_EQ(caio_uring_close(h), 0);
}

int main(void)
{
	static const uint32_t masks[] = { 0, AVOID_DEFER, AVOID_ALL };

	start_watchdog();
	/* Each mode opens its own ring; this one only finds out whether io_uring is there. */
	CHECK_EQ(caio_uring_close(open_or_skip("io_uring")), 0);
	check_open_bounds();
	for (size_t i = 0; i < ARRAY_SIZE(masks); i++) {
		check_mode(masks[i]);
		check_big_batch(masks[i]);
		check_cancel_batch(masks[i]);
		check_cq_budget(masks[i]);
		check_close_in_flight(masks[i]);
		check_remote(masks[i]);
		check_remote_prefix(masks[i]);
		check_file_op_routes(masks[i]);
	}
	check_sqpoll();
	printf("uring_check: %u wake-up waits\n", waits);
	puts("uring_check: ok");
	return 0;
}
