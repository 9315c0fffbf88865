/*
 * Orphaned contexts: a backend whose JavaScript side is gone without close().
 *
 * A Bun Worker that is terminated (or simply ends) runs no JavaScript hook, so
 * nobody calls caio_X_close for the contexts it opened: their rings, AIO contexts,
 * threads and descriptors would stay forever. What does run is the exit of the
 * Worker's thread, and with it the destructors of its pthread keys. Every context is
 * registered, at open, in a list owned by the thread that opened it (contexts are only
 * ever used from that thread); the key's destructor hands whatever is still listed to
 * a reaper thread, whose close waits for the operations in flight like a normal close
 * and then frees all.
 *
 * The thread's exit is the signal rather than the wake socket's peer closing: that
 * socket also closes while JavaScript lives on (Bun refusing it makes caio fall back
 * to polling), and freeing a handle JavaScript still uses would be far worse than a leak.
 *
 * The main thread never runs key destructors (the process exits instead): nothing
 * to clean up then.
 *
 * Included by each backend's file (TinyCC compiles them one by one); the key and its
 * once-flag are per file, so each backend keeps its own list.
 */
#ifndef CAIO_OWNER_H
#define CAIO_OWNER_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

struct owner_link {
	struct owner_link *next;
	struct owner_link **prev; /* the pointer that points at this link */
	void *handle;
};

/* The backend's close, run for each context still listed when its thread exits. */
static int owner_close_orphan(void *handle);
/* True when only the opening thread may wait for the context's completions (io_uring's DEFER_TASKRUN). */
static bool owner_needs_owner_thread(void *handle);

static pthread_key_t owner_key;
static pthread_once_t owner_once = PTHREAD_ONCE_INIT;
static int owner_key_error;

#define OWNER_REAPER_STACK (64 * 1024)

static void *owner_reap(void *handle)
{
	owner_close_orphan(handle);
	return NULL;
}

/*
 * Closes an orphan on a detached thread of its own ("caio-reap"): the close waits for
 * the operations in flight, and Bun's terminate() waits for the Worker's thread to
 * exit, so waiting here would hold the main thread as long as the slowest operation
 * (forever for a read nobody answers). Inline only when no thread can be made.
 */
static void owner_close_later(void *handle)
{
	pthread_attr_t attr;
	pthread_t reaper;
	sigset_t all, old;
	size_t stack = OWNER_REAPER_STACK;
	int ret;

	if (owner_needs_owner_thread(handle)) {
		owner_close_orphan(handle);
		return;
	}
	if ((size_t)PTHREAD_STACK_MIN > stack)
		stack = (size_t)PTHREAD_STACK_MIN;
	ret = pthread_attr_init(&attr);
	if (ret == 0) {
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		pthread_attr_setstacksize(&attr, stack);
		/* The reaper inherits this mask: every signal stays with Bun's own threads. */
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		ret = pthread_create(&reaper, &attr, owner_reap, handle);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		pthread_attr_destroy(&attr);
	}
	if (ret == 0)
		pthread_setname_np(reaper, "caio-reap");
	else
		owner_close_orphan(handle);
}

/* Runs on the exiting thread with its list head; each context is unlinked and closed by a reaper. */
static void owner_thread_exit(void *head)
{
	struct owner_link *link = head;

	while (link) {
		struct owner_link *next = link->next;
		/* Unlinked first: close must not touch a list whose head the key no longer holds. */
		link->next = NULL;
		link->prev = NULL;
		owner_close_later(link->handle);
		link = next;
	}
}

/*
 * Keeps this shared object mapped for good: a destructor registered here runs at
 * every thread's exit, and a relay or pool thread may outlive a Worker, so the code
 * must never be unloaded under them. A TinyCC build has no file to pin (and is never
 * unloaded while Bun runs).
 */
static void owner_pin_library(void)
{
	Dl_info info;

	if (dladdr((void *)owner_thread_exit, &info) && info.dli_fname)
		(void)dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
}

static void owner_make_key(void)
{
	owner_key_error = pthread_key_create(&owner_key, owner_thread_exit);
	owner_pin_library();
}

/* Lists `handle` under the calling thread. Returns 0 or -errno (no key could be made). */
static int owner_register(struct owner_link *link, void *handle)
{
	struct owner_link *head;

	pthread_once(&owner_once, owner_make_key);
	if (owner_key_error)
		return -owner_key_error;
	head = pthread_getspecific(owner_key);
	link->handle = handle;
	link->next = head;
	link->prev = NULL;
	if (head)
		head->prev = &link->next;
	/* The head is the key's value; prev of the first link stays NULL and means "the key". */
	return -pthread_setspecific(owner_key, link);
}

/* Removes `link` from its thread's list (normal close, on that thread); a no-op when it is not listed. */
static void owner_unregister(struct owner_link *link)
{
	if (link->prev) {
		*link->prev = link->next;
		if (link->next)
			link->next->prev = link->prev;
	} else if (pthread_getspecific(owner_key) == link) {
		if (link->next)
			link->next->prev = NULL;
		pthread_setspecific(owner_key, link->next);
	}
	link->next = NULL;
	link->prev = NULL;
}

#endif
