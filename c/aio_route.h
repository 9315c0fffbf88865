/*
 * Where the "linux" backend sends each op (aio.c): kernel AIO when io_submit only
 * queues it, the thread pool when io_submit would do it inline, or at once with an
 * error. Descriptors are looked at through b->memo, reset for each submitting call
 * (the caller may close a number and reuse it between calls), except a File's
 * (CAIO_OP_F_OWNED) for reads and syncs, kept in b->files until a CLOSE of it goes
 * by: a write's route depends on the file's size, which moves.
 *
 * Included by aio.c after struct aio_backend (compiled one by one under TinyCC).
 */
#ifndef CAIO_AIO_ROUTE_H
#define CAIO_AIO_ROUTE_H

/* Bytes a write moves: its length, or its iovecs' total (a count the kernel would refuse is left to it). */
static uint64_t write_bytes(const struct caio_op *op)
{
	const struct iovec *iov = (const struct iovec *)(uintptr_t)op->buf;
	uint64_t total = 0;

	if (op->opcode == CAIO_OP_WRITE)
		return op->len;
	if (op->len > CAIO_IOV_MAX)
		return 0;
	for (uint32_t i = 0; i < op->len; i++)
		total += iov[i].iov_len;
	return total;
}

/*
 * Whether kernel AIO queues this op on an O_DIRECT descriptor and returns, rather
 * than doing it inside io_submit: reads and fsyncs of local regular files and block
 * devices (fsync runs on a kernel workqueue since 4.18), and writes that neither
 * extend the file (ext4 and XFS wait for those; the size is checked once per
 * submitting call, and O_APPEND always extends) nor cover part of a file-system
 * block (they wait for every O_DIRECT request in flight on the file).
 */
static bool aio_queues(const struct fd_facts *f, int flags, const struct caio_op *op)
{
	uint64_t bytes;

	if (f->err < 0 || f->remote || !(S_ISREG(f->mode) || S_ISBLK(f->mode)))
		return false;
	if (op->opcode != CAIO_OP_WRITE && op->opcode != CAIO_OP_WRITEV)
		return true;
	if (S_ISBLK(f->mode))
		return true;
	if (flags & O_APPEND)
		return false;
	bytes = write_bytes(op);
	if (op->offset + bytes > f->size)
		return false;
	return f->blksize == 0 || ((op->offset | bytes) % f->blksize) == 0;
}

/*
 * Where the pool cannot start (no thread, no memory): the kernel does the op
 * inline, as before the pool existed, except on a pipe, FIFO, socket or character
 * device, where buffered AIO could block forever: refused with ESPIPE, as pread(2)
 * refuses them.
 */
static enum via without_pool(struct aio_backend *b, struct fd_facts *f, uint32_t slot)
{
	fd_stat(f, &b->mounts);
	if (f->err == 0 && (S_ISFIFO(f->mode) || S_ISSOCK(f->mode) || S_ISCHR(f->mode))) {
		b->early_res[slot] = -ESPIPE;
		return VIA_EARLY;
	}
	return VIA_AIO;
}

/*
 * Decides where an op goes: kernel AIO when it only queues it (see aio_queues), the
 * pool otherwise. A descriptor costs one fcntl per submitting call, and an O_DIRECT
 * one a statx too; a bad descriptor completes at once with fcntl's error. File ops
 * always go to the pool, their descriptor unexamined (often AT_FDCWD, or about to
 * be closed); should no worker start, the submitting call runs them itself.
 */
/* Where `op`'s descriptor is looked up: a File's, unless the op writes (see the top of this file). */
static struct fd_memo *memo_for(struct aio_backend *b, const struct caio_op *op)
{
	bool writes = op->opcode == CAIO_OP_WRITE || op->opcode == CAIO_OP_WRITEV;

	return b->owned[op->user_data] && !writes ? &b->files : &b->memo;
}

static enum via route_of(struct aio_backend *b, const struct caio_op *op)
{
	struct fd_facts *f;
	int flags;

	if (fileop_is(op->opcode))
		return workers_usable(&b->pool) ? VIA_POOL : VIA_SYNC;
	f = fd_facts(memo_for(b, op), op->fd);
	flags = fd_flags(f);

	if (flags < 0) {
		if (memo_for(b, op) == &b->files)
			fd_memo_forget(&b->files, op->fd); /* a File's failure is not kept: the next call asks again */
		b->early_res[op->user_data] = flags;
		return VIA_EARLY;
	}
	if (flags & O_DIRECT) {
		fd_stat(f, &b->mounts);
		if (aio_queues(f, flags, op))
			return VIA_AIO;
	}
	return workers_usable(&b->pool) ? VIA_POOL : without_pool(b, f, op->user_data);
}

#endif
