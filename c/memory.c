/*
 * caio's own memory: blocks that stay mapped while any operation in flight may touch
 * them, whatever happens to the JavaScript heap that wrapped them (see memory.h).
 *
 * One mutex guards the tree of live blocks, the cache of freed mappings and every count. It is taken by the
 * JavaScript threads (alloc, ref, deallocators, which also run while a Worker's heap
 * is torn down) and by whoever releases a hold (a pool worker, a backend's reap or
 * close); it is never held across anything but bookkeeping and free()/munmap().
 * No atomics, so TinyCC compiles this file too.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <search.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>

#include "common.h"
#include "memory.h"

#define PAGE 4096u
#define MAX_ALIGNMENT (1u << 20)
/*
 * Blocks at least this large are their own mapping: zero pages for free, and kept for
 * reuse when freed (memory_cache.h). readable()'s 128 KiB page-aligned blocks are
 * mappings: glibc would serve them from fresh heap or its own mmap, faulting again
 * after each free. Smaller blocks do better in glibc's heap (read() of 64 KiB, freed by
 * the GC: 274 ms of CPU per GiB there against 307 as cached mappings).
 */
#define MAP_AT_LEAST (128u * 1024)
/* An iovec array has at most CAIO_IOV_MAX buffers, plus the bounce block they may share. */
#define MAX_ATTACHED (CAIO_IOV_MAX + 1)

