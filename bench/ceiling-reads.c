/*
 * The C ceiling of W1, W2 and W3: random `block`-sized reads of FILE through io_uring
 * (liburing, plain IORING_OP_READ on an ordinary descriptor), keeping `depth` in flight
 * for `seconds`, in one process and one thread. Built and run by bench/ceiling.ts:
 *
 *   ceiling-reads FILE BLOCK DEPTH SECONDS [direct] [latency] [fixed-buffers] [fixed-file]
 *
 * The offsets are the JavaScript loops' own sequence (bench/shared/loops.mjs: xorshift32
 * block numbers, 2^20 of them, wrapping), and every read is checked as they check it: the
 * test file holds each 32-bit word's own index, so the first word must be offset / 4.
 *
 * The loop is submit_and_wait(1): refill every free slot, one io_uring_enter that submits
 * and waits for at least one completion, then take every completion there is.
 * "latency" times each read from its submission to the moment its completion is seen.
 *
 * "fixed-buffers" registers the per-slot buffers with the ring once (one iovec per slot)
 * and reads with IORING_OP_READ_FIXED and the slot as the buffer index, so the kernel
 * skips pinning and mapping the user pages on every read. "fixed-file" registers the one
 * descriptor and submits with IOSQE_FIXED_FILE and index 0, so the kernel skips looking
 * the descriptor up (and its reference counting) on every read. They measure whether
 * either is worth building into caio (bench/registered.sh).
 *
 * Prints one JSON line: {"iops", "reads", "seconds"} and, with latency, {"p50", "p99"}
 * in nanoseconds. Exits 1 with a message on stderr when anything fails.
 */
#define _GNU_SOURCE
#define PROGRAM "ceiling-reads"
#include "ceiling.h"

#include <fcntl.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define SEQUENCE_LENGTH (1u << 20)
#define ALIGNMENT 4096

struct job {
	const char *path;
	size_t block;
	unsigned depth;
	double seconds;
	bool direct, latency, fixed_buffers, fixed_file;
};

struct run {
	struct io_uring ring;
	int fd;
	bool fixed_buffers, fixed_file;
	size_t block;
	uint32_t *sequence;
	uint64_t next;
	unsigned char *buffers;
	uint64_t *offsets;
	double *submitted; /* per slot, latency runs only */
	double *latencies;
	size_t latency_count, latency_capacity;
	uint64_t reads;
};

/* The same xorshift32 block numbers as randomBlocks() in bench/shared/loops.mjs. */
static uint32_t *random_blocks(uint64_t blocks)
{
	uint32_t *out = malloc(SEQUENCE_LENGTH * sizeof(*out));
	uint32_t x = 0x9e3779b9u;

	if (!out)
		fail("malloc", ENOMEM);
	for (uint32_t i = 0; i < SEQUENCE_LENGTH; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		out[i] = (uint32_t)(x % blocks);
	}
	return out;
}

static struct job parse(int argc, char **argv)
{
	struct job job = { 0 };

	if (argc < 5) {
		fprintf(stderr, "usage: ceiling-reads FILE BLOCK DEPTH SECONDS [direct] [latency]"
				" [fixed-buffers] [fixed-file]\n");
		exit(2);
	}
	job.path = argv[1];
	job.block = strtoul(argv[2], NULL, 10);
	job.depth = (unsigned)strtoul(argv[3], NULL, 10);
	job.seconds = strtod(argv[4], NULL);
	for (int i = 5; i < argc; i++) {
		job.direct |= !strcmp(argv[i], "direct");
		job.latency |= !strcmp(argv[i], "latency");
		job.fixed_buffers |= !strcmp(argv[i], "fixed-buffers");
		job.fixed_file |= !strcmp(argv[i], "fixed-file");
	}
	if (job.block == 0 || job.block % ALIGNMENT || job.depth == 0 || !(job.seconds > 0))
		fail("arguments", EINVAL);
	return job;
}

static void open_file(struct run *r, const struct job *job)
{
	struct stat st;

	r->fd = open(job->path, O_RDONLY | (job->direct ? O_DIRECT : 0));
	if (r->fd < 0 || fstat(r->fd, &st) < 0)
		fail(job->path, errno);
	if ((uint64_t)st.st_size < job->block)
		fail("file smaller than one block", EINVAL);
	r->block = job->block;
	r->sequence = random_blocks((uint64_t)st.st_size / job->block);
}

static void allocate(struct run *r, const struct job *job)
{
	int err = posix_memalign((void **)&r->buffers, ALIGNMENT, job->block * job->depth);

	r->offsets = calloc(job->depth, sizeof(*r->offsets));
	r->submitted = calloc(job->depth, sizeof(*r->submitted));
	if (err || !r->offsets || !r->submitted)
		fail("allocating buffers", err ? err : ENOMEM);
	if (job->latency) {
		r->latency_capacity = 1u << 20;
		r->latencies = malloc(r->latency_capacity * sizeof(*r->latencies));
		if (!r->latencies)
			fail("malloc", ENOMEM);
	}
}

