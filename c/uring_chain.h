/*
 * READFILE (common.h) on the ring as one linked chain, the way bench/ceiling-files.c
 * measures the kernel's ceiling: OPENAT into a slot of a sparse registered file table
 * (IOSQE_IO_LINK: a failed open cancels the rest), READ of up to cap bytes from that
 * slot at the file's position, a 1-byte READ there to see the end of the file, both
 * IOSQE_IO_HARDLINK (a short read, normal at the end of a small file, would break an
 * ordinary link and cancel the close), and CLOSE of the slot. One submission and no
 * descriptor in the process's table: a whole small file costs no round trip through
 * JavaScript between its steps, and no EMFILE.
 *
 * Each step posts its own CQE: user_data is the op's slot with the step above
 * STEP_SHIFT (the open keeps the bare slot, so a cancellation of the slot reaches
 * it), and the op completes when the last CQE owed is in, with readfile_outcome of
 * the steps' results (fileops.h), written into the op's own memory as they come.
 *
 * When chains are not used, READFILE goes to the pool (fileops.h's readfile_run):
 * - a kernel without sparse file tables (5.19) or direct opens, or a table the
 *   kernel refuses (RLIMIT_NOFILE);
 * - while any network or FUSE file system is mounted in this mount namespace. The
 *   open would run inline, on the JavaScript thread, for a whole round trip to the
 *   server once the path's dentries are cached (see route_of in uring.c), and the
 *   ring returns wrong bytes for a short FUSE read (fsclass.h). A path's file system
 *   is unknown until it is opened, and a symlink can lead anywhere, so the rule looks
 *   at the whole mount table, re-read whenever the kernel says it changed (poll on
 *   /proc/self/mountinfo);
 * - when every table slot is taken.
 *
 * Included by uring.c (TinyCC compiles each backend's file on its own).
 */
#ifndef CAIO_URING_CHAIN_H
#define CAIO_URING_CHAIN_H

#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "common.h"
#include "fileops.h"
#include "fsclass.h"
#include "ring.h"
#include "uring_sqe.h" /* URING_OP_FTRUNCATE */

/* The most SQEs a chain takes (a WRITEFILE with ftruncate and fdatasync). */
#define CHAIN_MAX_SQES WRITEFILE_STEPS
#define STEP_SHIFT 16
#define STEP_MASK 0xffULL
/* Table slots: chains in flight at once; more wait for the pool. */
#define CHAIN_TABLE_MAX 1024U

/* IORING_REGISTER_FILES2 and its sparse flag (5.19), by value: older headers lack them. */
#define URING_REGISTER_FILES2 13
#define URING_RSRC_REGISTER_SPARSE 1U

struct chain_register {
	uint32_t nr;
	uint32_t flags;
	uint64_t resv2;
	uint64_t data;
	uint64_t tags;
};

/* Whether a network or FUSE file system is mounted, kept current by polling the mount table. */
struct mount_watch {
	int fd; /* /proc/self/mountinfo, open for poll; -1 until first use, -2 if it cannot be */
	bool remote;
	bool checked; /* in this submitting call: one poll per call, not per op */
};

struct chains {
	uint32_t table_size; /* registered slots; 0 when this ring runs no chains */
	uint32_t free_count;
	uint32_t *free_fixed; /* stack of free table slots */
	uint32_t *fixed_of;   /* by op slot: its table slot */
	uint8_t *owed;        /* by op slot: CQEs still to come; 0 when the op is no chain */
	int32_t **results;    /* by op slot: where its steps' results go, in its own memory */
	bool *writes;         /* by op slot: a WRITEFILE's chain, not a READFILE's */
	struct mount_watch mounts;
};

/* Whether any mount in /proc/self/mountinfo is a network or FUSE file system; true if unreadable. */
static bool mount_table_remote(void)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL, *sep, type[64];
	size_t cap = 0;
	bool remote = false;

	if (!f)
		return true;
	while (!remote && getline(&line, &cap, f) > 0) {
		if ((sep = strstr(line, " - ")) && sscanf(sep + 3, "%63s", type) == 1)
			remote = fstype_is_remote(type);
	}
	free(line);
	fclose(f);
	return remote;
}

/*
 * Whether a network or FUSE file system is mounted now. One poll per call: the kernel
 * flags /proc/self/mountinfo (POLLPRI) after every mount or unmount, and only then is
 * the table read again. Without the file (no /proc) every answer is yes.
 */
static bool mounts_remote(struct mount_watch *m)
{
	struct pollfd p;

	if (m->fd == -1) {
		m->fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
		if (m->fd < 0) {
			m->fd = -2;
			return m->remote = true;
		}
		/* The first poll reports no change: read the table now. */
		m->remote = mount_table_remote();
		return m->remote;
	}
	if (m->fd < 0)
		return true;
	if (m->checked)
		return m->remote;
	m->checked = true;
	p.fd = m->fd;
	p.events = POLLPRI;
	p.revents = 0;
	if (poll(&p, 1, 0) != 0)
		m->remote = mount_table_remote();
	return m->remote;
}

