/*
 * How long io_submit keeps its caller (for caio: the JavaScript thread) inside the
 * kernel, per case. Raw syscalls, no libaio and no Bun, so the figure is the kernel's
 * alone. Built and driven by aio-submit-blocking.ts; one case per run:
 *
 *   aio-submit-blocking file=PATH op=read|write direct=0|1 bs=BYTES qd=N ops=N
 *     [prep=written|fallocate|sparse|empty|keep] [span=BYTES] [at=random|perm|append]
 *     [skew=BYTES] [cache=cold|warm] [nowait=1]
 *
 * Prints one JSON line: io_submit call times, requests per call, op latencies
 * (io_submit entry to io_getevents return), the first call's time (a burst of qd), and
 * the share of io_submit's wall time spent off the CPU (asleep or preempted, not working).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/aio_abi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifndef RWF_NOWAIT
#define RWF_NOWAIT 0x00000008
#endif

static const char *arg(int argc, char **argv, const char *key, const char *fallback)
{
	size_t k = strlen(key);
	for (int i = 1; i < argc; i++)
		if (!strncmp(argv[i], key, k) && argv[i][k] == '=')
			return argv[i] + k + 1;
	return fallback;
}

static double clock_us(clockid_t clock)
{
	struct timespec t;
	clock_gettime(clock, &t);
	return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}
#define now_us() clock_us(CLOCK_MONOTONIC)
/* This thread's CPU time: wall time in io_submit beyond it was spent asleep or preempted. */
#define cpu_us() clock_us(CLOCK_THREAD_CPUTIME_ID)

