/*
 * The uring backend's setup and teardown: the ring (SQPOLL when asked, else the newest
 * setup flags the kernel takes), its opcodes, the wake eventfd, the tables kept by
 * slot, and freeing them all. caio_uring_open and caio_uring_close (uring.c) call these.
 *
 * Included by uring.c after struct uring_backend (TinyCC compiles each backend's
 * file on its own).
 */
#ifndef CAIO_URING_SETUP_H
#define CAIO_URING_SETUP_H

/*
 * Creates the ring for b->capacity ops in flight with the IORING_SETUP_* flags of
 * `required`, leaving those of `avoid` untried.
 */
static int setup_ring(struct uring_backend *b, uint32_t required, uint32_t avoid, struct io_uring_params *p)
{
	uint64_t capacity = b->capacity;
	/* A chain takes up to CHAIN_MAX_SQES entries: a batch of them all goes in one call. */
	unsigned sq_entries = (unsigned)(CHAIN_MAX_SQES * capacity < MAX_SQ_ENTRIES ? CHAIN_MAX_SQES * capacity : MAX_SQ_ENTRIES);
	/*
	 * Room for every op in flight as a chain (one CQE per step) plus a cancellation of
	 * each step, up to 8192 ops; cq_room() budgets the rest.
	 */
	unsigned cq_entries =
		(unsigned)(2 * CHAIN_MAX_SQES * capacity < MAX_CQ_ENTRIES ? 2 * CHAIN_MAX_SQES * capacity : MAX_CQ_ENTRIES);

	return ring_setup(&b->ring, sq_entries, cq_entries, required, avoid, p);
}

/*
 * Creates a ring with a polling thread (CAIO_URING_SQPOLL); 0, or -errno with no
 * ring left behind. One whose thread can only use registered files (before 5.11)
 * is closed and refused: caio's ops take plain descriptors.
 */
static int setup_sqpoll_ring(struct uring_backend *b, uint32_t option, struct io_uring_params *p)
{
	int ret;

	if (option & CAIO_URING_REFUSE_SQPOLL)
		return -EPERM;
	ret = setup_ring(b, IORING_SETUP_SQPOLL, option | SQPOLL_EXCLUDES, p);
	if (ret < 0 || (p->features & IORING_FEAT_SQPOLL_NONFIXED))
		return ret;
	close(b->ring.fd);
	ring_init(&b->ring);
	return -EOPNOTSUPP;
}

/* -ENOSYS unless the kernel has every opcode caio requires; sets b->ring_ops (uring_sqe.h). */
static int check_opcodes(struct uring_backend *b)
{
	struct io_uring_probe *probe = NULL;
	int ret = ring_probe(&b->ring, &probe);

	if (ret != 0)
		return ret;
	ret = sqe_opcodes(probe, &b->ring_ops);
	free(probe);
	return ret;
}

/* Takes the file operations off the ring (CAIO_URING_NO_FILE_OPS): they all go to the pool. */
static void drop_file_ops(struct uring_backend *b)
{
	for (uint32_t code = 0; code <= CAIO_OP_MAX; code++) {
		if (fileop_is((uint16_t)code))
			b->ring_ops &= ~(1U << code);
	}
}

/* Sets up the ring, learns its opcodes and maps it; 0 or -errno (free_backend undoes what was done). */
static int open_ring(struct uring_backend *b, uint32_t option)
{
	struct io_uring_params p;
	int ret = -EINVAL;

	if (option & CAIO_URING_SQPOLL)
		ret = setup_sqpoll_ring(b, option, &p);
	if (ret < 0)
		ret = setup_ring(b, 0, option, &p);
	if (ret < 0)
		return ret;
	/* Without NODROP (5.5) an overflowing CQ loses completions; refuse such kernels. */
	ret = (p.features & IORING_FEAT_NODROP) ? check_opcodes(b) : -ENOSYS;
	if (ret < 0)
		return ret;
	if (option & CAIO_URING_NO_FILE_OPS)
		drop_file_ops(b);
	ret = ring_map(&b->ring, &p);
	if (ret == 0 && ring_has(b, CAIO_OP_OPENAT) && ring_has(b, CAIO_OP_CLOSE))
		chains_open(&b->chains, &b->ring, b->capacity);
	return ret;
}

static int open_wake(struct uring_backend *b)
{
	int ret = wake_open(&b->wake, true);

	if (ret < 0)
		return ret;
	return ring_register(&b->ring, IORING_REGISTER_EVENTFD, &b->wake.event_fd, 1);
}

/* The tables kept by slot; -ENOMEM when one cannot be had. */
static int alloc_slots(struct uring_backend *b, uint32_t capacity)
{
	b->via = calloc(capacity, 1);
	b->early_res = calloc(capacity, sizeof(*b->early_res));
	b->owned = calloc(capacity, 1);
	b->held = calloc(capacity, sizeof(*b->held));
	b->staged = calloc(capacity, sizeof(*b->staged));
	b->refused = calloc(capacity, sizeof(*b->refused));
	if (!b->via || !b->early_res || !b->owned || !b->held || !b->staged || !b->refused)
		return -ENOMEM;
	return 0;
}

static void free_backend(struct uring_backend *b)
{
	/* The workers finish what they hold before the socket they write goes. */
	workers_stop(&b->pool);
	/* The ring first: once it is gone nothing signals the eventfd the relay reads. */
	ring_close(&b->ring);
	wake_close(&b->wake);
	workers_free(&b->pool);
	free(b->via);
	free(b->early_res);
	free(b->owned);
	free(b->held);
	free(b->staged);
	free(b->refused);
	chains_free(&b->chains);
	free(b);
}

#endif
