/* Unit tests for backoff.c: delays, jitter bounds, Retry-After. */
#include <errno.h>

#include "http/backoff.h"
#include "tap.h"

/* Sun, 06 Nov 1994 08:49:37 GMT */
#define T1994 784111777ull

static int test_sequence(void)
{
	static const uint64_t want[] = {
		500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000,
	};
	uint32_t n;
	int ok = 1;

	for (n = 1; n <= sizeof(want) / sizeof(want[0]); n++)
		ok &= TAP_CHECK(backoff_delay_ms(n, 500, 30000, false, NULL) ==
				want[n - 1]);
	ok &= TAP_CHECK(backoff_delay_ms(0, 500, 30000, false, NULL) == 500);
	ok &= TAP_CHECK(backoff_delay_ms(3, 0, 30000, false, NULL) == 0);
	ok &= TAP_CHECK(backoff_delay_ms(3, 500, 0, false, NULL) == 0);
	ok &= TAP_CHECK(backoff_delay_ms(1, 500, 100, false, NULL) == 100);
	return ok;
}

static int test_huge_attempts(void)
{
	uint64_t rng = 1;
	int ok = 1;

	ok &= TAP_CHECK(backoff_delay_ms(64, 500, 30000, false, NULL) == 30000);
	ok &= TAP_CHECK(backoff_delay_ms(65, 500, 30000, false, NULL) == 30000);
	ok &= TAP_CHECK(backoff_delay_ms(UINT32_MAX, 500, 30000, false,
					 NULL) == 30000);
	ok &= TAP_CHECK(backoff_delay_ms(UINT32_MAX, UINT64_MAX, UINT64_MAX,
					 false, NULL) == UINT64_MAX);
	ok &= TAP_CHECK(backoff_delay_ms(64, 1, UINT64_MAX, false, NULL) ==
			1ull << 63);
	ok &= TAP_CHECK(backoff_delay_ms(62, 3, UINT64_MAX, false, NULL) ==
			3ull << 61);
	ok &= TAP_CHECK(backoff_delay_ms(63, 3, UINT64_MAX, false, NULL) ==
			3ull << 62);
	ok &= TAP_CHECK(backoff_delay_ms(64, 3, UINT64_MAX, false, NULL) ==
			UINT64_MAX);
	/* jitter over the whole 64-bit range must not overflow */
	(void)backoff_delay_ms(UINT32_MAX, 1, UINT64_MAX, true, &rng);
	return ok;
}

static int test_jitter_bounds(void)
{
	uint64_t rng = 12345, d, lo = UINT64_MAX, hi = 0;
	uint32_t n;
	int i, ok = 1;

	for (n = 1; n < 80; n++) {
		uint64_t cap = backoff_delay_ms(n, 500, 30000, false, NULL);

		for (i = 0; i < 1000; i++) {
			d = backoff_delay_ms(n, 500, 30000, true, &rng);
			if (d > cap)
				ok = TAP_CHECK(d <= cap);
			if (n == 10) {
				lo = d < lo ? d : lo;
				hi = d > hi ? d : hi;
			}
		}
	}
	/* spread over the range, not stuck at one end */
	ok &= TAP_CHECK(lo < 1000 && hi > 29000);
	ok &= TAP_CHECK(backoff_delay_ms(1, 0, 30000, true, &rng) == 0);
	/* [0, 1] reaches both ends */
	lo = 1;
	hi = 0;
	for (i = 0; i < 200; i++) {
		d = backoff_delay_ms(1, 1, 1, true, &rng);
		lo = d < lo ? d : lo;
		hi = d > hi ? d : hi;
	}
	ok &= TAP_CHECK(lo == 0 && hi == 1);
	return ok;
}

static int test_rand(void)
{
	uint64_t a = 0, b = 0, c = 1;
	int ok = 1;

	ok &= TAP_CHECK(backoff_rand(&a) == backoff_rand(&b));
	ok &= TAP_CHECK(backoff_rand(&a) != backoff_rand(&c));
	ok &= TAP_CHECK(backoff_rand(&a) != backoff_rand(&a));
	return ok;
}

static int ra(const char *v, uint64_t now_ms, uint64_t *out)
{
	*out = 777;
	return backoff_parse_retry_after(v, strlen(v), now_ms, out);
}

static int test_retry_after_seconds(void)
{
	uint64_t d;
	int ok = 1;

	ok &= TAP_CHECK(ra("120", 0, &d) == 0 && d == 120000);
	ok &= TAP_CHECK(ra("0", 0, &d) == 0 && d == 0);
	ok &= TAP_CHECK(ra("  7\t", 0, &d) == 0 && d == 7000);
	ok &= TAP_CHECK(ra("007", 0, &d) == 0 && d == 7000);
	ok &= TAP_CHECK(ra("99999999999999999999999999", 0, &d) == 0 &&
			d == BACKOFF_RETRY_AFTER_MAX_S * 1000);
	ok &= TAP_CHECK(ra("-1", 0, &d) == -EINVAL && d == 777);
	ok &= TAP_CHECK(ra("abc", 0, &d) == -EINVAL && d == 777);
	ok &= TAP_CHECK(ra("", 0, &d) == -EINVAL);
	ok &= TAP_CHECK(ra("   ", 0, &d) == -EINVAL);
	ok &= TAP_CHECK(ra("12a", 0, &d) == -EINVAL);
	ok &= TAP_CHECK(ra("1.5", 0, &d) == -EINVAL);
	ok &= TAP_CHECK(ra("+5", 0, &d) == -EINVAL);
	ok &= TAP_CHECK(ra("1 2", 0, &d) == -EINVAL);
	/* not NUL-terminated: only len bytes count */
	ok &= TAP_CHECK(backoff_parse_retry_after("123456", 2, 0, &d) == 0 &&
			d == 12000);
	return ok;
}

