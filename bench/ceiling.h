/*
 * What the C ceiling programs (ceiling-reads.c, ceiling-files.c) share: failing with a
 * message, the monotonic clock, and taking a submission queue entry that must exist.
 * Each program defines PROGRAM (its name, for messages) before including this.
 */
#ifndef CAIO_BENCH_CEILING_H
#define CAIO_BENCH_CEILING_H

#include <errno.h>
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Prints "PROGRAM: what: strerror(err)" on stderr and exits 1: the bench shows that line. */
static void fail(const char *what, int err)
{
	fprintf(stderr, PROGRAM ": %s: %s\n", what, strerror(err));
	exit(1);
}

static double now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e9 + t.tv_nsec;
}

/* The ring is sized for everything the program keeps in flight, so an entry is always free. */
static struct io_uring_sqe *next_sqe(struct io_uring *ring)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

	if (!sqe)
		fail("io_uring_get_sqe", EBUSY);
	return sqe;
}

#endif
