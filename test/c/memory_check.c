/*
 * Native checks for caio's own memory (c/memory.c): a block's bytes stay mapped
 * while JavaScript or any hold owns them, and are freed (header included) once the
 * last owner lets go, in any order. The deallocator is called the way JavaScriptCore
 * does, through the address caio_mem_info hands out. Under AddressSanitizer a use
 * after free or a leaked header fails the program.
 *
 * From the repository root:
 *   cc -std=gnu11 -O1 -g -Wall -Wextra -Werror -pthread -fsanitize=address,undefined \
 *      -fno-sanitize-recover=all -fno-omit-frame-pointer test/c/memory_check.c -o /tmp/memory_check &&
 *      /tmp/memory_check
 */
#include "../../c/memory.c"

#include <stdio.h>
#include <sys/uio.h>

#define CHECK(cond) check((cond), __LINE__, #cond)
#define CHECK_EQ(a, b) check_eq((long long)(a), (long long)(b), __LINE__, #a " == " #b)

static void check(bool ok, int line, const char *what)
{
	if (ok)
		return;
	fprintf(stderr, "memory_check: line %d: %s failed\n", line, what);
	exit(1);
}

static void check_eq(long long a, long long b, int line, const char *what)
{
	if (a == b)
		return;
	fprintf(stderr, "memory_check: line %d: %s failed (%lld != %lld)\n", line, what, a, b);
	exit(1);
}

typedef void (*deallocator)(void *bytes, void *context);

static struct caio_mem_info info(void)
{
	struct caio_mem_info out;

	CHECK_EQ(caio_mem_info(&out), 0);
	return out;
}

/* What JavaScriptCore does when the ArrayBuffer wrapping `m` is collected. */
static void collect(struct caio_mem_out m)
{
	deallocator release = (deallocator)(uintptr_t)info().release;

	release((void *)(uintptr_t)m.bytes, (void *)(uintptr_t)m.handle);
}

static struct caio_mem_out alloc(uint32_t size, uint32_t alignment, uint32_t flags)
{
	struct caio_mem_out m = { 0, 0 };

	CHECK_EQ(caio_mem_alloc(size, alignment, flags, &m), 0);
	CHECK(m.bytes != 0 && m.handle != 0);
	CHECK_EQ(m.bytes % alignment, 0);
	return m;
}

static struct caio_mem_block *block(struct caio_mem_out m)
{
	return (struct caio_mem_block *)(uintptr_t)m.handle;
}

static struct caio_op op(uint16_t opcode, uint64_t buf, uint32_t len)
{
	return (struct caio_op){ .buf = buf, .len = len, .opcode = opcode | CAIO_OP_F_NATIVE };
}

static void check_nothing_live(void)
{
	struct caio_mem_info now = info();

	CHECK_EQ(now.blocks, 0);
	CHECK_EQ(now.bytes, 0);
	CHECK_EQ(now.holds, 0);
	CHECK_EQ(now.wrapped, 0);
}

/* Heap and mapped blocks, at every alignment, come back aligned and (when asked) zero-filled. */
static void check_alloc(void)
{
	static const uint32_t sizes[] = { 0, 1, 100, 4096, 8192, 300000, 1u << 20, 3u << 20 };
	static const uint32_t alignments[] = { 1, 16, 512, 4096, 65536, 1u << 20 };

	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		for (size_t a = 0; a < sizeof(alignments) / sizeof(alignments[0]); a++) {
			struct caio_mem_out m = alloc(sizes[s], alignments[a], CAIO_MEM_ZERO);
			unsigned char *bytes = (unsigned char *)(uintptr_t)m.bytes;
			uint32_t len = sizes[s] ? sizes[s] : 1;

			for (uint32_t i = 0; i < len; i++)
				CHECK_EQ(bytes[i], 0);
			memset(bytes, 0xa5, len);
			CHECK_EQ(info().blocks, 1);
			CHECK_EQ(info().bytes, len);
			collect(m);
			check_nothing_live();
		}
	}
	{
		struct caio_mem_out m = { 0, 0 };

		CHECK_EQ(caio_mem_alloc(10, 3, 0, &m), -EINVAL);
		CHECK_EQ(caio_mem_alloc(10, 0, 0, &m), -EINVAL);
		CHECK_EQ(caio_mem_alloc(10, 2u << 20, 0, &m), -EINVAL);
		CHECK_EQ(caio_mem_alloc(10, 16, 0, NULL), -EINVAL);
		CHECK(m.handle == 0);
	}
	check_nothing_live();
}

