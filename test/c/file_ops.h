/*
 * The file operations (CAIO_OP_OPENAT .. CAIO_OP_MKDIRAT, c/common.h), checked the
 * same way on every backend: a program includes this after harness.h and calls
 * check_file_ops(h) on an open handle. Paths live in one caio native block (as
 * JavaScript stages them) and every op is flagged CAIO_OP_F_NATIVE, so the holds
 * are checked too: all released once the completions are reaped. Names start with
 * CHECK_NAME, in the current directory.
 *
 * The name is not *_check.c, so test/native.test.ts does not build this file by itself.
 */
#ifndef CAIO_TEST_FILE_OPS_H
#define CAIO_TEST_FILE_OPS_H

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#define FO_ARENA 16384
#define FO_DIR CHECK_NAME ".dir"
#define FO_FILE FO_DIR "/file"
#define FO_MOVED FO_DIR "/moved"
#define FO_OTHER FO_DIR "/other"
#define FO_RENAME_NOREPLACE 1u /* RENAME_NOREPLACE */
#define FO_FALLOC_KEEP_SIZE 1u /* FALLOC_FL_KEEP_SIZE */

/* Bump allocation in one native block: the memory every op of a check names. */
struct fo_arena {
	struct caio_mem_out m;
	uint32_t used;
};

static struct fo_arena fo_arena_new(void)
{
	struct fo_arena a = { .used = 0 };

	CHECK_EQ(caio_mem_alloc(FO_ARENA, 4096, CAIO_MEM_ZERO, &a.m), 0);
	return a;
}

/* JavaScript lets go of the block and its ArrayBuffer is collected. */
static void fo_arena_free(struct fo_arena *a)
{
	CHECK_EQ(caio_mem_drop((struct caio_mem_block *)(uintptr_t)a->m.handle), 0);
	js_release((void *)(uintptr_t)a->m.bytes, (void *)(uintptr_t)a->m.handle);
}

static uint8_t *fo_reserve(struct fo_arena *a, uint32_t len)
{
	uint8_t *p = (uint8_t *)(uintptr_t)a->m.bytes + a->used;

	CHECK(a->used + len <= FO_ARENA);
	memset(p, 0, len);
	a->used = (a->used + len + 7) & ~7u;
	return p;
}

/* A path op whose memory is `path` with its NUL. */
static struct caio_op fo_path(struct fo_arena *a, uint16_t code, int dirfd, const char *path, uint64_t offset,
			      uint32_t ud)
{
	uint32_t len = (uint32_t)strlen(path) + 1;
	uint8_t *p = fo_reserve(a, len);

	memcpy(p, path, len);
	return OP(code | CAIO_OP_F_NATIVE, dirfd, p, len, offset, ud);
}

static struct caio_op fo_open(struct fo_arena *a, int dirfd, const char *path, uint32_t flags, uint32_t mode,
			      uint32_t ud)
{
	return fo_path(a, CAIO_OP_OPENAT, dirfd, path, flags | (uint64_t)mode << 32, ud);
}

/* A STATX op; *out is where its struct statx lands. */
static struct caio_op fo_statx(struct fo_arena *a, int dirfd, const char *path, uint32_t flags, uint32_t ud,
			       struct statx **out)
{
	uint32_t len = 256 + (uint32_t)strlen(path) + 1;
	uint8_t *p = fo_reserve(a, len);

	memcpy(p + 256, path, len - 256);
	*out = (struct statx *)(void *)p;
	return OP(CAIO_OP_STATX | CAIO_OP_F_NATIVE, dirfd, p, len, flags | (uint64_t)STATX_BASIC_STATS << 32, ud);
}

static struct caio_op fo_rename(struct fo_arena *a, const char *from, const char *to, uint32_t flags, uint32_t ud)
{
	uint32_t split = (uint32_t)strlen(from) + 1, len = split + (uint32_t)strlen(to) + 1;
	uint8_t *p = fo_reserve(a, len);

	memcpy(p, from, split);
	memcpy(p + split, to, len - split);
	return OP(CAIO_OP_RENAMEAT | CAIO_OP_F_NATIVE, AT_FDCWD, p, len, split | (uint64_t)flags << 32, ud);
}

