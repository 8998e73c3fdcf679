/* Unit tests for dedupe.c: exact answers across growth, the first job
 * kept, and the memory bound. */
#include <stdio.h>

#include "engine/dedupe.h"
#include "tap.h"

static int test_seen_and_first_kept(void)
{
	struct dedupe d;
	char u[64];
	int ok = 1;

	dedupe_init(&d, 64 << 20);
	for (int i = 0; i < 20000; i++) {
		int n = snprintf(u, sizeof(u), "http://h/%d", i);

		ok &= TAP_CHECK(dedupe_check(&d, u, (size_t)n, 100 + i) == 0);
	}
	for (int i = 0; i < 20000; i += 7) {
		int n = snprintf(u, sizeof(u), "http://h/%d", i);

		ok &= TAP_CHECK(dedupe_check(&d, u, (size_t)n, 999999) ==
				(uint64_t)(100 + i));
	}
	ok &= TAP_CHECK(d.n == 20000 && !d.full);
	ok &= TAP_CHECK(d.n * 4 <= d.cap * 3);
	dedupe_fini(&d);
	return ok;
}

static int test_bound_stops_remembering(void)
{
	struct dedupe d;
	char u[64];
	int ok = 1;

	dedupe_init(&d, 64 << 10);	/* 2730 slots of 24 bytes: 2048 */
	for (int i = 0; i < 5000; i++) {
		int n = snprintf(u, sizeof(u), "http://h/%d", i);

		dedupe_check(&d, u, (size_t)n, 1 + i);
	}
	ok &= TAP_CHECK(d.full);
	ok &= TAP_CHECK(d.cap * sizeof(struct dedupe_slot) <= 64 << 10);
	ok &= TAP_CHECK(dedupe_check(&d, "http://h/0", 10, 7) == 1);
	ok &= TAP_CHECK(dedupe_check(&d, "http://h/4999", 13, 7) == 0);
	dedupe_fini(&d);
	return ok;
}

int main(void)
{
	TAP_RUN(test_seen_and_first_kept);
	TAP_RUN(test_bound_stops_remembering);
	return tap_done();
}
