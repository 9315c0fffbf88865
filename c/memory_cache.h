/*
 * memory.c's cache of freed mappings. A block of MAP_AT_LEAST bytes or more is its own
 * mapping, and a fresh mapping faults every page in on first touch: a stream handing
 * out each chunk in a new 128 KiB block spent more in page faults, mmap and munmap
 * than in copying (90-230 MiB/s against 2.5 GB/s). So a mapping whose block nothing
 * owns any more (put_locked: JavaScript's deallocator ran or it dropped the block, no
 * hold and no attachment is left) waits here, pages still faulted in, for the next
 * block of the same page-rounded length. When the cache is full the mappings freed
 * longest ago are unmapped to make room, so a size no longer asked for does not hold
 * the cache against the sizes in use.
 *
 * Cached mappings are not live: caio_mem_info counts them apart. Under AddressSanitizer
 * they are poisoned, so a write into memory already let go (a pool thread's pread) is
 * still reported, as it would be once unmapped; unpoisoned again before reuse or munmap.
 *
 * Included by memory.c; every function runs under its lock.
 */
#ifndef CAIO_MEMORY_CACHE_H
#define CAIO_MEMORY_CACHE_H

/* At most this many mappings, of at most this many bytes in all, each no larger than CACHE_LARGEST. */
#define CACHE_MAX_BLOCKS 256u
#define CACHE_MAX_BYTES (32u << 20)
#define CACHE_LARGEST (4u << 20)

#if defined(__SANITIZE_ADDRESS__)
#define CACHE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CACHE_ASAN 1
#endif
#endif

#ifdef CACHE_ASAN
#include <sanitizer/asan_interface.h>
#define cache_poison(base, bytes) ASAN_POISON_MEMORY_REGION(base, bytes)
#define cache_unpoison(base, bytes) ASAN_UNPOISON_MEMORY_REGION(base, bytes)
#else
#define cache_poison(base, bytes) ((void)(base), (void)(bytes))
#define cache_unpoison(base, bytes) ((void)(base), (void)(bytes))
#endif

struct cached_mapping {
	void *base;
	size_t mapped;
};

/* In the order they were freed, oldest first; searched from the newest, whose pages are the likeliest still in the CPU's caches. */
static struct cached_mapping cache[CACHE_MAX_BLOCKS];
static uint32_t cache_count;
static size_t cache_bytes;

/* Takes a cached mapping of exactly `mapped` bytes starting on a multiple of `alignment`; NULL when none. */
static void *cache_take(size_t mapped, size_t alignment)
{
	for (uint32_t i = cache_count; i-- > 0;) {
		void *base = cache[i].base;

		if (cache[i].mapped != mapped || (uintptr_t)base % alignment != 0)
			continue;
		memmove(&cache[i], &cache[i + 1], (cache_count - i - 1) * sizeof(cache[0]));
		cache_count--;
		cache_bytes -= mapped;
		cache_unpoison(base, mapped);
		return base;
	}
	return NULL;
}

/* Unmaps the mapping freed longest ago. */
static void cache_evict_oldest(void)
{
	struct cached_mapping oldest = cache[0];

	memmove(&cache[0], &cache[1], (cache_count - 1) * sizeof(cache[0]));
	cache_count--;
	cache_bytes -= oldest.mapped;
	cache_unpoison(oldest.base, oldest.mapped);
	munmap(oldest.base, oldest.mapped);
}

/* Keeps a mapping nothing owns any more, unmapping older ones to make room; false when it is too large to keep. */
static bool cache_keep(void *base, size_t mapped)
{
	if (mapped > CACHE_LARGEST)
		return false;
	while (cache_count == CACHE_MAX_BLOCKS || cache_bytes + mapped > CACHE_MAX_BYTES)
		cache_evict_oldest();
	cache_poison(base, mapped);
	cache[cache_count++] = (struct cached_mapping){ base, mapped };
	cache_bytes += mapped;
	return true;
}

#endif