/* Runs one op alone; its result. */
static int32_t fo_run(void *h, struct caio_op op)
{
	struct results r;

	run_batch(h, &op, 1, &r);
	return r.res[op.user_data];
}

static void fo_same_as_fstat(const struct statx *sx, int fd)
{
	struct stat st;

	CHECK_EQ(fstat(fd, &st), 0);
	CHECK((sx->stx_mask & STATX_BASIC_STATS) == STATX_BASIC_STATS);
	CHECK_EQ(sx->stx_ino, st.st_ino);
	CHECK_EQ(sx->stx_size, st.st_size);
	CHECK_EQ(sx->stx_mode, st.st_mode);
	CHECK_EQ(sx->stx_nlink, st.st_nlink);
	CHECK_EQ(sx->stx_uid, st.st_uid);
	CHECK_EQ(sx->stx_dev_major, major(st.st_dev));
	CHECK_EQ(sx->stx_dev_minor, minor(st.st_dev));
}

static off_t fo_size(int fd)
{
	struct stat st;

	CHECK_EQ(fstat(fd, &st), 0);
	return st.st_size;
}

static bool fo_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

/* Creates a directory and a file in it, relative to the cwd and to the directory's own fd. Returns the file's fd. */
static int fo_create(void *h, struct fo_arena *a, int *dirfd)
{
	int fd;

	CHECK_EQ(fo_run(h, fo_path(a, CAIO_OP_MKDIRAT, AT_FDCWD, FO_DIR, 0750, 1)), 0);
	CHECK_EQ(fo_run(h, fo_path(a, CAIO_OP_MKDIRAT, AT_FDCWD, FO_DIR, 0750, 1)), -EEXIST);
	*dirfd = fo_run(h, fo_open(a, AT_FDCWD, FO_DIR, O_RDONLY | O_DIRECTORY, 0, 2));
	CHECK(*dirfd >= 0);
	fd = fo_run(h, fo_open(a, *dirfd, "file", O_RDWR | O_CREAT | O_EXCL, 0640, 3));
	CHECK(fd >= 0);
	/* O_CLOEXEC is always added. */
	CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	CHECK(fcntl(*dirfd, F_GETFD) & FD_CLOEXEC);
	CHECK_EQ(fo_run(h, fo_open(a, AT_FDCWD, FO_FILE, O_RDWR | O_CREAT | O_EXCL, 0640, 3)), -EEXIST);
	return fd;
}

/* Data written through the new descriptor reads back; STATX by path and by fd agrees with fstat. */
static void fo_io_and_statx(void *h, struct fo_arena *a, int fd)
{
	static const char text[] = "file operations";
	char back[sizeof(text)] = { 0 };
	struct statx *by_path, *by_fd;
	struct caio_op ops[2];
	struct results r;

	CHECK_EQ(fo_run(h, OP(CAIO_OP_WRITE, fd, text, sizeof(text), 0, 4)), sizeof(text));
	CHECK_EQ(fo_run(h, OP(CAIO_OP_READ, fd, back, sizeof(back), 0, 5)), sizeof(text));
	CHECK(memcmp(back, text, sizeof(text)) == 0);
	ops[0] = fo_statx(a, AT_FDCWD, FO_FILE, 0, 6, &by_path);
	ops[1] = fo_statx(a, fd, "", AT_EMPTY_PATH, 7, &by_fd);
	run_batch(h, ops, 2, &r);
	CHECK_EQ(r.res[6], 0);
	CHECK_EQ(r.res[7], 0);
	fo_same_as_fstat(by_path, fd);
	fo_same_as_fstat(by_fd, fd);
	CHECK_EQ(by_fd->stx_size, sizeof(text));
	CHECK_EQ(by_fd->stx_mode & 0777, 0640 & ~umask(umask(0)));
}

