/*
 * What aio.c and uring.c need to know about a descriptor to keep their submitting
 * call from waiting: its type, size, block size and open flags, and whether its file
 * system is served over a network or by a user-space daemon (FUSE, NFS, SMB, 9p,
 * Ceph, ...). io_submit and io_uring_enter run such reads inline, for the whole
 * round trip to the server; io_uring also returns wrong bytes for a short read from
 * FUSE (it reads on from the wrong offset, inline and from io-wq alike). Ops on
 * those descriptors go to a thread pool (workers.h) instead.
 *
 * Cost: descriptors are looked at once per submitting call, not once per op: a
 * batch of 64 reads on one file costs one statx. The file system's identity is
 * cached per mount (its 64-bit unique id since Linux 6.8, never reused; before
 * that the reusable mount id and device number), so only a mount seen for the first
 * time costs more. Nothing here waits for a server if it can help it: statx runs
 * with AT_STATX_DONT_SYNC (FUSE and NFS answer from their cache; 9p without a cache
 * still asks), and a new mount is classified with statmount (6.8+) or
 * /proc/self/mountinfo. fstatfs, which asks the server, is the last resort (kernels
 * before 5.8, a mount in another namespace before 6.8, statx refused).
 *
 * Included by each backend's file (they are compiled one by one under TinyCC).
 */
#ifndef CAIO_FSCLASS_H
#define CAIO_FSCLASS_H

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fileops.h" /* __NR_statx where the C library's headers lack it */

/* statmount(2) by its ABI, whatever the C library's headers know (statx's: fileops.h). */
#ifndef __NR_statmount
#define __NR_statmount 457 /* the same on every architecture (6.8+) */
#endif
#define FSC_AT_EMPTY_PATH 0x1000
#define FSC_AT_STATX_DONT_SYNC 0x4000
#define FSC_STATX_TYPE 0x1U
#define FSC_STATX_SIZE 0x200U
#define FSC_STATX_MNT_ID 0x1000U        /* 5.8 */
#define FSC_STATX_MNT_ID_UNIQUE 0x4000U /* 6.8; older kernels ignore the bit */
#define FSC_STATMOUNT_SB_BASIC 0x1U

struct fsc_statx {
	uint32_t mask;
	uint32_t blksize;
	uint64_t attributes;
	uint32_t nlink, uid, gid;
	uint16_t mode, spare0;
	uint64_t ino, size, blocks, attributes_mask;
	uint8_t times[64];
	uint32_t rdev_major, rdev_minor, dev_major, dev_minor;
	uint64_t mnt_id;
	uint64_t spare[13];
};

struct fsc_mnt_id_req {
	uint32_t size;
	uint32_t spare;
	uint64_t mnt_id;
	uint64_t param;
};

_Static_assert(sizeof(struct fsc_statx) == 256, "struct statx is 256 bytes");
_Static_assert(sizeof(struct fsc_mnt_id_req) == 24, "MNT_ID_REQ_SIZE_VER0");

/* Mounts remembered per backend; a program rarely touches more. */
#define MOUNT_CACHE_SIZE 16
/* Distinct descriptors remembered within one submitting call. */
#define FD_MEMO_SIZE 8

enum mount_key_kind {
	KEY_NONE = 0,
	KEY_UNIQUE, /* 64-bit mount id, never reused (6.8+) */
	KEY_MNT_ID, /* reusable mount id plus device (5.8+) */
	KEY_DEV,    /* device number only */
};

struct mount_entry {
	uint64_t id;
	uint32_t dev_major, dev_minor;
	uint8_t kind;
	bool remote;
};

struct mount_cache {
	struct mount_entry e[MOUNT_CACHE_SIZE];
	uint32_t next; /* replaced next, round robin */
};

/* What one submitting call learnt about a descriptor. */
struct fd_facts {
	int fd;
	bool known;   /* fd_stat has run: err and the fields below are set */
	int err;      /* 0, or the -errno statx returned (the fields below are then unset) */
	uint16_t mode;
	bool remote;  /* a regular file on a network or FUSE file system */
	uint32_t blksize;
	uint64_t size;
	int flags;    /* fcntl(F_GETFL), -errno if it failed, FLAGS_UNKNOWN until asked */
};

#define FLAGS_UNKNOWN INT32_MIN

struct fd_memo {
	struct fd_facts e[FD_MEMO_SIZE];
	uint32_t used, next;
};

static int fsc_statx(int fd, unsigned mask, struct fsc_statx *out)
{
	long ret = syscall(__NR_statx, fd, "", FSC_AT_EMPTY_PATH | FSC_AT_STATX_DONT_SYNC, mask, out);

	return ret < 0 ? -errno : 0;
}