static void die(const char *what)
{
	fprintf(stderr, "aio-submit-blocking: %s: %s\n", what, strerror(errno));
	exit(1);
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t next_random(void)
{
	rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
	return rng;
}

static int by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static void print_stats(const char *name, double *v, long n)
{
	qsort(v, n, sizeof *v, by_value);
	printf("\"%s\":{\"p50\":%.1f,\"p99\":%.1f,\"max\":%.1f}", name, v[n / 2], v[(n * 99) / 100], v[n - 1]);
}

/* Lays out the file the case needs; writes go through the page cache and are synced. */
static void prepare(const char *path, const char *how, long long span)
{
	if (!strcmp(how, "keep")) {
		int fd = open(path, O_RDONLY);
		if (fd >= 0 && lseek(fd, 0, SEEK_END) >= span) {
			close(fd);
			return;
		}
		if (fd >= 0)
			close(fd);
		how = "written";
	}
	unlink(path);
	int fd = open(path, O_RDWR | O_CREAT, 0644);
	if (fd < 0)
		die("create");
	if (!strcmp(how, "written")) {
		static char chunk[1 << 20];
		memset(chunk, 'w', sizeof chunk);
		for (long long off = 0; off < span; off += sizeof chunk)
			if (pwrite(fd, chunk, sizeof chunk, off) != sizeof chunk)
				die("pwrite");
	} else if (!strcmp(how, "fallocate")) {
		if (fallocate(fd, 0, 0, span))  /* unwritten extents: allocated, read as zeros */
			die("fallocate");
	} else if (!strcmp(how, "sparse")) {
		if (ftruncate(fd, span))  /* holes: no blocks allocated, size already covers them */
			die("ftruncate");
	} /* "empty": every write extends the file */
	if (fsync(fd))
		die("fsync");
	close(fd);
}

int main(int argc, char **argv)
{
	const char *path = arg(argc, argv, "file", NULL), *op = arg(argc, argv, "op", "read");
	const char *at = arg(argc, argv, "at", "random"), *cache = arg(argc, argv, "cache", "warm");
	int direct = atoi(arg(argc, argv, "direct", "1")), nowait = atoi(arg(argc, argv, "nowait", "0"));
	long bs = atol(arg(argc, argv, "bs", "4096")), qd = atol(arg(argc, argv, "qd", "1"));
	long ops = atol(arg(argc, argv, "ops", "2000"));
	long long span = atoll(arg(argc, argv, "span", "1073741824"));
	long long skew = atoll(arg(argc, argv, "skew", "0")); /* offset added to each slot: sub-block writes */
	if (!path)
		return fprintf(stderr, "file= is required\n"), 2;
	prepare(path, arg(argc, argv, "prep", "keep"), span);

	int fd = open(path, O_RDWR | (direct ? O_DIRECT : 0));
	if (fd < 0)
		die("open");
	if (!strcmp(cache, "cold")) {
		/* Only this file's pages: the rest of the machine keeps its cache. */
		if (posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED))
			die("fadvise");
	} else if (!direct) {
		static char chunk[1 << 20];
		for (long long off = 0; off < span; off += sizeof chunk)
			if (pread(fd, chunk, sizeof chunk, off) < 0)
				die("warm");
	}

	long stride = (bs + skew + 4095) / 4096 * 4096, slots = span / stride;
	long *order = NULL;
	if (!strcmp(at, "perm")) {  /* each slot at most once: every write meets a fresh hole/extent */
		if (ops > slots)
			return fprintf(stderr, "ops > slots for at=perm\n"), 2;
		order = malloc(slots * sizeof *order);
		for (long i = 0; i < slots; i++)
			order[i] = i;
		for (long i = slots - 1; i > 0; i--) {
			long j = next_random() % (i + 1), t = order[i];
			order[i] = order[j], order[j] = t;
		}
	}

	aio_context_t ctx = 0;
	/* Other processes (caio's own tests, for one) can hold every fs.aio-max-nr slot for a moment. */
	for (int tries = 0; syscall(SYS_io_setup, qd, &ctx); tries++)
		if (errno != EAGAIN || tries == 200)
			die("io_setup");
		else
			usleep(50000);
	struct iocb *cbs = calloc(qd, sizeof *cbs), **batch = calloc(qd, sizeof *batch);
	struct io_event *events = calloc(qd, sizeof *events);
	double *sent = calloc(qd, sizeof *sent);
	long *free_slots = calloc(qd, sizeof *free_slots), nfree = qd;
	for (long i = 0; i < qd; i++) {
		void *buf;
		if (posix_memalign(&buf, 4096, bs))
			die("posix_memalign");
		memset(buf, 'x', bs);
		cbs[i].aio_buf = (uintptr_t)buf;
		free_slots[i] = i;
	}

	double *call_us = malloc(ops * sizeof *call_us), *lat_us = malloc(ops * sizeof *lat_us), first_call = 0;
	double wall_total = 0, off_cpu_total = 0;
	long calls = 0, submitted = 0, done = 0, eagain = 0;
	long long append_at = 0;
	while (done < ops) {
		long n = 0;
		while (nfree > 0 && submitted + n < ops) {
			long s = free_slots[--nfree], k = submitted + n;
			struct iocb *cb = &cbs[s];
			cb->aio_fildes = fd;
			cb->aio_data = s;
			cb->aio_nbytes = bs;
			cb->aio_rw_flags = nowait ? RWF_NOWAIT : 0;
			cb->aio_lio_opcode = !strcmp(op, "write") ? IOCB_CMD_PWRITE : IOCB_CMD_PREAD;
			if (!strcmp(at, "append"))
				cb->aio_offset = append_at, append_at += bs;
			else
				cb->aio_offset = (order ? order[k] : (long)(next_random() % slots)) * stride + skew;
			batch[n++] = cb;
		}
		if (n > 0) {
			double c0 = cpu_us(), t0 = now_us();
			long r = syscall(SYS_io_submit, ctx, n, batch);
			double t1 = now_us(), c1 = cpu_us();
			if (r != n)
				die("io_submit");
			for (long i = 0; i < n; i++)
				sent[batch[i]->aio_data] = t0;
			if (calls == 0)
				first_call = t1 - t0;
			else
				wall_total += t1 - t0, off_cpu_total += (t1 - t0) - (c1 - c0);
			call_us[calls++] = t1 - t0;
			submitted += n;
		}
		long got = syscall(SYS_io_getevents, ctx, 1, qd, events, NULL);
		double t2 = now_us();
		if (got < 0)
			die("io_getevents");
		for (long i = 0; i < got; i++) {
			long s = events[i].data;
			if (events[i].res == -EAGAIN)
				eagain++;
			else if (events[i].res != bs)
				return fprintf(stderr, "op failed: %s\n", strerror(-events[i].res)), 1;
			lat_us[done++] = t2 - sent[s];
			free_slots[nfree++] = s;
		}
	}
	/* The first call is a burst of qd; the steady-state figures leave it out. */
	printf("{\"calls\":%ld,\"ops\":%ld,\"eagain\":%ld,\"first_call\":%.1f,\"off_cpu\":%.3f,", calls, ops, eagain,
	       first_call, wall_total > 0 ? off_cpu_total / wall_total : 0);
	print_stats("submit", call_us + (calls > 1), calls - (calls > 1));
	printf(",");
	print_stats("latency", lat_us, ops);
	printf("}\n");
	return 0;
}