/* FTRUNCATE both ways, FALLOCATE that grows the file and one that keeps its size. */
static void fo_sizes(void *h, int fd)
{
	int32_t res;

	CHECK_EQ(fo_run(h, OP(CAIO_OP_FTRUNCATE, fd, 0, 0, 100000, 8)), 0);
	CHECK_EQ(fo_size(fd), 100000);
	CHECK_EQ(fo_run(h, OP(CAIO_OP_FTRUNCATE, fd, 0, 0, 5, 8)), 0);
	CHECK_EQ(fo_size(fd), 5);
	/* buf is the length here, not an address. */
	res = fo_run(h, OP(CAIO_OP_FALLOCATE, fd, 8192, 0, 0, 9));
	if (res == -EOPNOTSUPP) {
		printf(CHECK_NAME ": fallocate unsupported by this file system: FALLOCATE part skipped\n");
		return;
	}
	CHECK_EQ(res, 0);
	CHECK_EQ(fo_size(fd), 8192);
	CHECK_EQ(fo_run(h, OP(CAIO_OP_FALLOCATE, fd, 65536, FO_FALLOC_KEEP_SIZE, 8192, 9)), 0);
	CHECK_EQ(fo_size(fd), 8192);
	CHECK_EQ(fo_run(h, OP(CAIO_OP_FTRUNCATE, -1, 0, 0, 0, 8)), -EBADF);
}

