/*
 * The contract every native backend exports (aio.c, and the ones that follow).
 *
 * JavaScript stages operations as an array of struct caio_op and hands the whole
 * batch over in one call; completions come back as an array of struct caio_done.
 * `user_data` is the scheduler's slot index (0 .. capacity-1), never a pointer.
 *
 * Every exported function returns >= 0 on success (a count, an fd or 0) and
 * -errno on failure. Nothing here prints, aborts or leaves errno for the caller.
 *
 * The seven functions, for a backend with prefix caio_X:
 *   int caio_X_open(uint32_t capacity, uint32_t option, void **out);
 *       option is backend-specific (thread count, setup flags to avoid); 0 = defaults
 *   int caio_X_submit(void *h, const struct caio_op *ops, uint32_t n);  -> ops consumed
 *   int caio_X_reap(void *h, struct caio_done *out, uint32_t max);      -> completions copied
 *   int caio_X_cancel(void *h, const uint32_t *slots, uint32_t n);     -> cancels taken
 *       asks the backend to cancel the in-flight ops in slots[0..n); returns how many
 *       were taken from the front (offer the rest again later) or -errno. Each op
 *       still completes exactly once through reap (-ECANCELED, or its own result if
 *       it was past cancelling). Call reap after it: completions it produced
 *       synchronously are announced on the wake socket only on a best-effort basis.
 *   int caio_X_wake_fd(void *h);
 *   int caio_X_info(void *h, struct caio_info *out);
 *   int caio_X_close(void *h);   only when nothing is in flight, or it waits for it
 */
#ifndef CAIO_COMMON_H
#define CAIO_COMMON_H

#include <errno.h>
#include <stdint.h>

#define CAIO_EXPORT __attribute__((visibility("default")))

enum caio_opcode {
	CAIO_OP_READ = 0,
	CAIO_OP_WRITE = 1,
	CAIO_OP_FSYNC = 2,
	CAIO_OP_FDSYNC = 3,
	/* Vectored: buf is the address of a struct iovec array, len its element count. */
	CAIO_OP_READV = 4,
	CAIO_OP_WRITEV = 5,
	/*
	 * File operations (issue "files, not only descriptors"). Paths are NUL-terminated
	 * bytes in caio's native memory (flagged CAIO_OP_F_NATIVE, held like a buffer);
	 * `len` counts every byte of that memory the op uses, NULs included. `fd` is the
	 * directory descriptor paths are relative to (AT_FDCWD = -100) unless noted.
	 */
	/*
	 * openat(fd, path at buf, flags = low 32 bits of offset, mode = high 32 bits): res =
	 * the new fd. The backend always adds O_CLOEXEC (as Node does).
	 */
	CAIO_OP_OPENAT = 6,
	/* close(fd); buf, len, offset 0. */
	CAIO_OP_CLOSE = 7,
	/*
	 * statx(fd, path, flags = low 32 bits of offset, mask = high 32 bits, out): buf is
	 * a block of len bytes, a struct statx (256 bytes) the result is written to, then
	 * the path ("" with AT_EMPTY_PATH to stat fd itself).
	 */
	CAIO_OP_STATX = 8,
	/* ftruncate(fd, length = offset). */
	CAIO_OP_FTRUNCATE = 9,
	/* fallocate(fd, mode = len, offset, length = buf): buf is a byte count here, not an address (never flagged). */
	CAIO_OP_FALLOCATE = 10,
	/* unlinkat(fd, path at buf, flags = offset: 0 or AT_REMOVEDIR). */
	CAIO_OP_UNLINKAT = 11,
	/*
	 * renameat2(fd, old, fd, new, flags = high 32 bits of offset): buf holds "old\0new\0"
	 * (len bytes); the low 32 bits of offset are the index of new's first byte in it.
	 */
	CAIO_OP_RENAMEAT = 12,
	/* mkdirat(fd, path at buf, mode = offset). */
	CAIO_OP_MKDIRAT = 13,
	/*
	 * A whole small file in one op: openat(fd, path, flags = low 32 bits of offset,
	 * O_CLOEXEC added), read(2) of up to `cap` = high 32 bits of offset bytes, a second
	 * read(2) of 1 byte to see the end of file, close. buf is a block of len bytes:
	 * int32 results of the four steps (open, read, confirming read, close: 0 until set),
	 * 16 bytes of scratch (the confirming read's byte), `cap` bytes of data, then the
	 * path. res is the first read's byte count when the confirming read found the end,
	 * else the first failed step's -errno (open first), else -EFBIG: the file holds more
	 * than cap bytes (or is endless), and the caller reads it in steps. The file is
	 * always closed. See fileops.h; uring.c links the four on the ring.
	 */
	CAIO_OP_READFILE = 14,
	/*
	 * A whole small file written in one op: openat(fd, path, flags = low 32 bits of
	 * offset, O_CLOEXEC added, mode), one write(2) of `len` = high 32 bits of offset
	 * bytes at the file's position, ftruncate to `len` and fdatasync when its options
	 * ask, close. buf is a block: int32 results of the five steps (open, write,
	 * ftruncate, fdatasync, close: 0 until set or when skipped), the mode (uint32 at
	 * byte 20) and options (uint32 at byte 24: 1 = ftruncate, 2 = fdatasync), the data
	 * from byte 32, then the path. res is the first failed step's -errno, else the bytes
	 * written (fewer than len: a short write, which the caller finishes itself). The file
	 * is always closed. See fileops.h; uring.c links the steps on the ring.
	 */
	CAIO_OP_WRITEFILE = 15,
	/*
	 * For every path op, each path's NUL must lie within its `len` bytes (STATX: after
	 * the 256-byte struct; RENAMEAT: old's before the split, new's after it), or the op
	 * completes with -EINVAL without running: nothing reads past the memory it holds.
	 * CLOSE, FTRUNCATE and FALLOCATE have no memory; flagged, they complete with -EFAULT.
	 * ioprio is ignored by all of them. STATX is the raw statx(2) syscall, no fstatat
	 * fallback: every kernel caio supports has it (4.11), and a sandbox that refuses it
	 * gets its error (-ENOSYS, -EPERM). A cancelled OPENAT may still succeed: its fd is
	 * the caller's to close. Where offset packs two 32-bit words, stage them as two words,
	 * not as one number: a statx mask of 0x200000 or more shifted up is past 2^53.
	 */
};