/* A hold outlives JavaScript's reference: the bytes stay writable until the hold is released. */
static void check_hold_outlives_javascript(void)
{
	struct caio_mem_out m = alloc(8192, 4096, 0);
	struct caio_op read = op(CAIO_OP_READ, m.bytes + 4096, 4096);
	struct caio_mem_block *held = caio_mem_hold_op(&read);

	CHECK(held == block(m));
	CHECK_EQ(info().holds, 1);
	collect(m); /* the Worker is gone */
	CHECK_EQ(info().blocks, 1);
	CHECK_EQ(info().wrapped, 0);
	memset((void *)(uintptr_t)read.buf, 0x5a, read.len); /* the kernel still writes */
	caio_mem_unhold(held);
	check_nothing_live();

	/* The other order: the completion first, then the collection. */
	m = alloc(4096, 4096, 0);
	read = op(CAIO_OP_READ, m.bytes, 4096);
	held = caio_mem_hold_op(&read);
	caio_mem_unhold(held);
	CHECK_EQ(info().blocks, 1);
	collect(m);
	check_nothing_live();
}

/* Only ranges wholly inside one live block are caio's. */
static void check_hold_refuses(void)
{
	struct caio_mem_out m = alloc(4096, 4096, 0);
	char outside[64];
	struct caio_op ops[] = {
		op(CAIO_OP_READ, m.bytes + 1, 4096),          /* runs past the end */
		op(CAIO_OP_WRITE, m.bytes - 1, 2),            /* starts before it */
		op(CAIO_OP_READ, (uintptr_t)outside, 64),     /* not caio memory */
		op(CAIO_OP_READ, m.bytes, 0),                 /* nothing to hold */
		op(CAIO_OP_FSYNC, m.bytes, 4096),             /* no memory */
		op(CAIO_OP_READV, m.bytes, 4096 / sizeof(struct iovec) + 1),
		op(CAIO_OP_READ, UINT64_MAX - 8, 4096),       /* wraps around */
	};

	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		CHECK(caio_mem_hold_op(&ops[i]) == NULL);
	CHECK_EQ(info().holds, 0);
	{
		struct caio_op whole = op(CAIO_OP_WRITE, m.bytes, 4096);
		struct caio_op iov = op(CAIO_OP_WRITEV, m.bytes, 4096 / sizeof(struct iovec));
		struct caio_mem_block *a = caio_mem_hold_op(&whole), *b = caio_mem_hold_op(&iov);

		CHECK(a == block(m) && b == block(m));
		caio_mem_unhold(a);
		caio_mem_unhold(b);
	}
	collect(m);
	check_nothing_live();
}

/* caio_mem_drop frees the bytes at once; the header waits for the deallocator. */
static void check_drop(void)
{
	struct caio_mem_out m = alloc(4096, 16, 0);
	struct caio_op read = op(CAIO_OP_READ, m.bytes, 4096);
	struct caio_mem_block *held;

	CHECK_EQ(caio_mem_drop(block(m)), 0);
	CHECK_EQ(caio_mem_drop(block(m)), 0); /* idempotent */
	CHECK_EQ(info().blocks, 0);
	CHECK_EQ(info().wrapped, 1);
	CHECK(caio_mem_hold_op(&read) == NULL); /* freed bytes are no one's */
	collect(m);
	check_nothing_live();

	/* Dropped while held: freed when the hold goes, header when the deallocator runs. */
	m = alloc(300000, 4096, 0);
	read = op(CAIO_OP_READ, m.bytes, 300000);
	held = caio_mem_hold_op(&read);
	CHECK_EQ(caio_mem_drop(block(m)), 0);
	memset((void *)(uintptr_t)m.bytes, 1, 300000);
	CHECK_EQ(info().blocks, 1);
	caio_mem_unhold(held);
	CHECK_EQ(info().blocks, 0);
	collect(m);
	check_nothing_live();
}

/* JavaScript's own holds (caio_mem_ref / caio_mem_unref) count like a backend's. */
static void check_ref(void)
{
	struct caio_mem_out m = alloc(4096, 4096, 0);

	CHECK_EQ(caio_mem_ref(block(m)), 0);
	collect(m);
	memset((void *)(uintptr_t)m.bytes, 2, 4096);
	CHECK_EQ(info().blocks, 1);
	CHECK_EQ(caio_mem_unref(block(m)), 0);
	check_nothing_live();
}

