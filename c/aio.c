/*
 * Linux kernel AIO backend ("linux"): io_setup/io_submit/io_getevents through raw
 * syscalls, no libaio. Every iocb carries IOCB_FLAG_RESFD so each completion bumps
 * one eventfd, relayed to the wake socket (wake.h) for completions that arrive
 * later than the submitting call.
 */
#define _GNU_SOURCE
#include <linux/aio_abi.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "wake.h"

struct aio_backend {
	aio_context_t ctx;
	struct wake wake;
	uint32_t capacity;
	uint32_t refused_count;
	uint64_t submit_calls;
	/* Indexed by user_data: io_cancel identifies a request by the iocb address it was submitted with. */
	struct iocb *iocbs;
	struct iocb **batch;
	struct io_event *events;
	/* Operations io_submit refused outright; reported by the next reap so every op completes once. */
	struct caio_done *refused;
};

static long sys_io_setup(unsigned nr, aio_context_t *ctx)
{
	return syscall(SYS_io_setup, nr, ctx);
}

static long sys_io_destroy(aio_context_t ctx)
{
	return syscall(SYS_io_destroy, ctx);
}

static long sys_io_submit(aio_context_t ctx, long nr, struct iocb **iocbs)
{
	return syscall(SYS_io_submit, ctx, nr, iocbs);
}

static long sys_io_getevents(aio_context_t ctx, long min_nr, long nr, struct io_event *events)
{
	struct timespec no_wait = { 0, 0 };
	return syscall(SYS_io_getevents, ctx, min_nr, nr, events, &no_wait);
}

static long sys_io_cancel(aio_context_t ctx, struct iocb *iocb, struct io_event *result)
{
	return syscall(SYS_io_cancel, ctx, iocb, result);
}

static void free_backend(struct aio_backend *b)
{
	wake_close(&b->wake);
	free(b->iocbs);
	free(b->batch);
	free(b->events);
	free(b->refused);
	free(b);
}

static int alloc_tables(struct aio_backend *b, uint32_t capacity)
{
	b->iocbs = calloc(capacity, sizeof(*b->iocbs));
	b->batch = calloc(capacity, sizeof(*b->batch));
	b->events = calloc(capacity, sizeof(*b->events));
	b->refused = calloc(capacity, sizeof(*b->refused));
	if (!b->iocbs || !b->batch || !b->events || !b->refused)
		return -ENOMEM;
	return 0;
}

/*
 * Creates a context for `capacity` operations in flight and stores its handle in
 * *out. Returns 0 or -errno: -EAGAIN when fs.aio-max-nr is exhausted, -ENOSYS or
 * -EPERM when the kernel or a seccomp sandbox refuses AIO. `option` is unused.
 */
CAIO_EXPORT int caio_aio_open(uint32_t capacity, uint32_t option, void **out)
{
	struct aio_backend *b;
	int ret;

	(void)option;
	if (capacity == 0 || capacity > 65536)
		return -EINVAL;
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->capacity = capacity;
	wake_init(&b->wake);
	ret = alloc_tables(b, capacity);
	if (ret < 0)
		goto err;
	if (sys_io_setup(capacity, &b->ctx) < 0) {
		ret = -errno;
		goto err;
	}
	ret = wake_open(&b->wake, true);
	if (ret < 0)
		goto err_destroy;
	*out = b;
	return 0;
err_destroy:
	sys_io_destroy(b->ctx);
err:
	free_backend(b);
	return ret;
}

