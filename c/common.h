/*
 * The contract every native backend exports (aio.c, and the ones that follow).
 *
 * JavaScript stages operations as an array of struct caio_op and hands the whole
 * batch over in one call; completions come back as an array of struct caio_done.
 * `user_data` is the scheduler's slot index (0 .. capacity-1), never a pointer.
 *
 * Every exported function returns >= 0 on success (a count, an fd or 0) and
 * -errno on failure. Nothing here prints, aborts or leaves errno for the caller.
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
};

/* 32 bytes; the layout is mirrored by src/scheduler.ts (STAGE_* offsets). */
struct caio_op {
	uint64_t buf;       /* address of the caller's bytes; 0 for fsync */
	uint64_t offset;    /* file offset, < 2^53 */
	uint32_t len;       /* <= 0x7ffff000 */
	int32_t fd;
	uint32_t user_data; /* slot index */
	uint16_t opcode;    /* enum caio_opcode */
	uint16_t ioprio;    /* ioprio_set(2) value; 0 = inherit */
};

/* 8 bytes; res is the syscall's result: bytes moved, 0, or -errno. */
struct caio_done {
	uint32_t user_data;
	int32_t res;
};

/* Counters read by ctx.stats and the tests; all monotonically increasing. */
struct caio_info {
	uint64_t submit_calls; /* submitting syscalls made (io_submit, io_uring_enter) */
	uint32_t capacity;     /* operations the backend accepts in flight */
	uint32_t features;     /* backend-specific flag bits that initialisation accepted */
};

_Static_assert(sizeof(struct caio_op) == 32, "caio_op layout is shared with TypeScript");
_Static_assert(sizeof(struct caio_done) == 8, "caio_done layout is shared with TypeScript");
_Static_assert(sizeof(struct caio_info) == 16, "caio_info layout is shared with TypeScript");

#endif