/* Puts the next read of the sequence into `slot`'s buffer on the submission queue. */
static void queue_read(struct run *r, unsigned slot)
{
	struct io_uring_sqe *sqe = next_sqe(&r->ring);
	uint64_t offset = (uint64_t)r->sequence[r->next++ & (SEQUENCE_LENGTH - 1)] * r->block;

	r->offsets[slot] = offset;
	/* A fixed file is named by its index in the registered table (0), not by the descriptor. */
	int fd = r->fixed_file ? 0 : r->fd;
	void *buffer = r->buffers + slot * r->block;

	if (r->fixed_buffers)
		io_uring_prep_read_fixed(sqe, fd, buffer, (unsigned)r->block, offset, (int)slot);
	else
		io_uring_prep_read(sqe, fd, buffer, (unsigned)r->block, offset);
	if (r->fixed_file)
		sqe->flags |= IOSQE_FIXED_FILE;
	io_uring_sqe_set_data64(sqe, slot);
	if (r->latencies)
		r->submitted[slot] = now_ns();
}

static void note_latency(struct run *r, double ns)
{
	if (r->latency_count == r->latency_capacity) {
		r->latency_capacity *= 2;
		r->latencies = realloc(r->latencies, r->latency_capacity * sizeof(*r->latencies));
		if (!r->latencies)
			fail("realloc", ENOMEM);
	}
	r->latencies[r->latency_count++] = ns;
}

/*
 * Registers what the job asks for, once, before the first read: the slots' buffers as
 * one iovec each (buffer index = slot) and the file as entry 0 of the file table.
 */
static void register_with_ring(struct run *r, const struct job *job)
{
	int ret;

	if (job->fixed_buffers) {
		struct iovec *iovecs = calloc(job->depth, sizeof(*iovecs));

		if (!iovecs)
			fail("calloc", ENOMEM);
		for (unsigned slot = 0; slot < job->depth; slot++)
			iovecs[slot] = (struct iovec){ r->buffers + slot * job->block, job->block };
		ret = io_uring_register_buffers(&r->ring, iovecs, job->depth);
		free(iovecs); /* the kernel keeps its own copy */
		if (ret < 0)
			fail("io_uring_register_buffers", -ret);
	}
	if (job->fixed_file) {
		ret = io_uring_register_files(&r->ring, &r->fd, 1);
		if (ret < 0)
			fail("io_uring_register_files", -ret);
	}
	r->fixed_buffers = job->fixed_buffers;
	r->fixed_file = job->fixed_file;
}

/* Checks one completion as checkRead() does; returns its slot, free again. */
static unsigned complete(struct run *r, const struct io_uring_cqe *cqe, double now)
{
	unsigned slot = (unsigned)io_uring_cqe_get_data64(cqe);
	uint32_t first;

	if (cqe->res < 0)
		fail("read", -cqe->res);
	memcpy(&first, r->buffers + slot * r->block, sizeof(first));
	if ((size_t)cqe->res != r->block || first != r->offsets[slot] / 4) {
		fprintf(stderr, "ceiling-reads: bad read at offset %llu: %d bytes, first word %u\n",
			(unsigned long long)r->offsets[slot], cqe->res, first);
		exit(1);
	}
	if (r->latencies)
		note_latency(r, now - r->submitted[slot]);
	r->reads++;
	return slot;
}

/* One submit_and_wait round: returns how many slots came free (and are refilled unless stopping). */
static unsigned round_trip(struct run *r, bool refill)
{
	struct io_uring_cqe *cqe;
	unsigned head, seen = 0;
	int ret = io_uring_submit_and_wait(&r->ring, 1);
	double now = r->latencies ? now_ns() : 0;

	if (ret < 0 && ret != -EINTR)
		fail("io_uring_submit_and_wait", -ret);
	io_uring_for_each_cqe(&r->ring, head, cqe) {
		unsigned slot = complete(r, cqe, now);

		seen++;
		if (refill)
			queue_read(r, slot);
	}
	io_uring_cq_advance(&r->ring, seen);
	return seen;
}

static int by_value(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;

	return (a > b) - (a < b);
}

/* Nearest rank, as latencySummary() in bench/shared/loops.mjs. */
static double percentile(const double *sorted, size_t n, double p)
{
	size_t rank = (size_t)ceil(p * (double)n);

	return sorted[rank == 0 ? 0 : (rank > n ? n : rank) - 1];
}

int main(int argc, char **argv)
{
	struct job job = parse(argc, argv);
	struct run r = { 0 };
	unsigned in_flight = job.depth;
	double started, deadline, elapsed;
	int ret;

	open_file(&r, &job);
	allocate(&r, &job);
	ret = io_uring_queue_init(job.depth, &r.ring, 0);
	if (ret < 0)
		fail("io_uring_queue_init", -ret);
	register_with_ring(&r, &job);
	started = now_ns();
	deadline = started + job.seconds * 1e9;
	for (unsigned slot = 0; slot < job.depth; slot++)
		queue_read(&r, slot);
	while (now_ns() < deadline)
		round_trip(&r, true);
	elapsed = (now_ns() - started) / 1e9;
	uint64_t counted = r.reads;
	size_t latencies = r.latency_count;
	while (in_flight > 0) /* the reads still in flight finish uncounted */
		in_flight -= round_trip(&r, false);
	printf("{\"iops\":%.1f,\"reads\":%llu,\"seconds\":%.4f", counted / elapsed, (unsigned long long)counted, elapsed);
	if (job.latency && latencies > 0) {
		qsort(r.latencies, latencies, sizeof(double), by_value);
		printf(",\"p50\":%.0f,\"p99\":%.0f", percentile(r.latencies, latencies, 0.5),
		       percentile(r.latencies, latencies, 0.99));
	}
	printf("}\n");
	io_uring_queue_exit(&r.ring);
	return 0;
}