static void prep_iocb(struct aio_backend *b, struct iocb *cb, const struct caio_op *op)
{
	static const uint16_t opcodes[] = {
		[CAIO_OP_READ] = IOCB_CMD_PREAD,
		[CAIO_OP_WRITE] = IOCB_CMD_PWRITE,
		[CAIO_OP_FSYNC] = IOCB_CMD_FSYNC,
		[CAIO_OP_FDSYNC] = IOCB_CMD_FDSYNC,
		[CAIO_OP_READV] = IOCB_CMD_PREADV,
		[CAIO_OP_WRITEV] = IOCB_CMD_PWRITEV,
	};

	memset(cb, 0, sizeof(*cb));
	cb->aio_data = op->user_data;
	cb->aio_lio_opcode = opcodes[op->opcode];
	cb->aio_fildes = (uint32_t)op->fd;
	/* The kernel rejects fsync iocbs whose buffer, length or offset is set (4.18+). */
	if (op->opcode != CAIO_OP_FSYNC && op->opcode != CAIO_OP_FDSYNC) {
		cb->aio_buf = op->buf;
		cb->aio_nbytes = op->len;
		cb->aio_offset = (int64_t)op->offset;
	}
	cb->aio_flags = IOCB_FLAG_RESFD;
	cb->aio_resfd = (uint32_t)b->wake.event_fd;
	if (op->ioprio) {
		cb->aio_flags |= IOCB_FLAG_IOPRIO;
		cb->aio_reqprio = op->ioprio;
	}
}

static int validate_ops(const struct aio_backend *b, const struct caio_op *ops, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		if (ops[i].user_data >= b->capacity || ops[i].opcode > CAIO_OP_MAX)
			return -EINVAL;
	}
	return 0;
}

static void complete_early(struct aio_backend *b, const struct iocb *cb, int32_t res)
{
	b->refused[b->refused_count].user_data = (uint32_t)cb->aio_data;
	b->refused[b->refused_count].res = res;
	b->refused_count++;
}

/* Remembers the last descriptor checked, so a batch on one file costs one fstat. */
struct fd_check {
	int fd;
	int refusal;
};

/*
 * Buffered AIO on a pipe, FIFO, socket or character device runs synchronously
 * inside io_submit and can block the calling (JavaScript) thread forever, so such
 * reads and writes are refused with ESPIPE, as pread(2) refuses them.
 */
static int refusal_for(struct fd_check *check, const struct caio_op *op)
{
	struct stat st;

	if (op->opcode == CAIO_OP_FSYNC || op->opcode == CAIO_OP_FDSYNC)
		return 0;
	if (op->fd == check->fd)
		return check->refusal;
	check->fd = op->fd;
	/* A bad descriptor is left for io_submit to report. */
	if (fstat(op->fd, &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode) || S_ISCHR(st.st_mode)))
		check->refusal = -ESPIPE;
	else
		check->refusal = 0;
	return check->refusal;
}

/*
 * io_submit of b->batch[0..count); returns how many iocbs were consumed: queued,
 * or refused with an error recorded for reap. Stops early only on EAGAIN.
 */
static uint32_t submit_batch(struct aio_backend *b, uint32_t count)
{
	uint32_t done = 0;

	while (done < count) {
		long ret = sys_io_submit(b->ctx, count - done, b->batch + done);
		b->submit_calls++;
		if (ret > 0) {
			done += (uint32_t)ret;
			continue;
		}
		if (ret == 0 || errno == EAGAIN)
			break;
		if (errno == EINTR)
			continue;
		/* io_submit reports the error of the first iocb it could not queue. */
		complete_early(b, b->batch[done], -errno);
		done++;
	}
	return done;
}

/*
 * Submits ops[0..n) with as few io_submit calls as the kernel allows. Returns how
 * many ops were consumed from the front of the array: each of them completes
 * exactly once through caio_aio_reap (an op refused at submit time, such as EBADF
 * or ESPIPE for a pipe, completes with that error). The rest stay with the caller,
 * to be offered again after completions free kernel resources. Returns -EAGAIN
 * only when nothing at all could be submitted for lack of resources.
 */
