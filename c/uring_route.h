/*
 * Where each op of a batch goes on the uring backend: the ring (inline, or punted to
 * io-wq with IOSQE_ASYNC), a READFILE chain (uring_chain.h), the pool, or the
 * submitting call. The rules and the measurements behind them are beside each.
 *
 * Included by uring.c after struct uring_backend (TinyCC compiles each backend's
 * file on its own).
 */
#ifndef CAIO_URING_ROUTE_H
#define CAIO_URING_ROUTE_H

/*
 * A large buffered read that hits the page cache would otherwise be copied inline,
 * on the JavaScript thread inside io_uring_enter; punted to io-wq the copies run on
 * the other cores meanwhile (+10% on cached 1 MiB reads at 4 in flight here).
 * O_DIRECT reads are left alone: punted, each would hold a blocked io-wq worker for
 * the device's whole latency, capping the queue depth at the worker limit. The
 * fcntl, once per descriptor per submitting call, costs far less than copying 256 KiB.
 *
 * Smaller buffered reads that miss the cache stay inline too: the kernel starts the
 * readahead and never waits for the device inside io_uring_enter; a read whose data
 * arrives while the call still runs is copied as task work on its way out, the same
 * CPU a cached read costs (64 x 128 KiB: 20-26 ms of system time cold, 16-22 ms
 * cached, on the 2-vCPU development VM).
 */
#define ASYNC_READ_BYTES (256u * 1024)

/* How an op is issued: decided once per op from what the batch learnt about its descriptor. */
enum route {
	ROUTE_RING = 0,
	ROUTE_RING_ASYNC, /* the ring, with IOSQE_ASYNC */
	ROUTE_CHAIN,      /* a READFILE or WRITEFILE as a linked chain (uring_chain.h) */
	ROUTE_POOL,
	ROUTE_SYNC, /* the submitting call runs it (VIA_SYNC) */
};

static bool ring_has(const struct uring_backend *b, uint16_t code)
{
	return (b->ring_ops >> code) & 1;
}

/*
 * An op the ring should not (or cannot) run goes to the pool. Should no worker
 * start, the ring takes it after all, or, for an opcode the kernel lacks, the
 * submitting call runs it.
 */
static enum route off_ring(struct uring_backend *b, uint16_t code)
{
	if (workers_usable(&b->pool))
		return ROUTE_POOL;
	return ring_has(b, code) ? ROUTE_RING : ROUTE_SYNC;
}

/* Whether the ring has every opcode the chain of a READFILE or WRITEFILE needs. */
static bool chain_allowed(const struct uring_backend *b, const struct caio_op *op)
{
	if (op->opcode == CAIO_OP_READFILE)
		return true; /* OPENAT, READ, CLOSE: chains_open checked them */
	return !(writefile_word(op, WRITEFILE_OPTIONS) & WRITEFILE_CUT) || ring_has(b, CAIO_OP_FTRUNCATE);
}

/*
 * Path ops (OPENAT, STATX, UNLINKAT, RENAMEAT, MKDIRAT) always carry IOSQE_ASYNC.
 * Their file system is unknown until the kernel has looked the path up, and an
 * inline OPENAT without O_CREAT/O_TRUNC (the kernel runs every other path op in
 * io-wq anyway, 5.6+) would open a FUSE or NFS file on the JavaScript thread for a
 * whole round trip to the server: LOOKUP_CACHED only spares the path walk, and
 * fuse_open still asks its daemon (an NFSv4 open sends its OPEN) once every dentry
 * is cached. The price, from bench/uring-path-async.c on the loaded 2-vCPU
 * development VM (a cached file on ext4, 6.18): an OPENAT alone takes 11-23 us
 * instead of 5-7 us, 0.5 us of JavaScript-thread CPU instead of 0.5-1.1 us per open
 * in batches of 32, about twice the CPU in all; still 2-3x faster than the pool
 * (what Node does), and STATX costs the same either way (io-wq regardless).
 */

/*
 * Decides the route of one op of the batch being submitted. Descriptors are looked at
 * through b->memo, which caio_uring_submit resets for each call: a CLOSE may free a
 * number an OPENAT of the same batch reuses, but the new descriptor is known only
 * from a completion, so no op naming it can be in this batch, and the next batch
 * looks afresh. A File's descriptor (CAIO_OP_F_OWNED) is looked at through b->files
 * instead, kept until a CLOSE of it goes by (hold_batch): at queue depth 1 the statx
 * per call was about a third of a cached read's time. Path ops are not classified by
 * their fd (AT_FDCWD, or a directory).
 */
static enum route route_of(struct uring_backend *b, const struct caio_op *op)
{
	struct fd_facts *f;
	int flags;

	if (wholefile_is(op->opcode))
		return chain_allowed(b, op) && chains_usable(&b->chains) ? ROUTE_CHAIN : off_ring(b, op->opcode);
	if (!ring_has(b, op->opcode))
		return off_ring(b, op->opcode);
	if (fileop_has_path(op->opcode))
		return ROUTE_RING_ASYNC;
	f = fd_facts(b->owned[op->user_data] ? &b->files : &b->memo, op->fd);
	fd_stat(f, &b->mounts);
	if (f->err < 0) {
		int err = f->err;

		if (b->owned[op->user_data])
			fd_memo_forget(&b->files, op->fd); /* a File's failure is not kept: the next call asks again */
		/* A bad descriptor is the kernel's to report; one statx may not look at counts as remote. */
		return err == -EBADF ? ROUTE_RING : off_ring(b, op->opcode);
	}
	if (f->remote)
		return off_ring(b, op->opcode);
	if (op->opcode != CAIO_OP_READ || op->len < ASYNC_READ_BYTES || !S_ISREG(f->mode))
		return ROUTE_RING;
	flags = fd_flags(f);
	return flags >= 0 && !(flags & O_DIRECT) ? ROUTE_RING_ASYNC : ROUTE_RING;
}


/* SQEs `op` takes on the ring by this route. */
static uint32_t route_sqes(enum route route, const struct caio_op *op)
{
	return route == ROUTE_CHAIN ? chain_sqes(op) : route == ROUTE_POOL || route == ROUTE_SYNC ? 0 : 1;
}

#endif