static int test_retry_after_dates(void)
{
	uint64_t now = T1994 * 1000, d;
	int ok = 1;

	ok &= TAP_CHECK(ra("Sun, 06 Nov 1994 08:49:37 GMT", now, &d) == 0 &&
			d == 0);
	ok &= TAP_CHECK(ra("Sun, 06 Nov 1994 08:51:37 GMT", now, &d) == 0 &&
			d == 120000);
	ok &= TAP_CHECK(ra("Sunday, 06-Nov-94 08:51:37 GMT", now, &d) == 0 &&
			d == 120000);
	ok &= TAP_CHECK(ra("Sun Nov  6 08:51:37 1994", now, &d) == 0 &&
			d == 120000);
	ok &= TAP_CHECK(ra("Mon Nov 07 08:49:37 1994", now, &d) == 0 &&
			d == 86400000);
	/* sub-second now: the remainder of the current second counts */
	ok &= TAP_CHECK(ra("Sun, 06 Nov 1994 08:49:38 GMT", now + 250, &d) ==
				0 && d == 750);
	/* the past gives 0 */
	ok &= TAP_CHECK(ra("Sat, 05 Nov 1994 08:49:37 GMT", now, &d) == 0 &&
			d == 0);
	ok &= TAP_CHECK(ra("Thu, 01 Jan 1970 00:00:00 GMT", now, &d) == 0 &&
			d == 0);
	ok &= TAP_CHECK(ra("Wed, 31 Dec 1969 23:59:59 GMT", now, &d) == 0 &&
			d == 0);
	ok &= TAP_CHECK(ra("  Sun, 06 Nov 1994 08:50:37 GMT ", now, &d) == 0 &&
			d == 60000);
	ok &= TAP_CHECK(ra("Mon, 01 Jan 9999 00:00:00 GMT", now, &d) == 0 &&
			d == BACKOFF_RETRY_AFTER_MAX_S * 1000);
	return ok;
}

static int test_retry_after_two_digit_year(void)
{
	/* now = Fri, 01 Jan 2021 00:00:00 GMT */
	uint64_t now = 1609459200000ull, d;
	int ok = 1;

	/* 94 is 2094, more than 50 years ahead: so 1994, in the past */
	ok &= TAP_CHECK(ra("Sunday, 06-Nov-94 08:49:37 GMT", now, &d) == 0 &&
			d == 0);
	/* 21 is 2021 */
	ok &= TAP_CHECK(ra("Friday, 01-Jan-21 00:00:10 GMT", now, &d) == 0 &&
			d == 10000);
	/* 70 is 2070, within 50 years */
	ok &= TAP_CHECK(ra("Wednesday, 01-Jan-70 00:00:00 GMT", now, &d) ==
				0 && d > 0);
	return ok;
}

static int test_retry_after_bad_dates(void)
{
	static const char *const bad[] = {
		"Sun, 06 Nov 1994 08:49:37",
		"Sun, 06 Nov 1994 08:49:37 UTC",
		"Sun, 6 Nov 1994 08:49:37 GMT",
		"Sun, 06 Nov 94 08:49:37 GMT",
		"Sun, 06 Foo 1994 08:49:37 GMT",
		"Xyz, 06 Nov 1994 08:49:37 GMT",
		"Sun, 30 Feb 1994 08:49:37 GMT",
		"Sun, 00 Nov 1994 08:49:37 GMT",
		"Sun, 06 Nov 1994 24:00:00 GMT",
		"Sun, 06 Nov 1994 08:60:00 GMT",
		"Sun, 06 Nov 1994 08:49:37 GMTx",
		"Sun, 06 Nov 1994 08:49:3 GMT",
		"Sunday, 06-Nov-1994 08:49:37 GMT",
		"Sun, 06-Nov-94 08:49:37 GMT",
		"Sun Nov 6 08:49:37 1994",
		"Sun Nov  6 08:49:37 94",
		"Sun Nov  6 08:49:37 1994 GMT",
		"Sun Nov 32 08:49:37 1994",
		"Sun",
		"GMT",
	};
	uint64_t d;
	size_t i;
	int ok = 1;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (ra(bad[i], T1994 * 1000, &d) != -EINVAL) {
			printf("#   accepted: \"%s\"\n", bad[i]);
			ok = 0;
		}
	}
	/* every prefix of a valid date is invalid, none crashes */
	for (i = 0; i < 29; i++)
		if (backoff_parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT",
					      i, 0, &d) != -EINVAL)
			ok = TAP_CHECK(0);
	return ok;
}

int main(void)
{
	TAP_RUN(test_sequence);
	TAP_RUN(test_huge_attempts);
	TAP_RUN(test_jitter_bounds);
	TAP_RUN(test_rand);
	TAP_RUN(test_retry_after_seconds);
	TAP_RUN(test_retry_after_dates);
	TAP_RUN(test_retry_after_two_digit_year);
	TAP_RUN(test_retry_after_bad_dates);
	return tap_done();
}
