/*
 * The CQ budget and cancellations of the uring backend. The CQ never overflows, by
 * construction (see the top of uring.c): every SQE and cancellation the kernel took
 * owes one CQE until drain_cq consumes it, and submit and cancel take no more than
 * fits. Cancellations are one IORING_OP_ASYNC_CANCEL per request (per step of a
 * chain but its close), their own CQEs dropped.
 *
 * Included by uring.c after struct uring_backend (TinyCC compiles each backend's
 * file on its own).
 */
#ifndef CAIO_URING_BUDGET_H
#define CAIO_URING_BUDGET_H

/* Consumes the cancellation CQEs at the head of the CQ, which nobody is waiting for. */
static void drain_leading_cancels(struct uring_backend *b)
{
	unsigned head = ring_cq_head(&b->ring);
	unsigned tail = ring_cq_tail(&b->ring);

	while (head != tail && (ring_cqe(&b->ring, head)->user_data & CANCEL_TAG)) {
		head++;
		b->cancels_in_flight--;
	}
	ring_cq_consume(&b->ring, head);
}

static uint32_t cq_free(const struct uring_backend *b)
{
	return b->ring.cq_entries - b->in_flight - b->cancels_in_flight;
}

/*
 * CQEs the kernel may still post without overflowing the CQ: its size minus one
 * for every op and cancellation taken and not drained. When that is less than
 * `want`, first consumes the cancellation CQEs at the head of the CQ (flushing
 * held-back ones first if the kernel says so); ones behind an op's CQE wait for reap.
 */
static uint32_t cq_room(struct uring_backend *b, uint32_t want)
{
	if (cq_free(b) >= want || b->cancels_in_flight == 0)
		return cq_free(b);
	if (ring_needs_flush(&b->ring))
		ring_flush(&b->ring);
	drain_leading_cancels(b);
	return cq_free(b);
}

static uint32_t min2(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

/*
 * Free SQ entries. With SQPOLL a full SQ is one the polling thread is still taking
 * SQEs from: waits until it has taken some, since nothing else would come back to
 * submit the rest (no completion is owed for ops that never went out).
 */
static uint32_t sq_room(struct uring_backend *b)
{
	uint32_t space = ring_sq_space(&b->ring);

	if (space == 0 && (b->ring.setup_flags & IORING_SETUP_SQPOLL) && ring_sq_wait(&b->ring, &b->submit_calls) == 0)
		space = ring_sq_space(&b->ring);
	return space;
}

/*
 * Writes a cancellation for each of slots[0..) the ring holds, until `room` are
 * written or the slots run out. Returns how many slots it looked at; *sqes is how
 * many SQEs it wrote.
 */
static uint32_t prepare_cancels(struct uring_backend *b, const uint32_t *slots, uint32_t n, uint32_t room,
				uint32_t *sqes)
{
	uint32_t i, count = 0;

	for (i = 0; i < n; i++) {
		uint32_t need = chain_cancel_sqes(&b->chains, slots[i]);

		if (b->via[slots[i]] != VIA_RING)
			continue;
		if (count + need > room)
			break;
		/* A chain's steps: the open is the bare slot, the reads carry their step (uring_chain.h). */
		for (uint64_t step = 0; step < need; step++)
			prep_cancel(ring_sqe(&b->ring, count + (uint32_t)step), slots[i], slots[i] | step << STEP_SHIFT);
		count += need;
	}
	*sqes = count;
	return i;
}

/* Index in slots[] of the first ring slot none of whose cancellations the kernel took, after it took `taken`. */
static uint32_t ring_slot_index(const struct uring_backend *b, const uint32_t *slots, uint32_t taken)
{
	uint32_t i = 0;

	for (;; i++) {
		uint32_t need = chain_cancel_sqes(&b->chains, slots[i]);

		if (b->via[slots[i]] != VIA_RING)
			continue;
		if (taken == 0)
			return i;
		taken = taken > need ? taken - need : 0;
	}
}

/*
 * Cancels a prefix of slots[0..n): the ring's among the first ones, at most `room`,
 * in one io_uring_enter, and the pool's ones before the first the kernel did not
 * take. Returns how many slots that prefix holds (*more: the rest may follow now),
 * or -errno when it is empty.
 */
static int cancel_chunk(struct uring_backend *b, const uint32_t *slots, uint32_t n, uint32_t room, bool *more)
{
	uint32_t sqes, end = prepare_cancels(b, slots, n, room, &sqes);
	int ret = 0;

	*more = end < n;
	if (sqes > 0) {
		ret = ring_submit(&b->ring, sqes, &b->submit_calls);
		if (ret < (int)sqes) {
			end = ring_slot_index(b, slots, ret < 0 ? 0 : (uint32_t)ret);
			*more = false;
		}
		if (ret > 0)
			b->cancels_in_flight += (uint32_t)ret;
	}
	if (end > 0 && b->pool.started > 0)
		workers_cancel(&b->pool, slots, end, b->via, VIA_POOL);
	return end == 0 && ret < 0 ? ret : (int)end;
}

#endif
