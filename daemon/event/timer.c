/* Pairing heap of deadlines (Fredman, Sedgewick, Sleator, Tarjan 1986).
 *
 * Each node keeps its children in a list: child points at the first,
 * sibling walks the rest, and prev points back (to the parent from a first
 * child, else to the left sibling) so any node can be cut out in O(1).
 * Melding two heaps makes the later root the first child of the earlier.
 * Removing a node melds its children in two passes (pairs left to right,
 * then the pairs right to left), which is what keeps the amortized cost of
 * a removal at O(log n). */
#include "event/timer.h"

/* Strict order on (at_ms, seq): equal deadlines fire first-armed first. */
static bool before(const struct timer *a, const struct timer *b)
{
	return a->at_ms < b->at_ms || (a->at_ms == b->at_ms && a->seq < b->seq);
}

/* Meld two roots (prev and sibling NULL) into one; returns the new root. */
static struct timer *meld(struct timer *a, struct timer *b)
{
	struct timer *t;

	if (before(b, a)) {
		t = a;
		a = b;
		b = t;
	}
	b->prev = a;
	b->sibling = a->child;
	if (a->child)
		a->child->prev = b;
	a->child = b;
	return a;
}

/* Meld a list of siblings into one heap; returns its root or NULL. */
static struct timer *merge_pairs(struct timer *first)
{
	struct timer *stack = NULL, *root = NULL;

	/* Pass 1: meld pairs left to right, stacking each result. */
	while (first) {
		struct timer *a = first, *b = a->sibling;

		first = b ? b->sibling : NULL;
		a->prev = a->sibling = NULL;
		if (b) {
			b->prev = b->sibling = NULL;
			a = meld(a, b);
		}
		a->sibling = stack;
		stack = a;
	}
	/* Pass 2: the stack pops right to left; meld each into the result. */
	while (stack) {
		struct timer *a = stack;

		stack = a->sibling;
		a->sibling = NULL;
		root = root ? meld(root, a) : a;
	}
	return root;
}

/* Cut t and its subtree out of the heap; t is not the root. */
static void cut(struct timer *t)
{
	if (t->prev->child == t)
		t->prev->child = t->sibling;
	else
		t->prev->sibling = t->sibling;
	if (t->sibling)
		t->sibling->prev = t->prev;
	t->prev = t->sibling = NULL;
}

/* Take armed t out of the heap, keeping its children in it. */
static void unlink_timer(struct timer_heap *h, struct timer *t)
{
	struct timer *kids = merge_pairs(t->child);

	t->child = NULL;
	if (t == h->root) {
		h->root = kids;
		return;
	}
	cut(t);
	if (kids)
		h->root = meld(h->root, kids);
}

void timer_heap_init(struct timer_heap *h)
{
	h->root = NULL;
	h->seq = 0;
	h->n = 0;
}

void timer_heap_fini(struct timer_heap *h)
{
	while (h->root)
		timer_cancel(h, h->root);
	timer_heap_init(h);
}

void timer_arm(struct timer_heap *h, struct timer *t, uint64_t at_ms,
	       timer_fn fn)
{
	if (!timer_armed(t)) {
		t->child = t->sibling = t->prev = NULL;
		h->n++;
	} else if (at_ms >= t->at_ms) {
		/* Later: t's children may now fire before it. */
		unlink_timer(h, t);
	} else if (t != h->root) {
		/* Earlier: t's subtree stays ordered under t and moves up
		 * with it in O(1). */
		cut(t);
	}
	t->at_ms = at_ms;
	t->seq = ++h->seq;
	t->fire = fn;
	if (t != h->root)
		h->root = h->root ? meld(h->root, t) : t;
}

void timer_cancel(struct timer_heap *h, struct timer *t)
{
	if (!timer_armed(t))
		return;
	unlink_timer(h, t);
	t->seq = 0;
	h->n--;
}
uint64_t timer_next_ms(const struct timer_heap *h)
{
	return h->root ? h->root->at_ms : UINT64_MAX;
}

unsigned timer_run(struct timer_heap *h, uint64_t now_ms)
{
	unsigned fired = 0;

	while (h->root && h->root->at_ms <= now_ms) {
		struct timer *t = h->root;

		timer_cancel(h, t);
		fired++;
		t->fire(t);
	}
	return fired;
}