/* An iovec array's block keeps its buffers alive: one hold covers the whole op. */
static void check_attach(void)
{
	struct caio_mem_out a = alloc(4096, 4096, 0), b = alloc(100, 16, 0);
	struct caio_mem_out iov = alloc(2 * sizeof(struct iovec), 16, 0);
	struct iovec *vec = (struct iovec *)(uintptr_t)iov.bytes;
	uint64_t handles[] = { a.handle, b.handle };
	struct caio_op readv = op(CAIO_OP_READV, iov.bytes, 2);
	struct caio_mem_block *held;

	vec[0] = (struct iovec){ (void *)(uintptr_t)a.bytes, 4096 };
	vec[1] = (struct iovec){ (void *)(uintptr_t)b.bytes, 100 };
	CHECK_EQ(caio_mem_attach(block(iov), handles, 2), 0);
	CHECK_EQ(caio_mem_attach(block(iov), handles, 2), -EINVAL); /* once */
	CHECK_EQ(caio_mem_attach(block(a), &iov.handle, 1), -EINVAL); /* no chains onto an iovec block */
	held = caio_mem_hold_op(&readv);
	CHECK(held == block(iov));
	collect(a);
	collect(b);
	CHECK_EQ(caio_mem_drop(block(iov)), 0);
	CHECK_EQ(info().blocks, 3);
	for (int i = 0; i < 2; i++)
		memset(vec[i].iov_base, 3, vec[i].iov_len); /* the worker fills both buffers */
	caio_mem_unhold(held);
	CHECK_EQ(info().blocks, 0);
	collect(iov);
	check_nothing_live();

	/* Handles that are not live blocks are refused, and nothing is attached. */
	a = alloc(64, 16, 0);
	iov = alloc(64, 16, 0);
	{
		uint64_t bad[] = { a.handle, (uintptr_t)&bad, 0 };

		CHECK_EQ(caio_mem_attach(block(iov), bad, 2), -EINVAL);
		CHECK_EQ(caio_mem_attach(block(iov), bad + 2, 1), -EINVAL);
		CHECK_EQ(caio_mem_attach(block(iov), &iov.handle, 1), -EINVAL);
		CHECK_EQ(caio_mem_attach(block(iov), bad, MAX_ATTACHED + 1), -EINVAL);
		CHECK_EQ(caio_mem_attach(block(iov), bad, 0), 0);
	}
	collect(a);
	CHECK_EQ(info().blocks, 1);
	collect(iov);
	check_nothing_live();
}

/* The TinyCC route: the table caio_mem_info publishes reaches the same functions. */
static void check_api_table(void)
{
	const struct caio_mem_api *table = (const struct caio_mem_api *)(uintptr_t)info().api;
	struct caio_mem_out m = alloc(4096, 4096, 0);
	struct caio_op write = op(CAIO_OP_WRITE, m.bytes, 4096);
	struct caio_mem_block *held = table->hold_op(&write);

	CHECK(held == block(m));
	collect(m);
	CHECK_EQ(info().blocks, 1);
	table->unhold(held);
	check_nothing_live();
}

/*
 * A freed mapping is reused for the next block of its page-rounded size: same bytes, no
 * longer counted live, zero-filled when asked. A block still held is not freed, so not
 * cached. The cache stays within its bounds however many blocks are freed at once,
 * and a size in use displaces the ones freed longest ago.
 */
static void check_cache(void)
{
	enum { MANY = 300 };
	static struct caio_mem_out many[MANY];
	struct caio_mem_out m = alloc(128 * 1024, 4096, 0), again;
	struct caio_op read = op(CAIO_OP_READ, m.bytes, 4096);
	struct caio_mem_block *held = caio_mem_hold_op(&read);
	uint64_t cached = info().cached, after;

	memset((void *)(uintptr_t)m.bytes, 0x77, 128 * 1024);
	collect(m);
	CHECK_EQ(info().cached, cached); /* held: the kernel may still write it */
	caio_mem_unhold(held);
	check_nothing_live();
	/* One more, less the older mappings it displaced if earlier checks left the cache full. */
	after = info().cached;
	CHECK(after >= 1 && after <= cached + 1);
	CHECK(info().cached_bytes <= CACHE_MAX_BYTES);
	again = alloc(128 * 1024 - 100, 4096, CAIO_MEM_ZERO);
	CHECK_EQ(again.bytes, m.bytes);
	CHECK_EQ(info().cached, after - 1);
	CHECK_EQ(((unsigned char *)(uintptr_t)again.bytes)[128 * 1024 - 101], 0);
	collect(again);
	again = alloc(256 * 1024, 4096, 0); /* another size: a mapping of its own */
	CHECK(again.bytes != m.bytes);
	collect(again);

	for (int i = 0; i < MANY; i++)
		many[i] = alloc(1u << 20, 4096, 0);
	for (int i = 0; i < MANY; i++)
		collect(many[i]);
	check_nothing_live();
	CHECK(info().cached <= CACHE_MAX_BLOCKS);
	CHECK(info().cached_bytes <= CACHE_MAX_BYTES);
	CHECK(info().cached < MANY);
	/* Full of 1 MiB mappings, the cache still keeps a 128 KiB one: the oldest make room. */
	m = alloc(128 * 1024, 4096, 0);
	collect(m);
	CHECK(info().cached_bytes <= CACHE_MAX_BYTES);
	again = alloc(128 * 1024, 4096, 0);
	CHECK_EQ(again.bytes, m.bytes);
	collect(again);
	m = alloc(CACHE_LARGEST + PAGE, 4096, 0); /* too large to keep */
	cached = info().cached;
	collect(m);
	CHECK_EQ(info().cached, cached);
}

