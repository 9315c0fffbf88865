/*
 * One io_uring instance through raw syscalls, no liburing: setup (newest flags
 * first, dropped one by one on EINVAL), the shared SQ and CQ mappings, entering
 * the kernel, the opcode probe. Publishing SQEs and reading CQEs is ring_queues.h's,
 * what goes into an SQE uring_sqe.h's; what the ops mean and how many may be in
 * flight is the backend's (uring.c).
 *
 * Ring protocol: we own the SQ tail and the CQ head, the kernel owns the SQ head
 * and the CQ tail. Without SQPOLL the kernel only reads the SQ during
 * io_uring_enter, so SQEs it did not consume can be taken back by moving our tail.
 * With SQPOLL a kernel thread reads the tail at any moment: a published SQE is
 * the kernel's for good, and the thread, once asleep, needs IORING_ENTER_SQ_WAKEUP.
 *
 * Included by uring.c (TinyCC compiles each backend's file on its own).
 */
#ifndef CAIO_RING_H
#define CAIO_RING_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <linux/io_uring.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifdef __TINYC__
/*
 * Bun's TinyCC (bun:ffi cc) has no __atomic builtins. It does not reorder memory
 * accesses, and on x86-64 aligned loads are acquires and stores are releases, so a
 * volatile access orders the rings as the builtins would. Elsewhere real barriers
 * are needed, which TinyCC cannot emit; src/native/tinycc.ts leaves uring.c out.
 */
#ifndef __x86_64__
#error "ring.h under TinyCC needs x86-64"
#endif
#define __ATOMIC_RELAXED 0
#define __ATOMIC_ACQUIRE 2
#define __ATOMIC_RELEASE 3
#define __ATOMIC_SEQ_CST 5
#define __atomic_load_n(p, order) (*(volatile __typeof__(*(p)) *)(p))
#define __atomic_store_n(p, v, order) ((void)(*(volatile __typeof__(*(p)) *)(p) = (v)))
/* A store followed by a load is the one reordering x86-64 does; only mfence (or a locked op) forbids it. */
#define __atomic_thread_fence(order) __asm__ __volatile__("mfence" ::: "memory")
#endif

/* Flags newer than some distributions' kernel headers; the values are ABI. */
#ifndef IORING_SETUP_SUBMIT_ALL
#define IORING_SETUP_SUBMIT_ALL (1U << 7)
#endif
#ifndef IORING_SETUP_COOP_TASKRUN
#define IORING_SETUP_COOP_TASKRUN (1U << 8)
#endif
#ifndef IORING_SETUP_TASKRUN_FLAG
#define IORING_SETUP_TASKRUN_FLAG (1U << 9)
#endif
#ifndef IORING_SETUP_SINGLE_ISSUER
#define IORING_SETUP_SINGLE_ISSUER (1U << 12)
#endif
#ifndef IORING_SETUP_DEFER_TASKRUN
#define IORING_SETUP_DEFER_TASKRUN (1U << 13)
#endif
#ifndef IORING_SQ_TASKRUN
#define IORING_SQ_TASKRUN (1U << 2)
#endif
#ifndef IORING_ENTER_SQ_WAIT
#define IORING_ENTER_SQ_WAIT (1U << 2)
#endif
#ifndef IORING_FEAT_SQPOLL_NONFIXED
#define IORING_FEAT_SQPOLL_NONFIXED (1U << 7)
#endif

/*
 * How long the SQPOLL thread spins after the last SQE before it sleeps (and the
 * next submission pays an io_uring_enter to wake it). The kernel's default is one
 * second of a whole CPU after every burst; this is a tenth of that.
 */
#define SQPOLL_IDLE_MS 100U

/* Flags a polling thread excludes: io_uring_create answers EINVAL for task-work flags with SQPOLL. */
#define SQPOLL_EXCLUDES (IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG | IORING_SETUP_DEFER_TASKRUN)

/* IORING_MAX_CQ_ENTRIES */
#define MAX_CQ_ENTRIES 65536U

/*
 * Setup flags in the order they are given up when the kernel answers EINVAL:
 * newest first. TASKRUN_FLAG goes with COOP_TASKRUN (it is invalid alone).
 */
static const uint32_t optional_flags[] = {
	IORING_SETUP_DEFER_TASKRUN,                            /* 6.1 */
	IORING_SETUP_SINGLE_ISSUER,                            /* 6.0 */
	IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG, /* 5.19 */
	IORING_SETUP_SUBMIT_ALL,                               /* 5.18 */
};