/* RENAMEAT moves the file; with RENAME_NOREPLACE it refuses an existing target. */
static void fo_renames(void *h, struct fo_arena *a)
{
	int other = open(FO_OTHER, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

	CHECK(other >= 0);
	close(other);
	CHECK_EQ(fo_run(h, fo_rename(a, FO_FILE, FO_MOVED, 0, 10)), 0);
	CHECK(!fo_exists(FO_FILE));
	CHECK(fo_exists(FO_MOVED));
	CHECK_EQ(fo_run(h, fo_rename(a, FO_MOVED, FO_OTHER, FO_RENAME_NOREPLACE, 10)), -EEXIST);
	CHECK_EQ(fo_run(h, fo_rename(a, FO_FILE, FO_OTHER, 0, 10)), -ENOENT);
}

/* Errors come back as the syscall's -errno; a path whose NUL is not within len never runs. */
static void fo_errors(void *h, struct fo_arena *a)
{
	struct statx *sx;
	struct caio_op op;
	uint8_t *p;

	CHECK_EQ(fo_run(h, fo_open(a, AT_FDCWD, CHECK_NAME ".missing/x", O_RDONLY, 0, 11)), -ENOENT);
	CHECK_EQ(fo_run(h, fo_open(a, AT_FDCWD, FO_MOVED "/x", O_RDONLY, 0, 11)), -ENOTDIR);
	CHECK_EQ(fo_run(h, fo_statx(a, AT_FDCWD, CHECK_NAME ".missing", 0, 12, &sx)), -ENOENT);
	CHECK_EQ(fo_run(h, fo_path(a, CAIO_OP_UNLINKAT, AT_FDCWD, FO_DIR, 0, 13)), -EISDIR);
	CHECK_EQ(fo_run(h, fo_path(a, CAIO_OP_UNLINKAT, AT_FDCWD, FO_DIR, AT_REMOVEDIR, 13)), -ENOTEMPTY);
	CHECK_EQ(fo_run(h, OP(CAIO_OP_CLOSE, -1, 0, 0, 0, 14)), -EBADF);
	/* "abc\0" with len 3: the NUL is in the block, but past what the op says it uses. */
	op = fo_path(a, CAIO_OP_OPENAT, AT_FDCWD, "abc", O_RDONLY, 15);
	op.len = 3;
	CHECK_EQ(fo_run(h, op), -EINVAL);
	op = fo_statx(a, AT_FDCWD, "", AT_EMPTY_PATH, 15, &sx);
	op.len = 256;
	CHECK_EQ(fo_run(h, op), -EINVAL);
	/* The split at len, or at 0, or old's NUL missing before it. */
	op = fo_rename(a, FO_MOVED, FO_OTHER, 0, 15);
	op.offset = op.len;
	CHECK_EQ(fo_run(h, op), -EINVAL);
	op.offset = 0;
	CHECK_EQ(fo_run(h, op), -EINVAL);
	op.offset = 3;
	CHECK_EQ(fo_run(h, op), -EINVAL);
	CHECK(fo_exists(FO_MOVED));
	/* Flagged with no memory to hold, or flagged with memory that is not caio's. */
	CHECK_EQ(fo_run(h, OP(CAIO_OP_CLOSE | CAIO_OP_F_NATIVE, -1, 0, 0, 0, 16)), -EFAULT);
	p = fo_reserve(a, 8);
	CHECK_EQ(fo_run(h, OP(CAIO_OP_FTRUNCATE | CAIO_OP_F_NATIVE, -1, p, 8, 0, 16)), -EFAULT);
	CHECK_EQ(fo_run(h, OP(CAIO_OP_MKDIRAT | CAIO_OP_F_NATIVE, AT_FDCWD, "x", 2, 0700, 16)), -EFAULT);
	/* Not flagged: the caller vouches for the memory, and the op runs. */
	CHECK_EQ(fo_run(h, OP(CAIO_OP_UNLINKAT, AT_FDCWD, CHECK_NAME ".missing", sizeof(CHECK_NAME ".missing"), 0, 17)),
		 -ENOENT);
}

/*
 * A CLOSE and an OPENAT in one batch (the number may be reused at once); then an
 * OPENAT cancelled at once, which may still succeed: its descriptor is closed here.
 */
static void fo_close_and_reopen(void *h, struct fo_arena *a, int fd)
{
	struct caio_op ops[2];
	struct results r;
	struct stat st, named;
	int32_t res;

	ops[0] = OP(CAIO_OP_CLOSE, fd, 0, 0, 0, 18);
	ops[1] = fo_open(a, AT_FDCWD, FO_MOVED, O_RDONLY, 0, 19);
	run_batch(h, ops, 2, &r);
	CHECK_EQ(r.res[18], 0);
	CHECK(r.res[19] >= 0);
	CHECK_EQ(fstat(r.res[19], &st), 0);
	CHECK_EQ(stat(FO_MOVED, &named), 0);
	CHECK_EQ(st.st_ino, named.st_ino);
	CHECK_EQ(fo_run(h, OP(CAIO_OP_CLOSE, r.res[19], 0, 0, 0, 18)), 0);
	CHECK_EQ(fo_run(h, OP(CAIO_OP_CLOSE, r.res[19], 0, 0, 0, 18)), -EBADF);

	ops[0] = fo_open(a, AT_FDCWD, FO_MOVED, O_RDONLY, 0, 20);
	CHECK_EQ(BACKEND(submit)(h, ops, 1), 1);
	CHECK_EQ(cancel_one(h, 20), 1);
	memset(&r, 0, sizeof(r));
	collect(h, &r, 1);
	expect_idle(h);
	res = r.res[20];
	CHECK(res >= 0 || res == -ECANCELED || res == -EINTR);
	if (res >= 0)
		CHECK_EQ(close(res), 0);
}

/* Removes what the check made: the files, then the directory (AT_REMOVEDIR). */
static void fo_remove(void *h, struct fo_arena *a, int dirfd)
{
	struct caio_op ops[2];
	struct results r;

	ops[0] = fo_path(a, CAIO_OP_UNLINKAT, AT_FDCWD, FO_MOVED, 0, 21);
	ops[1] = fo_path(a, CAIO_OP_UNLINKAT, dirfd, "other", 0, 22);
	run_batch(h, ops, 2, &r);
	CHECK_EQ(r.res[21], 0);
	CHECK_EQ(r.res[22], 0);
	CHECK_EQ(fo_run(h, OP(CAIO_OP_CLOSE, dirfd, 0, 0, 0, 23)), 0);
	CHECK_EQ(fo_run(h, fo_path(a, CAIO_OP_UNLINKAT, AT_FDCWD, FO_DIR, AT_REMOVEDIR, 24)), 0);
	CHECK(!fo_exists(FO_DIR));
}

static void check_file_ops(void *h)
{
	struct caio_mem_info before = mem_info(), after;
	struct fo_arena a = fo_arena_new();
	int dirfd, fd;

	fd = fo_create(h, &a, &dirfd);
	fo_io_and_statx(h, &a, fd);
	fo_sizes(h, fd);
	fo_renames(h, &a);
	fo_errors(h, &a);
	fo_close_and_reopen(h, &a, fd);
	fo_remove(h, &a, dirfd);
	after = mem_info();
	/* Every op held the block while in flight and let go once reaped. */
	CHECK_EQ(after.holds, before.holds);
	fo_arena_free(&a);
	after = mem_info();
	CHECK_EQ(after.blocks, before.blocks);
	CHECK_EQ(after.wrapped, before.wrapped);
}

#endif