#define THREADS 4
#define ROUNDS 20000

struct churn {
	struct caio_mem_out m;
	pthread_t thread;
};

/* A pool worker: holds and releases the block over and over while other threads do the same. */
static void *hold_loop(void *arg)
{
	struct churn *c = arg;
	struct caio_op read = op(CAIO_OP_READ, c->m.bytes, 4096);

	for (int i = 0; i < ROUNDS; i++) {
		struct caio_mem_block *held = caio_mem_hold_op(&read);

		CHECK(held != NULL);
		((volatile unsigned char *)(uintptr_t)c->m.bytes)[i % 4096] = (unsigned char)i;
		caio_mem_unhold(held);
	}
	return NULL;
}

/* Holds from several threads while blocks come and go on this one: the counts come out even. */
static void check_threads(void)
{
	struct churn c[THREADS];

	for (int t = 0; t < THREADS; t++) {
		c[t].m = alloc(4096, 4096, 0);
		CHECK_EQ(pthread_create(&c[t].thread, NULL, hold_loop, &c[t]), 0);
	}
	for (int i = 0; i < ROUNDS; i++)
		collect(alloc(4096, 4096, 0));
	for (int t = 0; t < THREADS; t++) {
		CHECK_EQ(pthread_join(c[t].thread, NULL), 0);
		collect(c[t].m);
	}
	check_nothing_live();
}

#define CHURN_BLOCKS 600
#define CHURN_ROUNDS 20000

/* xorshift: a fixed sequence, so a failure repeats. */
static uint32_t churn_random(uint32_t *state)
{
	*state ^= *state << 13;
	*state ^= *state >> 17;
	*state ^= *state << 5;
	return *state;
}

/*
 * Blocks of every kind come and go in random order (page-aligned ones go through the
 * start table, with its growth and backward-shift removals; the others only through the
 * tree). Every live block is found from its first byte, from inside its first page and
 * from further in, and a freed block is found by nothing, through the batch functions.
 */
static void check_lookup_churn(void)
{
	static struct caio_mem_out live[CHURN_BLOCKS];
	static const uint32_t sizes[] = { 16, 100, 4096, 8192, 65536, 300000 };
	static const uint32_t alignments[] = { 16, 64, 4096, 4096, 4096, 4096 };
	struct caio_mem_block *held[2] = { NULL, NULL };
	struct caio_done done[2] = { { 0, 0 }, { 1, 0 } };
	uint32_t state = 2463534242u;

	for (int round = 0; round < CHURN_ROUNDS; round++) {
		uint32_t i = churn_random(&state) % CHURN_BLOCKS;
		uint32_t kind = churn_random(&state) % 6;

		if (live[i].handle) {
			struct caio_mem_out m = live[i];
			uint32_t size = (uint32_t)(block(m)->end - block(m)->start);
			uint32_t inside = churn_random(&state) % size;
			struct caio_op ops[2] = { op(CAIO_OP_READ, m.bytes + inside, size - inside),
						  op(CAIO_OP_READ, m.bytes, size + 1) };

			ops[0].user_data = 0;
			ops[1].user_data = 1;
			CHECK_EQ(caio_mem_hold_ops(ops, 2, held), 1);
			CHECK(held[0] == block(m) && held[1] == NULL);
			caio_mem_unhold_done(held, done, 2);
			CHECK(held[0] == NULL);
			collect(m);
			ops[0].buf = m.bytes;
			ops[0].len = 1;
			CHECK(caio_mem_hold_op(&ops[0]) == NULL); /* freed: its bytes are no one's */
			live[i].handle = 0;
		} else {
			live[i] = alloc(sizes[kind], alignments[kind], 0);
		}
	}
	for (uint32_t i = 0; i < CHURN_BLOCKS; i++) {
		if (live[i].handle)
			collect(live[i]);
	}
	check_nothing_live();
}

int main(void)
{
	check_alloc();
	check_hold_outlives_javascript();
	check_hold_refuses();
	check_drop();
	check_ref();
	check_attach();
	check_api_table();
	check_threads();
	check_lookup_churn();
	check_cache();
	CHECK(tree == NULL);
	puts("memory_check: ok");
	return 0;
}
