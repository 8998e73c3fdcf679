/* Unit tests for timer.c: heap order, cancel, re-arm, firing from callbacks. */
#include "tap.h"
#include "event/timer.h"

static int order[64], n_order;

struct tt {
	struct timer t;
	int id;
};

static void record(struct timer *t)
{
	struct tt *x = (struct tt *)t;

	order[n_order++] = x->id;
}

static int test_order(void)
{
	struct timer_heap h;
	struct tt x[10] = { 0 };
	static const uint64_t at[10] = { 50, 10, 90, 30, 70, 20, 80, 40, 60, 0 };
	int ok = 1;

	timer_heap_init(&h);
	n_order = 0;
	for (int i = 0; i < 10; i++) {
		x[i].id = (int)at[i];
		timer_arm(&h, &x[i].t, at[i], record);
	}
	ok &= TAP_CHECK(timer_next_ms(&h) == 0);
	ok &= TAP_CHECK(timer_run(&h, 45) == 5);
	ok &= TAP_CHECK(timer_run(&h, 1000) == 5);
	for (int i = 0; i < 10; i++)
		ok &= TAP_CHECK(order[i] == i * 10);
	ok &= TAP_CHECK(timer_next_ms(&h) == UINT64_MAX);
	timer_heap_fini(&h);
	return ok;
}

static int test_cancel_and_rearm(void)
{
	struct timer_heap h;
	struct tt a = { .id = 1 }, b = { .id = 2 }, c = { .id = 3 };
	int ok = 1;

	timer_heap_init(&h);
	n_order = 0;
	timer_arm(&h, &a.t, 10, record);
	timer_arm(&h, &b.t, 20, record);
	timer_arm(&h, &c.t, 30, record);
	timer_cancel(&h, &b.t);
	timer_cancel(&h, &b.t);
	ok &= TAP_CHECK(!timer_armed(&b.t));
	timer_arm(&h, &a.t, 40, record);	/* moved later */
	timer_arm(&h, &c.t, 5, record);		/* moved earlier */
	timer_run(&h, 100);
	ok &= TAP_CHECK(n_order == 2 && order[0] == 3 && order[1] == 1);
	timer_heap_fini(&h);
	return ok;
}

static struct timer_heap *cb_heap;
static struct tt chained;

static void rearm_once(struct timer *t)
{
	record(t);
	if (n_order == 1)
		timer_arm(cb_heap, &chained.t, 15, record);
}

static int test_arm_from_callback(void)
{
	struct timer_heap h;
	int ok = 1;

	timer_heap_init(&h);
	cb_heap = &h;
	n_order = 0;
	chained.id = 7;
	timer_arm(&h, &chained.t, 10, rearm_once);
	ok &= TAP_CHECK(timer_run(&h, 20) == 2);
	ok &= TAP_CHECK(n_order == 2);
	timer_heap_fini(&h);
	return ok;
}

static int test_many_random(void)
{
	struct timer_heap h;
	static struct tt x[2000];
	uint64_t seed = 42, last = 0;
	int ok = 1;

	timer_heap_init(&h);
	for (int i = 0; i < 2000; i++) {
		seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
		x[i].id = i;
		timer_arm(&h, &x[i].t, seed >> 40, record);
	}
	for (int i = 0; i < 2000; i += 3)
		timer_cancel(&h, &x[i].t);
	while (timer_next_ms(&h) != UINT64_MAX) {
		uint64_t next = timer_next_ms(&h);

		ok &= TAP_CHECK(next >= last);
		last = next;
		n_order = 0;
		timer_run(&h, next);
	}
	timer_heap_fini(&h);
	return ok;
}

int main(void)
{
	TAP_RUN(test_order);
	TAP_RUN(test_cancel_and_rearm);
	TAP_RUN(test_arm_from_callback);
	TAP_RUN(test_many_random);
	return tap_done();
}
