/* Deadlines in milliseconds of the loop's monotonic clock: phase timeouts,
 * backoff waits, keep-alive expiry, DNS timeouts. The ring sleeps until the
 * earliest one (loop.c); nothing here touches the ring.
 *
 * The timers form an intrusive pairing heap: every link lives in struct
 * timer, so arming never allocates and cannot fail. Arming is O(1), cancel
 * and popping the earliest O(log n) amortized. Timers with equal deadlines
 * fire in the order they were (last) armed. */
#ifndef RF_TIMER_H
#define RF_TIMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct timer;
typedef void (*timer_fn)(struct timer *t);

/* Embedded in its owner; zero-initialised means "not armed". The links are
 * the heap's: owners read at_ms and timer_armed() only. */
struct timer {
	uint64_t at_ms;		/* deadline, valid while armed */
	uint64_t seq;		/* arm order, breaks ties; 0 = not armed */
	struct timer *child;	/* first child; no child fires before t */
	struct timer *sibling;	/* next child of the same parent */
	struct timer *prev;	/* parent if first child, else left sibling;
				 * NULL for the root */
	timer_fn fire;		/* called once when the deadline passes */
};

struct timer_heap {
	struct timer *root;	/* earliest timer, NULL when none is armed */
	uint64_t seq;		/* last arm order handed out */
	size_t n;		/* armed timers */
};

void timer_heap_init(struct timer_heap *h);

/* Disarm every timer still armed, so owners may cancel them later without
 * harm. Frees nothing: the timers belong to their owners. */
void timer_heap_fini(struct timer_heap *h);

/* (Re)arm t to fire fn at at_ms; an armed timer is moved. t must stay alive
 * (and unmoved) until it fires or is cancelled. Never fails. */
void timer_arm(struct timer_heap *h, struct timer *t, uint64_t at_ms,
	       timer_fn fn);

/* Disarm t; harmless when it is not armed. */
void timer_cancel(struct timer_heap *h, struct timer *t);

static inline bool timer_armed(const struct timer *t)
{
	return t->seq != 0;
}

/* Earliest deadline, or UINT64_MAX when no timer is armed. */
uint64_t timer_next_ms(const struct timer_heap *h);

/* Fire every timer whose deadline is <= now_ms, earliest first. A callback
 * may arm or cancel any timer, itself included; one it arms at or before
 * now_ms fires in this same call. Returns how many fired. */
unsigned timer_run(struct timer_heap *h, uint64_t now_ms);

#endif