static void chains_init(struct chains *c)
{
	memset(c, 0, sizeof(*c));
	c->mounts.fd = -1;
}

static uint32_t table_size_for(uint32_t capacity)
{
	struct rlimit files;
	uint32_t size = capacity < CHAIN_TABLE_MAX ? capacity : CHAIN_TABLE_MAX;

	/* The kernel refuses a table larger than RLIMIT_NOFILE (EMFILE). */
	if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < size)
		size = (uint32_t)files.rlim_cur;
	return size;
}

/*
 * Registers a sparse file table on the ring and the tables kept by slot. Leaves
 * c->table_size 0 (READFILE then goes to the pool) when the kernel or memory refuses;
 * never an error.
 */
static void chains_open(struct chains *c, struct ring *r, uint32_t capacity)
{
	uint32_t size = table_size_for(capacity);
	struct chain_register reg = { .nr = size, .flags = URING_RSRC_REGISTER_SPARSE };

	if (size == 0)
		return;
	c->free_fixed = calloc(size, sizeof(*c->free_fixed));
	c->fixed_of = calloc(capacity, sizeof(*c->fixed_of));
	c->owed = calloc(capacity, sizeof(*c->owed));
	c->results = calloc(capacity, sizeof(*c->results));
	c->writes = calloc(capacity, sizeof(*c->writes));
	if (!c->free_fixed || !c->fixed_of || !c->owed || !c->results || !c->writes)
		return;
	if (ring_register(r, URING_REGISTER_FILES2, &reg, sizeof(reg)) < 0)
		return;
	for (uint32_t i = 0; i < size; i++)
		c->free_fixed[i] = size - 1 - i;
	c->free_count = size;
	c->table_size = size;
}

static void chains_free(struct chains *c)
{
	if (c->mounts.fd >= 0)
		close(c->mounts.fd);
	free(c->free_fixed);
	free(c->fixed_of);
	free(c->owed);
	free(c->results);
	free(c->writes);
}

/* Starts a submitting call: the mount table is looked at again by its first READFILE. */
static void chains_new_batch(struct chains *c)
{
	c->mounts.checked = false;
}

/* Whether the next READFILE can take the ring (see the top of this file). */
static bool chains_usable(struct chains *c)
{
	return c->table_size > 0 && c->free_count > 0 && !mounts_remote(&c->mounts);
}

static bool chain_is(const struct chains *c, uint32_t slot)
{
	return c->table_size > 0 && c->owed[slot] > 0;
}

static void prep_chain_sqe(struct io_uring_sqe *sqe, uint8_t opcode, uint32_t slot, uint64_t step)
{
	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = opcode;
	sqe->user_data = slot | step << STEP_SHIFT;
}

/* An OPENAT into the chain's table slot (splice_fd_in is file_index in newer headers: the slot plus one). */
static void prep_chain_open(struct io_uring_sqe *sqe, const struct caio_op *op, uint32_t fixed, uint32_t mode)
{
	prep_chain_sqe(sqe, IORING_OP_OPENAT, op->user_data, STEP_OPEN);
	sqe->fd = op->fd;
	sqe->addr = op->buf + readfile_path_at(op);
	/* Without O_CLOEXEC: a direct descriptor is in no process's table, and the kernel refuses the flag (EINVAL). */
	sqe->open_flags = (uint32_t)op->offset & ~(uint32_t)O_CLOEXEC;
	sqe->len = mode;
	sqe->splice_fd_in = (int32_t)(fixed + 1);
	sqe->flags = IOSQE_IO_LINK; /* a failed open cancels the rest */
}

/* A step on the chain's table slot, hard-linked to the next: it runs whatever this one did. */
static void prep_chain_step(struct io_uring_sqe *sqe, uint8_t opcode, uint32_t slot, uint32_t fixed, uint64_t step)
{
	prep_chain_sqe(sqe, opcode, slot, step);
	sqe->fd = (int32_t)fixed;
	sqe->flags = IOSQE_FIXED_FILE | IOSQE_IO_HARDLINK;
}

static void prep_chain_close(struct io_uring_sqe *sqe, uint32_t slot, uint32_t fixed, uint64_t step)
{
	prep_chain_sqe(sqe, IORING_OP_CLOSE, slot, step);
	sqe->splice_fd_in = (int32_t)(fixed + 1);
}

/* The SQEs of a WRITEFILE: open, write, then ftruncate and fdatasync as its options ask, close. */
static uint32_t writefile_sqes(const struct caio_op *op)
{
	uint32_t options = writefile_word(op, WRITEFILE_OPTIONS);

	return 3 + !!(options & WRITEFILE_CUT) + !!(options & WRITEFILE_DATASYNC);
}

/* SQEs the chain of `op` (READFILE or WRITEFILE) takes. */
static uint32_t chain_sqes(const struct caio_op *op)
{
	return op->opcode == CAIO_OP_READFILE ? READFILE_STEPS : writefile_sqes(op);
}

