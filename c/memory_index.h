/*
 * memory.c's fast index beside its tree of ranges: blocks that start on a page, by
 * start address, in an open-addressing table (linear probing, power-of-two size, at
 * most half full). Almost every op's memory begins in
 * its block's first page (allocAligned(), read()'s buffers, bounce regions), so a hold
 * finds its block with one or two probes instead of a walk down the tree; memory
 * further into a block falls back to the tree.
 *
 * Included by memory.c after struct caio_mem_block; every function runs under its lock.
 */
#ifndef CAIO_MEMORY_INDEX_H
#define CAIO_MEMORY_INDEX_H

static struct caio_mem_block **by_start;
static size_t by_start_size, by_start_count;

static size_t start_slot(uintptr_t start, size_t size)
{
	/* Starts are page multiples: drop the zero bits, then mix (Fibonacci hashing). */
	return (size_t)(((uint64_t)(start >> 12) * 0x9E3779B97F4A7C15ull) >> 32) & (size - 1);
}

static void by_start_put(struct caio_mem_block **table, size_t size, struct caio_mem_block *b)
{
	size_t i = start_slot(b->start, size);

	while (table[i])
		i = (i + 1) & (size - 1);
	table[i] = b;
}

/* Makes room for one more block; false when the table cannot grow (the tree still has it). */
static bool by_start_reserve(void)
{
	size_t size = by_start_size ? by_start_size * 2 : 256;
	struct caio_mem_block **table;

	if ((by_start_count + 1) * 2 <= by_start_size)
		return true;
	table = calloc(size, sizeof(*table));
	if (!table)
		return false;
	for (size_t i = 0; i < by_start_size; i++) {
		if (by_start[i])
			by_start_put(table, size, by_start[i]);
	}
	free(by_start);
	by_start = table;
	by_start_size = size;
	return true;
}

static void by_start_add(struct caio_mem_block *b)
{
	if (b->start % PAGE != 0 || !by_start_reserve())
		return;
	by_start_put(by_start, by_start_size, b);
	by_start_count++;
}

/* The block starting at `start`, if it is in the table. */
static struct caio_mem_block *by_start_find(uintptr_t start)
{
	if (by_start_count == 0)
		return NULL;
	for (size_t i = start_slot(start, by_start_size); by_start[i]; i = (i + 1) & (by_start_size - 1)) {
		if (by_start[i]->start == start)
			return by_start[i];
	}
	return NULL;
}

/* Removes b if present, moving later entries of its probe run back so every lookup still reaches them. */
static void by_start_remove(struct caio_mem_block *b)
{
	size_t mask = by_start_size - 1, i, j;

	if (by_start_count == 0)
		return;
	for (i = start_slot(b->start, by_start_size); by_start[i] != b; i = (i + 1) & mask) {
		if (!by_start[i])
			return;
	}
	by_start[i] = NULL;
	by_start_count--;
	for (j = (i + 1) & mask; by_start[j]; j = (j + 1) & mask) {
		size_t home = start_slot(by_start[j]->start, by_start_size);

		/* Entry j may move into the hole at i unless its home lies cyclically in (i, j]. */
		if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
			by_start[i] = by_start[j];
			by_start[j] = NULL;
			i = j;
		}
	}
}

#endif