struct sq_ring {
	unsigned *head;
	unsigned *tail;
	unsigned *flags;
	unsigned mask;
	unsigned entries;
	struct io_uring_sqe *sqes;
};

struct cq_ring {
	unsigned *head;
	unsigned *tail;
	unsigned *flags; /* NULL before 5.8: no IORING_CQ_EVENTFD_DISABLED */
	unsigned mask;
	struct io_uring_cqe *cqes;
};

struct ring {
	int fd;               /* -1 until ring_setup succeeds (ring_init) */
	uint32_t setup_flags; /* the IORING_SETUP_* flags the kernel accepted */
	uint32_t cq_entries;  /* what the kernel gave, which may be less than asked for */
	struct sq_ring sq;
	struct cq_ring cq;
	void *sq_map;
	size_t sq_map_len;
	void *cq_map; /* == sq_map with IORING_FEAT_SINGLE_MMAP */
	size_t cq_map_len;
	size_t sqes_len;
};

static int sys_io_uring_setup(unsigned entries, struct io_uring_params *p)
{
	int ret = (int)syscall(__NR_io_uring_setup, entries, p);
	return ret < 0 ? -errno : ret;
}

static int sys_io_uring_enter(int fd, unsigned to_submit, unsigned min_complete, unsigned flags)
{
	int ret = (int)syscall(__NR_io_uring_enter, fd, to_submit, min_complete, flags, NULL, 0);
	return ret < 0 ? -errno : ret;
}

static int sys_io_uring_register(int fd, unsigned opcode, void *arg, unsigned nr_args)
{
	int ret = (int)syscall(__NR_io_uring_register, fd, opcode, arg, nr_args);
	return ret < 0 ? -errno : ret;
}

static unsigned load_acquire(const unsigned *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static void store_release(unsigned *p, unsigned v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}

/* An empty ring (its memory zeroed already), safe to ring_close whatever setup reached. */
static void ring_init(struct ring *r)
{
	r->fd = -1;
}

/* io_uring_enter(2) on this ring: the count it returns, or -errno. */
static int ring_enter(const struct ring *r, unsigned to_submit, unsigned min_complete, unsigned flags)
{
	return sys_io_uring_enter(r->fd, to_submit, min_complete, flags);
}

/* io_uring_register(2) on this ring: 0 (or what the opcode returns), or -errno. */
static int ring_register(const struct ring *r, unsigned opcode, void *arg, unsigned nr_args)
{
	return sys_io_uring_register(r->fd, opcode, arg, nr_args);
}

/*
 * Creates the ring with an SQ of `entries` and a CQ of `cq_entries`, with the flags
 * of `required` (0 or IORING_SETUP_SQPOLL) and trying the optional flags minus
 * `avoid`, dropping the newest on EINVAL. Returns 0 (r->fd and r->setup_flags set,
 * *p as the kernel filled it in) or -errno.
 */
static int ring_setup(struct ring *r, unsigned entries, unsigned cq_entries, uint32_t required, uint32_t avoid,
		      struct io_uring_params *p)
{
	uint32_t wanted = IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP | required;
	size_t i;
	int fd;

	for (i = 0; i < sizeof(optional_flags) / sizeof(optional_flags[0]); i++)
		wanted |= optional_flags[i];
	wanted &= ~avoid;
	for (i = 0;; i++) {
		memset(p, 0, sizeof(*p));
		p->flags = wanted;
		p->cq_entries = cq_entries;
		p->sq_thread_idle = (wanted & IORING_SETUP_SQPOLL) ? SQPOLL_IDLE_MS : 0;
		fd = sys_io_uring_setup(entries, p);
		if (fd != -EINVAL || i == sizeof(optional_flags) / sizeof(optional_flags[0]))
			break;
		wanted &= ~optional_flags[i];
	}
	if (fd < 0)
		return fd;
	r->fd = fd;
	r->setup_flags = p->flags;
	return 0;
}

/*
 * The kernel's opcode table (IORING_REGISTER_PROBE) in *out, which the caller frees;
 * *out is set only when it returns 0. Otherwise -errno (-ENOSYS before 5.6, which
 * has no probe), or what else IORING_REGISTER_PROBE returned.
 */
static int ring_probe(const struct ring *r, struct io_uring_probe **out)
{
	size_t len = sizeof(struct io_uring_probe) + 256 * sizeof(struct io_uring_probe_op);
	struct io_uring_probe *probe = calloc(1, len);
	int ret;

	if (!probe)
		return -ENOMEM;
	ret = ring_register(r, IORING_REGISTER_PROBE, probe, 256);
	if (ret == 0) {
		*out = probe;
		return 0;
	}
	free(probe);
	return ret == -EINVAL ? -ENOSYS : ret; /* no IORING_REGISTER_PROBE: older than 5.6 */
}

static bool probe_has(const struct io_uring_probe *probe, uint8_t op)
{
	return op <= probe->last_op && (probe->ops[op].flags & IO_URING_OP_SUPPORTED);
}

static void *map_ring(int fd, size_t len, off_t offset)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, offset);
	return p == MAP_FAILED ? NULL : p;
}

