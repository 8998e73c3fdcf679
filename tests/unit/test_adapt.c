/* Unit tests for adapt.c: 429/503 halve, one cut a second, additive
 * recovery to the cap, slow answers cut only far above the host's own base
 * and by an absolute margin, and a new normal is learnt. */
#include "engine/adapt.h"
#include "tap.h"

static int test_start_at_cap(void)
{
	struct adapt a;
	int ok = 1;

	adapt_init(&a, 16);
	ok &= TAP_CHECK(adapt_limit(&a, 16) == 16);
	ok &= TAP_CHECK(adapt_observe(&a, 16, 200, 5, 0) == ADAPT_SAME);
	ok &= TAP_CHECK(adapt_observe(&a, 16, 0, 0, 0) == ADAPT_SAME);
	ok &= TAP_CHECK(adapt_limit(&a, 16) == 16);
	ok &= TAP_CHECK(adapt_limit(&a, 4) == 4);	/* a lower cap rules */
	adapt_init(&a, 0);
	ok &= TAP_CHECK(adapt_limit(&a, 1) == 1);
	return ok;
}

static int test_busy_halves_once_a_second(void)
{
	struct adapt a;
	int ok = 1;

	adapt_init(&a, 16);
	ok &= TAP_CHECK(adapt_observe(&a, 16, 503, 1, 1000) == ADAPT_CUT);
	ok &= TAP_CHECK(adapt_limit(&a, 16) == 8);
	/* the other answers of the same burst do not cut again */
	for (int i = 0; i < 7; i++)
		ok &= TAP_CHECK(adapt_observe(&a, 16, 429, 1, 1500) ==
				ADAPT_SAME);
	ok &= TAP_CHECK(adapt_limit(&a, 16) == 8);
	ok &= TAP_CHECK(adapt_observe(&a, 16, 429, 1, 2000) == ADAPT_CUT);
	ok &= TAP_CHECK(adapt_limit(&a, 16) == 4);
	for (uint64_t t = 3000; t < 20000; t += 1000)
		adapt_observe(&a, 16, 503, 1, t);
	ok &= TAP_CHECK(adapt_limit(&a, 16) == 1);	/* never below one */
	return ok;
}

static int test_recovers_one_per_round(void)
{
	struct adapt a;
	int ok = 1, answers = 0;

	adapt_init(&a, 8);
	adapt_observe(&a, 8, 503, 1, 0);
	ok &= TAP_CHECK(adapt_limit(&a, 8) == 4);
	/* about 4 answers at 4, 5 at 5...: one more in flight a round */
	while (adapt_limit(&a, 8) < 5) {
		ok &= TAP_CHECK(adapt_observe(&a, 8, 200, 1, 10) ==
				ADAPT_GREW);
		answers++;
	}
	ok &= TAP_CHECK(answers >= 4 && answers <= 5);
	while (adapt_limit(&a, 8) < 8 && answers < 100) {
		adapt_observe(&a, 8, 404, 1, 10);	/* any answer counts */
		answers++;
	}
	ok &= TAP_CHECK(answers >= 4 + 5 + 6 + 7 - 4 && answers <= 4 + 5 + 6 + 7 + 4);
	ok &= TAP_CHECK(adapt_observe(&a, 8, 200, 1, 10) == ADAPT_SAME);
	ok &= TAP_CHECK(adapt_limit(&a, 8) == 8);
	return ok;
}

static int test_slow_answers(void)
{
	struct adapt a;
	int ok = 1;
	enum adapt_change c = ADAPT_SAME;
	uint64_t t = 0;

	adapt_init(&a, 8);
	/* a fast server's jitter, 1 ms to 40x that, changes nothing */
	for (int i = 0; i < 50; i++)
		ok &= TAP_CHECK(adapt_observe(&a, 8, 200, i % 2 ? 1 : 40,
					      t++) == ADAPT_SAME);
	adapt_init(&a, 8);
	for (int i = 0; i < 20; i++)
		adapt_observe(&a, 8, 200, 20, t++);
	/* 20 ms -> 900 ms: cut within a few answers, then held a second */
	for (int i = 0; i < 10 && c != ADAPT_CUT; i++)
		c = adapt_observe(&a, 8, 200, 900, t++);
	ok &= TAP_CHECK(c == ADAPT_CUT);
	ok &= TAP_CHECK(adapt_limit(&a, 8) == 6);
	ok &= TAP_CHECK(adapt_observe(&a, 8, 200, 900, t++) == ADAPT_SAME);
	/* slower pages for good become the new normal: growth resumes */
	for (int i = 0; i < 2000 && c != ADAPT_GREW; i++) {
		t += 50;
		c = adapt_observe(&a, 8, 200, 900, t);
	}
	ok &= TAP_CHECK(c == ADAPT_GREW);
	ok &= TAP_CHECK(a.base_ms > 300);
	return ok;
}

int main(void)
{
	TAP_RUN(test_start_at_cap);
	TAP_RUN(test_busy_halves_once_a_second);
	TAP_RUN(test_recovers_one_per_round);
	TAP_RUN(test_slow_answers);
	return tap_done();
}
