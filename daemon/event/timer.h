/* Min-heap of deadlines in milliseconds of the loop's monotonic clock:
 * phase timeouts, backoff waits, keep-alive expiry, DNS timeouts. The ring
 * sleeps until the earliest one (loop.c); nothing here touches the ring. */
#ifndef RF_TIMER_H
#define RF_TIMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct timer;
typedef void (*timer_fn)(struct timer *t);

/* Embedded in its owner; zero-initialised means "not armed". */
struct timer {
	uint64_t at_ms;		/* deadline, valid while armed */
	uint32_t idx;		/* 1-based heap slot, 0 = not armed */
	timer_fn fire;		/* called once when the deadline passes */
};

struct timer_heap {
	struct timer **v;	/* v[0..n-1], heap-ordered by at_ms */
	size_t n, cap;
};

void timer_heap_init(struct timer_heap *h);
void timer_heap_fini(struct timer_heap *h);

/* (Re)arm t to fire at at_ms; an armed timer is moved. Returns 0 or -ENOMEM
 * (then t is left as it was). */
int timer_arm(struct timer_heap *h, struct timer *t, uint64_t at_ms, timer_fn fn);

/* Disarm t; harmless when it is not armed. */
void timer_cancel(struct timer_heap *h, struct timer *t);

static inline bool timer_armed(const struct timer *t)
{
	return t->idx != 0;
}

/* Earliest deadline, or UINT64_MAX when the heap is empty. */
uint64_t timer_next_ms(const struct timer_heap *h);

/* Fire every timer whose deadline is <= now_ms, earliest first. A callback
 * may arm or cancel any timer. Returns how many fired. */
unsigned timer_run(struct timer_heap *h, uint64_t now_ms);

#endif