/* File systems whose I/O waits for a server or a daemon, by superblock magic. */
static bool magic_is_remote(uint64_t magic)
{
	static const uint32_t remote[] = {
		0x65735546, /* FUSE, fuseblk, virtiofs (and glusterfs, sshfs, s3fs, ... through FUSE) */
		0x6969,     /* NFS */
		0xFF534D42, /* CIFS */
		0xFE534D42, /* SMB2 */
		0x517B,     /* SMB */
		0x01021997, /* 9p (v9fs) */
		0x00C36400, /* Ceph */
		0x5346414F, /* AFS (kAFS) */
		0x6B414653, /* AFS (OpenAFS) */
		0x0BD00BD0, /* Lustre */
		0x01161970, /* GFS2: cluster locks over the network */
		0x7461636F, /* OCFS2: likewise */
		0x73757245, /* Coda */
		0x47504653, /* GPFS (Spectrum Scale) */
		0x19830326, /* BeeGFS */
		0x20030528, /* OrangeFS / PVFS2 */
		0x564C,     /* NCP */
	};

	for (size_t i = 0; i < sizeof(remote) / sizeof(remote[0]); i++) {
		if (magic == remote[i])
			return true;
	}
	return false;
}

/* The same set by the type name /proc/self/mountinfo shows. */
static bool fstype_is_remote(const char *type)
{
	static const char *const remote[] = {
		"fuse",  "fuseblk", "virtiofs", "nfs",   "nfs4", "cifs",   "smb3",   "smbfs", "9p", "ceph",
		"afs",   "lustre",  "gfs2",     "ocfs2", "coda", "gpfs",   "beegfs", "pvfs2", "orangefs",
		"ncpfs", "glusterfs",
	};

	if (strncmp(type, "fuse.", 5) == 0)
		return true;
	for (size_t i = 0; i < sizeof(remote) / sizeof(remote[0]); i++) {
		if (strcmp(type, remote[i]) == 0)
			return true;
	}
	return false;
}

/* The superblock magic of the mount with this unique id (6.8+); 0 or -errno. */
static int statmount_magic(uint64_t unique_id, uint64_t *magic)
{
	struct fsc_mnt_id_req req = { .size = sizeof(req), .mnt_id = unique_id, .param = FSC_STATMOUNT_SB_BASIC };
	uint64_t buf[64] = { 0 }; /* struct statmount: u32 size, u32, u64 mask, u32 x2, u64 sb_magic, ... */

	if (syscall(__NR_statmount, &req, buf, sizeof(buf), 0) < 0)
		return -errno;
	if (!(buf[1] & FSC_STATMOUNT_SB_BASIC))
		return -ENOSYS;
	*magic = buf[3];
	return 0;
}

/* The type of the mount with this (reusable) id in /proc/self/mountinfo; 0 or -errno. */
static int mountinfo_remote(uint64_t mnt_id, bool *remote)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL, *sep, type[64];
	size_t cap = 0;
	int ret = -ENOENT;

	if (!f)
		return -errno;
	while (ret == -ENOENT && getline(&line, &cap, f) > 0) {
		/* "36 35 98:0 /root /mnt opts [optional fields] - ext4 /dev/vda rw" */
		if (strtoull(line, NULL, 10) != mnt_id || !(sep = strstr(line, " - ")))
			continue;
		if (sscanf(sep + 3, "%63s", type) != 1)
			break;
		*remote = fstype_is_remote(type);
		ret = 0;
	}
	free(line);
	fclose(f);
	return ret;
}

/*
 * Whether the file system `fd` is on waits for a server, for a mount not yet in
 * the cache. Asks the kernel's mount table first; fstatfs, which may ask the
 * server, only when that fails. A file system that cannot be identified counts as
 * remote: the pool serves any descriptor correctly, only more slowly.
 */
static bool classify_mount(int fd, const struct fsc_statx *st)
{
	struct fsc_statx old;
	struct statfs sfs;
	uint64_t magic = 0;
	bool remote = true;

	if ((st->mask & FSC_STATX_MNT_ID_UNIQUE) && statmount_magic(st->mnt_id, &magic) == 0)
		return magic_is_remote(magic);
	if (st->mask & FSC_STATX_MNT_ID_UNIQUE) {
		/* The id mountinfo shows is the reusable one. */
		if (fsc_statx(fd, FSC_STATX_MNT_ID, &old) == 0 && (old.mask & FSC_STATX_MNT_ID) &&
		    mountinfo_remote(old.mnt_id, &remote) == 0)
			return remote;
	} else if ((st->mask & FSC_STATX_MNT_ID) && mountinfo_remote(st->mnt_id, &remote) == 0) {
		return remote;
	}
	if (fstatfs(fd, &sfs) < 0)
		return true;
	return magic_is_remote((uint64_t)(unsigned long)sfs.f_type);
}

static struct mount_entry mount_key(const struct fsc_statx *st)
{
	struct mount_entry k = { .dev_major = st->dev_major, .dev_minor = st->dev_minor };

