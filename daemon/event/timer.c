/* Binary min-heap of deadlines; each timer remembers its slot so cancel and
 * re-arm are O(log n) without a search. */
#include "event/timer.h"

#include <errno.h>
#include <stdlib.h>

static void place(struct timer_heap *h, size_t i, struct timer *t)
{
	h->v[i] = t;
	t->idx = (uint32_t)(i + 1);
}

static void sift_up(struct timer_heap *h, size_t i)
{
	struct timer *t = h->v[i];

	while (i > 0) {
		size_t p = (i - 1) / 2;

		if (h->v[p]->at_ms <= t->at_ms)
			break;
		place(h, i, h->v[p]);
		i = p;
	}
	place(h, i, t);
}

static void sift_down(struct timer_heap *h, size_t i)
{
	struct timer *t = h->v[i];

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= h->n)
			break;
		if (c + 1 < h->n && h->v[c + 1]->at_ms < h->v[c]->at_ms)
			c++;
		if (t->at_ms <= h->v[c]->at_ms)
			break;
		place(h, i, h->v[c]);
		i = c;
	}
	place(h, i, t);
}

void timer_heap_init(struct timer_heap *h)
{
	h->v = NULL;
	h->n = h->cap = 0;
}

void timer_heap_fini(struct timer_heap *h)
{
	for (size_t i = 0; i < h->n; i++)
		h->v[i]->idx = 0;
	free(h->v);
	timer_heap_init(h);
}

int timer_arm(struct timer_heap *h, struct timer *t, uint64_t at_ms, timer_fn fn)
{
	if (timer_armed(t)) {
		uint64_t old = t->at_ms;
		size_t i = t->idx - 1;

		t->at_ms = at_ms;
		t->fire = fn;
		if (at_ms < old)
			sift_up(h, i);
		else
			sift_down(h, i);
		return 0;
	}
	if (h->n == h->cap) {
		size_t cap = h->cap ? h->cap * 2 : 64;
		struct timer **v = realloc(h->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		h->v = v;
		h->cap = cap;
	}
	t->at_ms = at_ms;
	t->fire = fn;
	place(h, h->n++, t);
	sift_up(h, h->n - 1);
	return 0;
}

void timer_cancel(struct timer_heap *h, struct timer *t)
{
	size_t i;
	struct timer *last;

	if (!timer_armed(t))
		return;
	i = t->idx - 1;
	t->idx = 0;
	last = h->v[--h->n];
	if (i == h->n)
		return;
	place(h, i, last);
	sift_up(h, i);
	sift_down(h, last->idx - 1);
}

uint64_t timer_next_ms(const struct timer_heap *h)
{
	return h->n ? h->v[0]->at_ms : UINT64_MAX;
}

unsigned timer_run(struct timer_heap *h, uint64_t now_ms)
{
	unsigned fired = 0;

	while (h->n && h->v[0]->at_ms <= now_ms) {
		struct timer *t = h->v[0];

		timer_cancel(h, t);
		fired++;
		t->fire(t);
	}
	return fired;
}