/* The highest opcode the backends accept. */
#define CAIO_OP_MAX CAIO_OP_WRITEFILE

/*
 * Set in an op's opcode by JavaScript when its memory (the bytes, or for READV/WRITEV
 * the iovec array) is caio's own (memory.h). The backend must hold it from submit until
 * the kernel or its worker is done with it, even when JavaScript is gone by then: see
 * memory.h for caio_mem_hold_op / caio_mem_unhold. Clear it before reading the opcode.
 */
#define CAIO_OP_F_NATIVE 0x8000u

/*
 * Set by JavaScript when the op's fd belongs to a File: caio opened it and only a
 * CLOSE through caio gives the number back. A backend may then keep what it learnt
 * about the descriptor (fsclass.h: its file system, type, open flags) across
 * submitting calls, until a CLOSE of that fd passes through it, instead of asking
 * the kernel once per call. Unflagged descriptors are looked at afresh each call:
 * the caller may close one and get the number back for another file at any time.
 */
#define CAIO_OP_F_OWNED 0x4000u
/* Every flag bit of the opcode field. */
#define CAIO_OP_FLAGS (CAIO_OP_F_NATIVE | CAIO_OP_F_OWNED)

/* Largest iovec count a vectored op may carry (UIO_MAXIOV). */
#define CAIO_IOV_MAX 1024

/* 32 bytes; the layout is mirrored by src/scheduler.ts (STAGE_* offsets). */
struct caio_op {
	uint64_t buf;       /* address of the caller's bytes (or iovec array); 0 for fsync */
	uint64_t offset;    /* file offset, < 2^53; file ops may pack two 32-bit words here (above) */
	uint32_t len;       /* bytes, <= 0x7ffff000; iovec count for READV/WRITEV */
	int32_t fd;
	uint32_t user_data; /* slot index */
	uint16_t opcode;    /* enum caio_opcode, | CAIO_OP_F_NATIVE */
	uint16_t ioprio;    /* ioprio_set(2) value; 0 = inherit */
};

/* 8 bytes; res is the syscall's result: bytes moved, 0, or -errno. */
struct caio_done {
	uint32_t user_data;
	int32_t res;
};

/* Counters read by ctx.stats and the tests; all monotonically increasing. */
struct caio_info {
	uint64_t submit_calls; /* submitting syscalls made (io_submit, io_uring_enter) and hand-offs to a pool */
	uint32_t capacity;     /* operations the backend accepts in flight */
	uint32_t features;     /* backend-specific flag bits that initialisation accepted */
};

/* For caio_X_cancel: -EINVAL unless n <= capacity and every slot is below capacity, else 0. */
static inline int caio_check_slots(uint32_t capacity, const uint32_t *slots, uint32_t n)
{
	if (n > capacity)
		return -EINVAL;
	for (uint32_t i = 0; i < n; i++) {
		if (slots[i] >= capacity)
			return -EINVAL;
	}
	return 0;
}

_Static_assert(sizeof(struct caio_op) == 32, "caio_op layout is shared with TypeScript");
_Static_assert(sizeof(struct caio_done) == 8, "caio_done layout is shared with TypeScript");
_Static_assert(sizeof(struct caio_info) == 16, "caio_info layout is shared with TypeScript");

#endif