/* Maps the SQ, the CQ (one mapping with IORING_FEAT_SINGLE_MMAP) and the SQEs; -errno on failure. */
static int map_regions(struct ring *r, const struct io_uring_params *p)
{
	r->sq_map_len = p->sq_off.array + p->sq_entries * sizeof(unsigned);
	r->cq_map_len = p->cq_off.cqes + p->cq_entries * sizeof(struct io_uring_cqe);
	if (p->features & IORING_FEAT_SINGLE_MMAP) {
		if (r->cq_map_len > r->sq_map_len)
			r->sq_map_len = r->cq_map_len;
		r->cq_map_len = 0;
	}
	r->sq_map = map_ring(r->fd, r->sq_map_len, IORING_OFF_SQ_RING);
	if (!r->sq_map)
		return -errno;
	r->cq_map = r->cq_map_len ? map_ring(r->fd, r->cq_map_len, IORING_OFF_CQ_RING) : r->sq_map;
	if (!r->cq_map)
		return -errno;
	r->sqes_len = p->sq_entries * sizeof(struct io_uring_sqe);
	r->sq.sqes = map_ring(r->fd, r->sqes_len, IORING_OFF_SQES);
	if (!r->sq.sqes)
		return -errno;
	return 0;
}

static void point_sq(struct ring *r, const struct io_uring_params *p)
{
	char *sq = r->sq_map;

	r->sq.head = (unsigned *)(sq + p->sq_off.head);
	r->sq.tail = (unsigned *)(sq + p->sq_off.tail);
	r->sq.flags = (unsigned *)(sq + p->sq_off.flags);
	r->sq.mask = *(unsigned *)(sq + p->sq_off.ring_mask);
	r->sq.entries = p->sq_entries;
	/* SQE i always sits at array index i, so the array is written once, here. */
	for (unsigned i = 0; i < p->sq_entries; i++)
		((unsigned *)(sq + p->sq_off.array))[i] = i;
}

static void point_cq(struct ring *r, const struct io_uring_params *p)
{
	char *cq = r->cq_map;

	r->cq.head = (unsigned *)(cq + p->cq_off.head);
	r->cq.tail = (unsigned *)(cq + p->cq_off.tail);
	r->cq.flags = p->cq_off.flags ? (unsigned *)(cq + p->cq_off.flags) : NULL;
	r->cq.mask = *(unsigned *)(cq + p->cq_off.ring_mask);
	r->cq.cqes = (struct io_uring_cqe *)(cq + p->cq_off.cqes);
	r->cq_entries = p->cq_entries;
}

/* Maps the rings ring_setup created (`p` as it filled it in); 0 or -errno, ring_close unmaps either way. */
static int ring_map(struct ring *r, const struct io_uring_params *p)
{
	int ret = map_regions(r, p);

	if (ret < 0)
		return ret;
	point_sq(r, p);
	point_cq(r, p);
	return 0;
}

static void ring_unmap(struct ring *r)
{
	if (r->sq.sqes)
		munmap(r->sq.sqes, r->sqes_len);
	if (r->cq_map && r->cq_map != r->sq_map)
		munmap(r->cq_map, r->cq_map_len);
	if (r->sq_map)
		munmap(r->sq_map, r->sq_map_len);
}

/* Unmaps and closes whatever ring_setup and ring_map made; ops still in flight are not waited for. */
static void ring_close(struct ring *r)
{
	ring_unmap(r);
	if (r->fd >= 0)
		close(r->fd);
}

#endif