/* READFILE: open, read up to cap, read 1 byte to see the end (both at the file's position), close. */
static void prep_readfile(struct io_uring_sqe *const *sqes, const struct caio_op *op, uint32_t fixed)
{
	uint32_t slot = op->user_data;

	prep_chain_open(sqes[0], op, fixed, 0);
	prep_chain_step(sqes[1], IORING_OP_READ, slot, fixed, STEP_READ);
	sqes[1]->addr = op->buf + READFILE_DATA;
	sqes[1]->len = readfile_cap(op);
	sqes[1]->off = (uint64_t)-1; /* the file's position (5.6) */
	prep_chain_step(sqes[2], IORING_OP_READ, slot, fixed, STEP_CONFIRM);
	sqes[2]->addr = op->buf + READFILE_SCRATCH;
	sqes[2]->len = 1;
	sqes[2]->off = (uint64_t)-1;
	prep_chain_close(sqes[3], slot, fixed, STEP_CLOSE);
}

/*
 * WRITEFILE: open, write all at the file's position, ftruncate to the length, fdatasync,
 * close. After a short or failed write the later steps still run (hard links), so the
 * file is always closed; the caller finishes a short write itself.
 */
static void prep_writefile(struct io_uring_sqe *const *sqes, const struct caio_op *op, uint32_t fixed)
{
	uint32_t slot = op->user_data, options = writefile_word(op, WRITEFILE_OPTIONS), k = 2;

	prep_chain_open(sqes[0], op, fixed, writefile_word(op, WRITEFILE_MODE));
	prep_chain_step(sqes[1], IORING_OP_WRITE, slot, fixed, WSTEP_WRITE);
	sqes[1]->addr = op->buf + WHOLE_DATA;
	sqes[1]->len = readfile_cap(op);
	sqes[1]->off = (uint64_t)-1;
	if (options & WRITEFILE_CUT) {
		prep_chain_step(sqes[k], URING_OP_FTRUNCATE, slot, fixed, WSTEP_CUT);
		sqes[k++]->off = readfile_cap(op);
	}
	if (options & WRITEFILE_DATASYNC) {
		prep_chain_step(sqes[k], IORING_OP_FSYNC, slot, fixed, WSTEP_SYNC);
		sqes[k++]->fsync_flags = IORING_FSYNC_DATASYNC;
	}
	prep_chain_close(sqes[k], slot, fixed, WSTEP_CLOSE);
}

/*
 * Writes the chain of `op` (READFILE or WRITEFILE, opcode without CAIO_OP_F_NATIVE,
 * memory held) into sqes[0..chain_sqes(op)) and takes a table slot for it; only when
 * chains_usable.
 */
static void chain_prep(struct chains *c, struct io_uring_sqe *const *sqes, const struct caio_op *op)
{
	uint32_t slot = op->user_data, fixed = c->free_fixed[--c->free_count];

	c->fixed_of[slot] = fixed;
	c->owed[slot] = (uint8_t)chain_sqes(op);
	c->writes[slot] = op->opcode == CAIO_OP_WRITEFILE;
	c->results[slot] = readfile_results(op);
	memset(c->results[slot], 0, (c->writes[slot] ? WRITEFILE_STEPS : READFILE_STEPS) * sizeof(int32_t));
	if (c->writes[slot])
		prep_writefile(sqes, op, fixed);
	else
		prep_readfile(sqes, op, fixed);
}

/* Gives the table slot of the chain in `slot` back: its CQEs are all in, or it was never submitted. */
static void chain_release(struct chains *c, uint32_t slot)
{
	c->free_fixed[c->free_count++] = c->fixed_of[slot];
	c->owed[slot] = 0;
}

/* The op slot a CQE's user_data names, chain step or not. */
static uint32_t chain_slot(uint64_t user_data)
{
	return (uint32_t)(user_data & 0xffff);
}

/*
 * Takes one CQE of the chain in its slot (chain_is), recording its step's result in
 * the op's memory. True when it was the last one owed: *res is then the op's.
 */
static bool chain_cqe(struct chains *c, uint64_t user_data, int32_t cqe_res, int32_t *res)
{
	uint32_t slot = chain_slot(user_data), step = (uint32_t)((user_data >> STEP_SHIFT) & STEP_MASK);

	if (step < (c->writes[slot] ? WRITEFILE_STEPS : READFILE_STEPS))
		c->results[slot][step] = cqe_res;
	if (--c->owed[slot] > 0)
		return false;
	*res = c->writes[slot] ? writefile_outcome(c->results[slot]) : readfile_outcome(c->results[slot]);
	chain_release(c, slot);
	return true;
}

/*
 * Cancellations a slot's op needs: one per step of a chain but its close, which always
 * runs (a step it does not have matches nothing: -ENOENT, dropped), else one.
 */
static uint32_t chain_cancel_sqes(const struct chains *c, uint32_t slot)
{
	if (!chain_is(c, slot))
		return 1;
	return (c->writes[slot] ? WRITEFILE_STEPS : READFILE_STEPS) - 1;
}

#endif
