/*
 * caio's own memory (memory.c): every byte a kernel or a pool thread may still
 * write (or read) after JavaScript has let go.
 *
 * A Bun Worker that is terminated frees its JavaScript heap at once, with no hook
 * caio could run first, so an ArrayBuffer is no place for memory an operation in
 * flight uses. memory.c allocates blocks natively and JavaScript wraps each one in an
 * ArrayBuffer whose deallocator (caio_mem_info's `release`) drops JavaScript's
 * reference. A block's bytes are freed (unmapped or returned to the heap, or kept for
 * the next block of their size: memory_cache.h) only once nothing owns it any more:
 *
 *   - JavaScript, until the deallocator runs (GC, the Worker's teardown) or it calls
 *     caio_mem_drop for a block it will never touch again;
 *   - each hold: an operation in flight on the block (caio_mem_hold_op / caio_mem_ref);
 *   - each block it was attached to (caio_mem_attach: an iovec array's buffers).
 *
 * Blocks are found by address (a tree of disjoint [start, end) ranges), so a
 * backend needs nothing but the op. The contract for the backends, with
 * CAIO_OP_F_NATIVE (common.h):
 *
 *   at submit, for each op whose opcode has CAIO_OP_F_NATIVE:
 *       struct caio_mem_block *held = caio_mem_hold_op(op);
 *       NULL: the memory is not caio's; complete the op with -EFAULT, never submit it.
 *       Otherwise keep `held` with the slot, and clear the flag before using the opcode.
 *   once the kernel (or worker) can no longer touch the op's memory, and exactly once:
 *       caio_mem_unhold(held);
 *     when its completion is seen (CQE, io_event, the worker's syscall returned), or
 *     when it ends without running (cancelled while queued, refused at submit after
 *     the hold), or when close / an orphaned context's clean-up drains it. Never
 *     before: a hold is what keeps the bytes mapped once JavaScript is gone.
 *
 * Under TinyCC each c/ file is compiled alone, so a backend cannot link memory.c's
 * functions: src/native/tinycc.ts compiles memory.c first and defines CAIO_MEM_API
 * (the address of its function table) for the other units; the names below work the
 * same either way.
 */
#ifndef CAIO_MEMORY_H
#define CAIO_MEMORY_H

#include <stdint.h>

struct caio_op;
struct caio_done;
struct caio_mem_block;

/* caio_mem_alloc's flags. */
#define CAIO_MEM_ZERO 1u

/* caio_mem_alloc's answer (16 bytes, read by src/bounce.ts). */
struct caio_mem_out {
	uint64_t bytes;  /* address of the first byte */
	uint64_t handle; /* the block: the deallocator's context, and what ref/unref/drop/attach take */
};

/* caio_mem_info's answer (64 bytes, read by src/bounce.ts and the tests). */
struct caio_mem_info {
	uint64_t release; /* the JSTypedArrayBytesDeallocator for toArrayBuffer: void (*)(void *bytes, void *handle) */
	uint64_t api;     /* struct caio_mem_api *, for TinyCC units (see above) */
	uint64_t blocks;  /* blocks whose bytes are allocated */
	uint64_t bytes;   /* their sizes, as asked */
	uint64_t holds;   /* holds by operations (caio_mem_hold_op) not yet released */
	uint64_t wrapped; /* blocks an ArrayBuffer still names (its deallocator has not run) */
	uint64_t cached;  /* freed mappings kept for reuse (memory_cache.h): no block's, not counted above */
	uint64_t cached_bytes;
};

/* Backend-facing functions, reached through a table under TinyCC. */
struct caio_mem_api {
	struct caio_mem_block *(*hold_op)(const struct caio_op *op);
	void (*unhold)(struct caio_mem_block *block);
	uint32_t (*hold_ops)(const struct caio_op *ops, uint32_t n, struct caio_mem_block **held);
	void (*unhold_done)(struct caio_mem_block **held, const struct caio_done *done, uint32_t n);
};

#ifdef CAIO_MEM_API
#define caio_mem_hold_op(op) ((CAIO_MEM_API)->hold_op(op))
#define caio_mem_unhold(block) ((CAIO_MEM_API)->unhold(block))
#define caio_mem_hold_ops(ops, n, held) ((CAIO_MEM_API)->hold_ops(ops, n, held))
#define caio_mem_unhold_done(held, done, n) ((CAIO_MEM_API)->unhold_done(held, done, n))
#else
/*
 * Holds the block that op's memory lies in (its bytes; for READV/WRITEV its iovec
 * array, whose buffers the block keeps alive itself). NULL when the whole range is
 * not inside one live caio block. Thread-safe.
 */
struct caio_mem_block *caio_mem_hold_op(const struct caio_op *op);
/* Releases a hold from caio_mem_hold_op; may free the block. Thread-safe. */
void caio_mem_unhold(struct caio_mem_block *block);
/*
 * caio_mem_hold_op for every op of ops[0..n) flagged CAIO_OP_F_NATIVE, under one lock
 * (the per-batch path): held[op.user_data] gets the block, or NULL when the memory is
 * not caio's. Returns how many flagged ops got NULL. Thread-safe.
 */
uint32_t caio_mem_hold_ops(const struct caio_op *ops, uint32_t n, struct caio_mem_block **held);
/* Releases held[done[i].user_data] (when not NULL) for each of done[0..n) and clears it, under one lock. */
void caio_mem_unhold_done(struct caio_mem_block **held, const struct caio_done *done, uint32_t n);
#endif

#endif