	if (st->mask & FSC_STATX_MNT_ID_UNIQUE)
		k.kind = KEY_UNIQUE;
	else if (st->mask & FSC_STATX_MNT_ID)
		k.kind = KEY_MNT_ID;
	else
		k.kind = KEY_DEV;
	k.id = k.kind == KEY_DEV ? 0 : st->mnt_id;
	return k;
}

/* Whether `fd`'s mount is remote: the cached answer, or classify_mount's, then cached. */
static bool mount_is_remote(struct mount_cache *c, int fd, const struct fsc_statx *st)
{
	struct mount_entry k = mount_key(st);

	for (uint32_t i = 0; i < MOUNT_CACHE_SIZE; i++) {
		const struct mount_entry *e = &c->e[i];

		if (e->kind == k.kind && e->id == k.id && e->dev_major == k.dev_major && e->dev_minor == k.dev_minor)
			return e->remote;
	}
	k.remote = classify_mount(fd, st);
	c->e[c->next] = k;
	c->next = (c->next + 1) % MOUNT_CACHE_SIZE;
	return k.remote;
}

/* Forgets what `m` knows of `fd` (a CLOSE of it went by: the number may come back for another file). */
static __attribute__((unused)) void fd_memo_forget(struct fd_memo *m, int fd)
{
	for (uint32_t i = 0; i < m->used; i++) {
		if (m->e[i].fd == fd) {
			m->e[i] = m->e[--m->used];
			m->next = 0;
			return;
		}
	}
}

/*
 * Marks by slot in owned[] the ops on a File's descriptor (CAIO_OP_F_OWNED), and
 * forgets from `files` each descriptor a CLOSE of the batch names, before anything of
 * the batch is routed: an op after the CLOSE may name a new file by that number.
 */
static __attribute__((unused)) void remember_files(const struct caio_op *ops, uint32_t n, uint8_t *owned,
						   struct fd_memo *files)
{
	for (uint32_t i = 0; i < n; i++) {
		owned[ops[i].user_data] = (ops[i].opcode & CAIO_OP_F_OWNED) != 0;
		if ((ops[i].opcode & ~CAIO_OP_FLAGS) == CAIO_OP_CLOSE)
			fd_memo_forget(files, ops[i].fd);
	}
}

/* Forgets the descriptors of the last submitting call: they may have been closed and reused since. */
static void fd_memo_reset(struct fd_memo *m)
{
	m->used = 0;
	m->next = 0;
}

/*
 * fstat's answer in statx's shape, where statx itself is refused (a seccomp profile
 * older than statx, kernels before 4.11); the mount is then known by its device.
 * fstat may ask a FUSE daemon when its attributes have expired.
 */
static int fstat_as_statx(int fd, struct fsc_statx *out)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	memset(out, 0, sizeof(*out));
	out->mask = FSC_STATX_TYPE | FSC_STATX_SIZE;
	out->mode = (uint16_t)st.st_mode;
	out->size = (uint64_t)st.st_size;
	out->blksize = (uint32_t)st.st_blksize;
	out->dev_major = major(st.st_dev);
	out->dev_minor = minor(st.st_dev);
	return 0;
}

/* What this submitting call remembers about `fd`, so far perhaps nothing (fd_stat, fd_flags). */
static struct fd_facts *fd_facts(struct fd_memo *m, int fd)
{
	struct fd_facts *f;

	for (uint32_t i = 0; i < m->used; i++) {
		if (m->e[i].fd == fd)
			return &m->e[i];
	}
	if (m->used < FD_MEMO_SIZE) {
		f = &m->e[m->used++];
	} else {
		f = &m->e[m->next];
		m->next = (m->next + 1) % FD_MEMO_SIZE;
	}
	memset(f, 0, sizeof(*f));
	f->fd = fd;
	f->flags = FLAGS_UNKNOWN;
	return f;
}

/* Fills in type, size, block size and remoteness: one statx the first time per call. */
static void fd_stat(struct fd_facts *f, struct mount_cache *c)
{
	struct fsc_statx st;

	if (f->known)
		return;
	f->known = true;
	f->err = fsc_statx(f->fd, FSC_STATX_TYPE | FSC_STATX_SIZE | FSC_STATX_MNT_ID_UNIQUE, &st);
	if (f->err == -ENOSYS || f->err == -EPERM)
		f->err = fstat_as_statx(f->fd, &st);
	if (f->err < 0)
		return;
	f->mode = st.mode;
	f->size = st.size;
	f->blksize = st.blksize;
	/* A block device's I/O goes to the device, whatever file system holds its node. */
	f->remote = S_ISREG(st.mode) && mount_is_remote(c, f->fd, &st);
}

/* The descriptor's open flags (one fcntl the first time), or -errno. */
static int fd_flags(struct fd_facts *f)
{
	if (f->flags == FLAGS_UNKNOWN) {
		f->flags = fcntl(f->fd, F_GETFL);
		if (f->flags < 0)
			f->flags = -errno;
	}
	return f->flags;
}

#endif