struct caio_mem_block {
	uintptr_t start;       /* [start, end): the bytes JavaScript sees */
	uintptr_t end;
	void *base;            /* what free() or munmap() takes */
	size_t mapped;         /* mapping length; 0 for heap memory */
	uint32_t refs;         /* owners of the bytes: JavaScript, holds, blocks attached to */
	bool js_ref;           /* JavaScript's reference is one of refs */
	bool wrapped;          /* an ArrayBuffer still names this header as its deallocator's context */
	uint32_t nattached;
	struct caio_mem_block **attached; /* blocks this one keeps alive (caio_mem_attach) */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static void *tree;
static uint64_t live_blocks, live_bytes, live_holds, live_wrapped;

#include "memory_cache.h"
#include "memory_index.h"

/* Orders disjoint ranges; a range that overlaps a block compares equal to it. */
static int by_range(const void *a, const void *b)
{
	const struct caio_mem_block *x = a, *y = b;

	if (x->end <= y->start)
		return -1;
	return x->start >= y->end ? 1 : 0;
}

static size_t round_up(size_t n, size_t to)
{
	return (n + to - 1) & ~(to - 1);
}

/* A cached mapping for `len` bytes aligned to `alignment`, zero-filled if asked; false when none fits. */
static bool map_cached(struct caio_mem_block *b, size_t len, size_t alignment, bool zero)
{
	size_t bytes = round_up(len, PAGE);
	void *base;

	pthread_mutex_lock(&lock);
	base = cache_take(bytes, alignment);
	pthread_mutex_unlock(&lock);
	if (!base)
		return false;
	if (zero)
		memset(base, 0, len);
	b->base = base;
	b->mapped = bytes;
	return true;
}

/* A mapping of `len` bytes aligned to `alignment`: a cached one, or mmap's pages with the slack trimmed off. */
static int map_aligned(struct caio_mem_block *b, size_t len, size_t alignment, bool zero)
{
	size_t bytes = round_up(len, PAGE);
	size_t slack = alignment > PAGE ? alignment - PAGE : 0;
	uintptr_t start;
	char *p;

	if (map_cached(b, len, alignment < PAGE ? PAGE : alignment, zero))
		return 0;
	p = mmap(NULL, bytes + slack, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -ENOMEM;
	start = round_up((uintptr_t)p, alignment);
	if (start > (uintptr_t)p)
		munmap(p, start - (uintptr_t)p);
	if ((uintptr_t)p + bytes + slack > start + bytes)
		munmap((char *)start + bytes, (uintptr_t)p + bytes + slack - (start + bytes));
	b->base = (void *)start;
	b->mapped = bytes;
	return 0;
}

static int heap_aligned(struct caio_mem_block *b, size_t len, size_t alignment, bool zero)
{
	void *p;

	if (posix_memalign(&p, alignment < sizeof(void *) ? sizeof(void *) : alignment, len))
		return -ENOMEM;
	if (zero)
		memset(p, 0, len);
	b->base = p;
	b->mapped = 0;
	return 0;
}

static void free_bytes(struct caio_mem_block *b)
{
	if (b->mapped)
		munmap(b->base, b->mapped);
	else
		free(b->base);
}

/* Under the lock: frees b's bytes, or keeps a mapping in the cache for the next block of its size. */
static void free_or_cache_bytes_locked(struct caio_mem_block *b)
{
	if (!b->mapped || !cache_keep(b->base, b->mapped))
		free_bytes(b);
}

/*
 * Under the lock: drops one owner of b's bytes. The last one frees them, lets go of
 * the blocks b kept alive, and frees the header too unless an ArrayBuffer still names it.
 */
static void put_locked(struct caio_mem_block *b)
{
	struct caio_mem_block **attached;
	uint32_t n;

	if (--b->refs > 0)
		return;
	tdelete(b, &tree, by_range);
	by_start_remove(b);
	live_blocks--;
	live_bytes -= b->end - b->start;
	free_or_cache_bytes_locked(b);
	attached = b->attached;
	n = b->nattached;
	b->attached = NULL;
	b->nattached = 0;
	if (!b->wrapped)
		free(b);
	for (uint32_t i = 0; i < n; i++)
		put_locked(attached[i]);
	free(attached);
}

/*
 * Allocates `size` bytes (at least 1) aligned to `alignment` (a power of two up to
 * 1 MiB), zero-filled with CAIO_MEM_ZERO, and writes their address and handle to
 * `out`. JavaScript owns the one reference and must wrap the bytes at once in an
 * ArrayBuffer whose deallocator is caio_mem_info's `release`, with the handle as its
 * context. Returns 0, -EINVAL or -ENOMEM.
 */
CAIO_EXPORT int caio_mem_alloc(uint32_t size, uint32_t alignment, uint32_t flags, struct caio_mem_out *out)
{
	size_t len = size ? size : 1;
	struct caio_mem_block *b;
	int rc;

	if (!out || alignment == 0 || (alignment & (alignment - 1)) || alignment > MAX_ALIGNMENT)
		return -EINVAL;
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	if (len + alignment >= MAP_AT_LEAST)
		rc = map_aligned(b, len, alignment, flags & CAIO_MEM_ZERO);
	else
		rc = heap_aligned(b, len, alignment, flags & CAIO_MEM_ZERO);
	if (rc)
		goto err;
	b->start = (uintptr_t)b->base;
	b->end = b->start + len;
	b->refs = 1;
	b->js_ref = true;
	b->wrapped = true;
	pthread_mutex_lock(&lock);
	if (!tsearch(b, &tree, by_range)) {
		pthread_mutex_unlock(&lock);
		free_bytes(b);
		rc = -ENOMEM;
		goto err;
	}
	by_start_add(b);
	live_blocks++;
	live_bytes += len;
	live_wrapped++;
	pthread_mutex_unlock(&lock);
	out->bytes = b->start;
	out->handle = (uintptr_t)b;
	return 0;
err:
	free(b);
	return rc;
}

/*
 * The ArrayBuffer deallocator (JSTypedArrayBytesDeallocator): runs on whichever
 * JavaScript thread collects the ArrayBuffer (or tears its heap down), once.
 */
static void js_release(void *bytes, void *handle)
{
	struct caio_mem_block *b = handle;
	bool gone;

	(void)bytes;
	pthread_mutex_lock(&lock);
	b->wrapped = false;
	live_wrapped--;
	gone = b->refs == 0; /* bytes already freed: the header was only waiting for this */
	if (b->js_ref) {
		b->js_ref = false;
		put_locked(b); /* frees the header too when this was the last reference */
	} else if (gone) {
		free(b);
	}
	pthread_mutex_unlock(&lock);
}

/*
 * JavaScript lets go of a block before its ArrayBuffer is collected: it promises never
 * to touch those bytes again (they may be freed now). Idempotent. Returns 0.
 */
CAIO_EXPORT int caio_mem_drop(struct caio_mem_block *b)
{
	pthread_mutex_lock(&lock);
	if (b->js_ref) {
		b->js_ref = false;
		put_locked(b);
	}
	pthread_mutex_unlock(&lock);
	return 0;
}

/*
 * An extra owner for a block JavaScript references (an operation it holds itself
 * until its completion is reaped); caio_mem_unref releases it. Return 0.
 */
CAIO_EXPORT int caio_mem_ref(struct caio_mem_block *b)
{
	pthread_mutex_lock(&lock);
	b->refs++;
	pthread_mutex_unlock(&lock);
	return 0;
}

CAIO_EXPORT int caio_mem_unref(struct caio_mem_block *b)
{
	pthread_mutex_lock(&lock);
	put_locked(b);
	pthread_mutex_unlock(&lock);
	return 0;
}

/* The live block `handle` names, or NULL: `handle` comes from JavaScript. Under the lock. */
static struct caio_mem_block *live_locked(uint64_t handle)
{
	struct caio_mem_block *b = (struct caio_mem_block *)(uintptr_t)handle;
	void *node;

	if (!b)
		return NULL;
	node = tfind(b, &tree, by_range);
	return node && *(struct caio_mem_block **)node == b ? b : NULL;
}

/*
 * Makes `b` (an iovec array) keep the n blocks in `handles` alive until b's bytes
 * are freed, so holding b holds every buffer an op names. Once per block, and only
 * on blocks with no attachments. Returns 0, -EINVAL (a handle that is not a live
 * block, b already has attachments, n too large) or -ENOMEM.
 */
CAIO_EXPORT int caio_mem_attach(struct caio_mem_block *b, const uint64_t *handles, uint32_t n)
{
	struct caio_mem_block **attached;
	int rc = 0;

	if (n == 0)
		return 0;
	if (n > MAX_ATTACHED || !handles)
		return -EINVAL;
	attached = malloc(n * sizeof(*attached));
	if (!attached)
		return -ENOMEM;
	pthread_mutex_lock(&lock);
	for (uint32_t i = 0; i < n && rc == 0; i++) {
		attached[i] = live_locked(handles[i]);
		if (!attached[i] || attached[i]->nattached || attached[i] == b)
			rc = -EINVAL;
	}
	if (rc == 0 && (b->nattached || live_locked((uintptr_t)b) != b))
		rc = -EINVAL;
	if (rc == 0) {
		for (uint32_t i = 0; i < n; i++)
			attached[i]->refs++;
		b->attached = attached;
		b->nattached = n;
	}
	pthread_mutex_unlock(&lock);
	if (rc)
		free(attached);
	return rc;
}

#include "memory_holds.h"

/* The deallocator's and the function table's addresses, the live counts and the cache's. Returns 0. */
CAIO_EXPORT int caio_mem_info(struct caio_mem_info *out)
{
	pthread_mutex_lock(&lock);
	out->release = (uintptr_t)js_release;
	out->api = (uintptr_t)&api;
	out->blocks = live_blocks;
	out->bytes = live_bytes;
	out->holds = live_holds;
	out->wrapped = live_wrapped;
	out->cached = cache_count;
	out->cached_bytes = cache_bytes;
	pthread_mutex_unlock(&lock);
	return 0;
}
