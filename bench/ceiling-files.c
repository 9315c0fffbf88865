/*
 * The C ceiling of reading many small files (W6): each file is one linked io_uring chain
 * OPENAT → READ → CLOSE on a registered-file slot, `depth` chains in flight, cycling over
 * the regular files of DIR for `seconds`. One process, one thread, liburing. Built and
 * run by runCeilingFiles() in bench/ceiling.ts:
 *
 *   ceiling-files DIR SECONDS [DEPTH=64] [READ_BYTES=4096]
 *
 * A chain uses slot s of a sparse registered file table: the open installs the file
 * there (IOSQE_IO_LINK), the read uses it as a fixed file (IOSQE_IO_HARDLINK: a read
 * shorter than READ_BYTES, normal for a small file, would break an ordinary link and
 * cancel the close), and the close empties the slot. The chain's slot is refilled once
 * all three completions are in. A failed open, read or close stops the program.
 *
 * Prints one JSON line: {"files_per_second", "files", "bytes", "seconds", "distinct"}
 * (distinct: the regular files found in DIR). Exits 1 with a message on stderr on failure.
 */
#define _GNU_SOURCE
#define PROGRAM "ceiling-files"
#include "ceiling.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <unistd.h>

#define ALIGNMENT 4096
#define STAGES 3 /* open, read, close */

struct names {
	char **at;
	size_t count, capacity;
};

struct run {
	struct io_uring ring;
	int dirfd;
	struct names names;
	size_t next_name;
	unsigned char *buffers;
	unsigned read_bytes;
	unsigned *pending; /* completions still due per chain slot */
	uint64_t files, bytes;
};

static void add_name(struct names *n, const char *name)
{
	if (n->count == n->capacity) {
		n->capacity = n->capacity ? n->capacity * 2 : 1024;
		n->at = realloc(n->at, n->capacity * sizeof(*n->at));
		if (!n->at)
			fail("realloc", ENOMEM);
	}
	n->at[n->count] = strdup(name);
	if (!n->at[n->count++])
		fail("strdup", ENOMEM);
}

/* The regular files directly in `dir` (their names, relative to dirfd). */
static struct names list_files(const char *dir)
{
	struct names n = { 0 };
	DIR *d = opendir(dir);
	struct dirent *e;

	if (!d)
		fail(dir, errno);
	while ((e = readdir(d)))
		if (e->d_type == DT_REG)
			add_name(&n, e->d_name);
	closedir(d);
	if (n.count == 0)
		fail("no regular files in the directory", ENOENT);
	return n;
}

/* user_data: the chain's slot times STAGES plus the stage, so a failure names its step. */
static void queue_chain(struct run *r, unsigned slot)
{
	const char *name = r->names.at[r->next_name++ % r->names.count];
	struct io_uring_sqe *sqe = next_sqe(&r->ring);

	io_uring_prep_openat_direct(sqe, r->dirfd, name, O_RDONLY, 0, slot);
	io_uring_sqe_set_flags(sqe, IOSQE_IO_LINK);
	io_uring_sqe_set_data64(sqe, (uint64_t)slot * STAGES + 0);
	sqe = next_sqe(&r->ring);
	io_uring_prep_read(sqe, (int)slot, r->buffers + (size_t)slot * r->read_bytes, r->read_bytes, 0);
	io_uring_sqe_set_flags(sqe, IOSQE_FIXED_FILE | IOSQE_IO_HARDLINK);
	io_uring_sqe_set_data64(sqe, (uint64_t)slot * STAGES + 1);
	sqe = next_sqe(&r->ring);
	io_uring_prep_close_direct(sqe, slot);
	io_uring_sqe_set_data64(sqe, (uint64_t)slot * STAGES + 2);
	r->pending[slot] = STAGES;
}

static const char *const stage_name[STAGES] = { "openat", "read", "close" };

/* Takes one completion; returns the slot when its chain is whole, else -1. */
static int complete(struct run *r, const struct io_uring_cqe *cqe)
{
	uint64_t data = io_uring_cqe_get_data64(cqe);
	unsigned slot = (unsigned)(data / STAGES), stage = (unsigned)(data % STAGES);

	if (cqe->res < 0)
		fail(stage_name[stage], -cqe->res);
	if (stage == 1)
		r->bytes += (uint64_t)cqe->res;
	if (--r->pending[slot] > 0)
		return -1;
	r->files++;
	return (int)slot;
}

/* One submit_and_wait round; returns the chains that finished (refilled unless stopping). */
static unsigned round_trip(struct run *r, int refill)
{
	struct io_uring_cqe *cqe;
	unsigned head, seen = 0, finished = 0;
	int ret = io_uring_submit_and_wait(&r->ring, 1);

	if (ret < 0 && ret != -EINTR)
		fail("io_uring_submit_and_wait", -ret);
	io_uring_for_each_cqe(&r->ring, head, cqe) {
		int slot = complete(r, cqe);

		seen++;
		if (slot < 0)
			continue;
		finished++;
		if (refill)
			queue_chain(r, (unsigned)slot);
	}
	io_uring_cq_advance(&r->ring, seen);
	return finished;
}

static void setup(struct run *r, const char *dir, unsigned depth)
{
	int ret;

	r->names = list_files(dir);
	r->dirfd = open(dir, O_RDONLY | O_DIRECTORY);
	if (r->dirfd < 0)
		fail(dir, errno);
	if (posix_memalign((void **)&r->buffers, ALIGNMENT, (size_t)r->read_bytes * depth))
		fail("posix_memalign", ENOMEM);
	r->pending = calloc(depth, sizeof(*r->pending));
	if (!r->pending)
		fail("calloc", ENOMEM);
	ret = io_uring_queue_init(depth * STAGES, &r->ring, 0);
	if (ret < 0)
		fail("io_uring_queue_init", -ret);
	ret = io_uring_register_files_sparse(&r->ring, depth);
	if (ret < 0)
		fail("io_uring_register_files_sparse", -ret);
}

int main(int argc, char **argv)
{
	struct run r = { 0 };
	double seconds, started, elapsed;
	unsigned depth, in_flight;
	uint64_t files, bytes;

	if (argc < 3) {
		fprintf(stderr, "usage: ceiling-files DIR SECONDS [DEPTH=64] [READ_BYTES=4096]\n");
		return 2;
	}
	seconds = strtod(argv[2], NULL);
	depth = argc > 3 ? (unsigned)strtoul(argv[3], NULL, 10) : 64;
	r.read_bytes = argc > 4 ? (unsigned)strtoul(argv[4], NULL, 10) : 4096;
	if (!(seconds > 0) || depth == 0 || r.read_bytes == 0)
		fail("arguments", EINVAL);
	setup(&r, argv[1], depth);
	started = now_ns() / 1e9;
	for (unsigned slot = 0; slot < depth; slot++)
		queue_chain(&r, slot);
	while (now_ns() / 1e9 - started < seconds)
		round_trip(&r, 1);
	elapsed = now_ns() / 1e9 - started;
	files = r.files;
	bytes = r.bytes;
	for (in_flight = depth; in_flight > 0;) /* chains still in flight finish uncounted */
		in_flight -= round_trip(&r, 0);
	printf("{\"files_per_second\":%.1f,\"files\":%llu,\"bytes\":%llu,\"seconds\":%.4f,\"distinct\":%zu}\n",
	       files / elapsed, (unsigned long long)files, (unsigned long long)bytes, elapsed, r.names.count);
	io_uring_queue_exit(&r.ring);
	return 0;
}