CAIO_EXPORT int caio_aio_submit(void *handle, const struct caio_op *ops, uint32_t n)
{
	struct aio_backend *b = handle;
	struct fd_check check = { .fd = -1, .refusal = 0 };
	uint32_t consumed = 0, pending = 0;

	if (n > b->capacity || validate_ops(b, ops, n) < 0)
		return -EINVAL;
	for (uint32_t i = 0; i < n; i++) {
		int refusal = refusal_for(&check, &ops[i]);
		struct iocb *cb = &b->iocbs[ops[i].user_data];

		prep_iocb(b, cb, &ops[i]);
		if (refusal == 0) {
			b->batch[pending++] = cb;
			continue;
		}
		/* Submit what precedes the refused op first, so consumption stays a prefix. */
		uint32_t queued = submit_batch(b, pending);
		consumed += queued;
		if (queued < pending)
			goto out;
		pending = 0;
		complete_early(b, cb, refusal);
		consumed++;
	}
	consumed += submit_batch(b, pending);
out:
	if (consumed == 0 && n > 0)
		return -EAGAIN;
	return (int)consumed;
}

static uint32_t take_refused(struct aio_backend *b, struct caio_done *out, uint32_t max)
{
	uint32_t n = b->refused_count < max ? b->refused_count : max;

	memcpy(out, b->refused, n * sizeof(*out));
	memmove(b->refused, b->refused + n, (b->refused_count - n) * sizeof(*out));
	b->refused_count -= n;
	return n;
}

/*
 * Copies up to `max` completions into out[] without blocking. Returns the count
 * (0 when none are ready) or -errno.
 */
CAIO_EXPORT int caio_aio_reap(void *handle, struct caio_done *out, uint32_t max)
{
	struct aio_backend *b = handle;
	uint32_t n = take_refused(b, out, max);
	long got;

	if (n == max)
		return (int)n;
	if (max - n > b->capacity)
		max = n + b->capacity;
	got = sys_io_getevents(b->ctx, 0, max - n, b->events);
	if (got < 0)
		return n > 0 ? (int)n : -errno;
	for (long i = 0; i < got; i++) {
		out[n].user_data = (uint32_t)b->events[i].data;
		/* Results are bounded by the 0x7ffff000-byte request limit, so they fit. */
		out[n].res = (int32_t)b->events[i].res;
		n++;
	}
	return (int)n;
}

static int validate_slots(const struct aio_backend *b, const uint32_t *slots, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		if (slots[i] >= b->capacity)
			return -EINVAL;
	}
	return 0;
}

/*
 * Asks the kernel to cancel the ops in slots[0..n), one io_cancel each, and returns
 * n (all taken), or -EINVAL (nothing asked) when n > capacity or a slot is out of
 * range. Each op still completes once through the ring, with -ECANCELED or its
 * own result: since Linux 3.12 ("aio: io_cancel() no longer returns the io_event")
 * a cancelled request answers -EINPROGRESS and its event goes to the ring, never
 * to io_cancel's result argument. Regular-file I/O is never cancellable, so
 * -EINVAL is the usual answer; the lookup walks only ctx->active_reqs, which holds
 * just the requests that can be cancelled (none for files): O(1) per call here.
 */
CAIO_EXPORT int caio_aio_cancel(void *handle, const uint32_t *slots, uint32_t n)
{
	struct aio_backend *b = handle;
	struct io_event ignored;

	if (n > b->capacity || validate_slots(b, slots, n) < 0)
		return -EINVAL;
	for (uint32_t i = 0; i < n; i++)
		sys_io_cancel(b->ctx, &b->iocbs[slots[i]], &ignored);
	return (int)n;
}

/* The wake socket JavaScript polls; the caller owns it from this call on (see wake.h). */
CAIO_EXPORT int caio_aio_wake_fd(void *handle)
{
	return wake_hand_over(&((struct aio_backend *)handle)->wake);
}

/* Copies the backend's counters into *out. */
CAIO_EXPORT int caio_aio_info(void *handle, struct caio_info *out)
{
	struct aio_backend *b = handle;

	out->submit_calls = b->submit_calls;
	out->capacity = b->capacity;
	out->features = 0;
	return 0;
}

/*
 * Destroys the context. io_destroy waits for every request still in the kernel,
 * so no buffer is written after this returns; the handle is freed.
 */
CAIO_EXPORT int caio_aio_close(void *handle)
{
	struct aio_backend *b = handle;
	int ret = 0;

	if (sys_io_destroy(b->ctx) < 0)
		ret = -errno;
	free_backend(b);
	return ret;
}
