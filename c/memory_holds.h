/*
 * memory.c's holds for the backends: the native block an op's memory lies wholly in,
 * held from submit until the op's completion is reaped (memory.h says why), and the
 * function table a backend compiled on its own (TinyCC) reaches them through. Kept
 * apart from allocation and the JavaScript side's references: this is what the
 * backends call, a batch at a time under one lock.
 *
 * Included by memory.c after the lock, the tree and the index (memory_index.h); the
 * functions marked so run under the lock.
 */
#ifndef CAIO_MEMORY_HOLDS_H
#define CAIO_MEMORY_HOLDS_H

static size_t op_bytes(const struct caio_op *op)
{
	switch (op->opcode & ~CAIO_OP_FLAGS) {
	case CAIO_OP_READ:
	case CAIO_OP_WRITE:
		return op->len;
	case CAIO_OP_READV:
	case CAIO_OP_WRITEV:
		return (size_t)op->len * sizeof(struct iovec);
	/* A path (STATX: its struct statx, then the path; RENAMEAT: both paths). */
	case CAIO_OP_OPENAT:
	case CAIO_OP_STATX:
	case CAIO_OP_UNLINKAT:
	case CAIO_OP_RENAMEAT:
	case CAIO_OP_MKDIRAT:
	/* READFILE: its steps' results, the data, then the path. */
	case CAIO_OP_READFILE:
	case CAIO_OP_WRITEFILE:
		return op->len;
	/* fsync, CLOSE, FTRUNCATE, FALLOCATE: no memory, so a flagged one is refused (-EFAULT). */
	default:
		return 0;
	}
}

/* Under the lock: holds the live block op's memory lies wholly in, or returns NULL. */
static struct caio_mem_block *hold_op_locked(const struct caio_op *op)
{
	struct caio_mem_block probe, *b;
	size_t bytes = op_bytes(op);
	void *node;

	if (bytes == 0 || op->buf == 0 || op->buf + bytes < op->buf)
		return NULL;
	probe.start = (uintptr_t)op->buf;
	probe.end = (uintptr_t)(op->buf + bytes);
	b = by_start_find(probe.start & ~(uintptr_t)(PAGE - 1));
	if (!b || probe.start < b->start || probe.end > b->end) {
		node = tfind(&probe, &tree, by_range);
		if (!node)
			return NULL;
		b = *(struct caio_mem_block **)node;
	}
	if (probe.start < b->start || probe.end > b->end)
		return NULL;
	b->refs++;
	live_holds++;
	return b;
}

static struct caio_mem_block *hold_op(const struct caio_op *op)
{
	struct caio_mem_block *b;

	pthread_mutex_lock(&lock);
	b = hold_op_locked(op);
	pthread_mutex_unlock(&lock);
	return b;
}

static void unhold(struct caio_mem_block *b)
{
	pthread_mutex_lock(&lock);
	live_holds--;
	put_locked(b);
	pthread_mutex_unlock(&lock);
}

/* One lock for a whole batch: at a million ops a second, a lock per op is a measurable share. */
static uint32_t hold_ops(const struct caio_op *ops, uint32_t n, struct caio_mem_block **held)
{
	uint32_t refused = 0;

	pthread_mutex_lock(&lock);
	for (uint32_t i = 0; i < n; i++) {
		if (!(ops[i].opcode & CAIO_OP_F_NATIVE))
			continue;
		held[ops[i].user_data] = hold_op_locked(&ops[i]);
		refused += held[ops[i].user_data] == NULL;
	}
	pthread_mutex_unlock(&lock);
	return refused;
}

static void unhold_done(struct caio_mem_block **held, const struct caio_done *done, uint32_t n)
{
	pthread_mutex_lock(&lock);
	for (uint32_t i = 0; i < n; i++) {
		struct caio_mem_block *b = held[done[i].user_data];

		if (!b)
			continue;
		held[done[i].user_data] = NULL;
		live_holds--;
		put_locked(b);
	}
	pthread_mutex_unlock(&lock);
}

static const struct caio_mem_api api = { hold_op, unhold, hold_ops, unhold_done };

#ifndef CAIO_MEM_API
struct caio_mem_block *caio_mem_hold_op(const struct caio_op *op)
{
	return hold_op(op);
}

void caio_mem_unhold(struct caio_mem_block *block)
{
	unhold(block);
}

uint32_t caio_mem_hold_ops(const struct caio_op *ops, uint32_t n, struct caio_mem_block **held)
{
	return hold_ops(ops, n, held);
}

void caio_mem_unhold_done(struct caio_mem_block **held, const struct caio_done *done, uint32_t n)
{
	unhold_done(held, done, n);
}
#endif

#endif
