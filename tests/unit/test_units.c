/* units.c: durations and sizes, parsed strictly and formatted exactly. */
#include <errno.h>
#include <stdint.h>

#include "tap.h"
#include "base/units.h"

static int test_duration_good(void)
{
	static const struct {
		const char *s;
		uint64_t ms;
	} t[] = {
		{ "0", 0 },		{ "0ms", 0 },
		{ "0s", 0 },		{ "250ms", 250 },
		{ "5s", 5000 },		{ "2m", 120000 },
		{ "1h", 3600000 },	{ "1.5s", 1500 },
		{ "0.25s", 250 },	{ "1.5h", 5400000 },
		{ "010s", 10000 },	{ "1.000ms", 1 },
		{ "18446744073709551615ms", UINT64_MAX },
	};
	int ok = 1;

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		uint64_t ms = 42;

		ok &= TAP_CHECK(units_parse_duration_ms(t[i].s, &ms) == 0);
		ok &= TAP_CHECK(ms == t[i].ms);
		if (!ok)
			printf("#   at %s\n", t[i].s);
	}
	return ok;
}

static int test_duration_bad(void)
{
	static const char *const einval[] = {
		"", "5", "250", "s", "ms", "-5s", "+5s", " 5s", "5s ", "5 s",
		"5S", "5sec", "5d", "1.s", ".5s", "0.5ms", "1.0001s", "5ms5",
		"1.1234567s", "0x10s", "1e3ms", "00",
	};
	static const char *const erange[] = {
		"18446744073709551616ms", "5124095576030432h",
		"99999999999999999999999s",
	};
	uint64_t ms = 42;
	int ok = 1;

	for (size_t i = 0; i < sizeof(einval) / sizeof(einval[0]); i++) {
		if (!TAP_CHECK(units_parse_duration_ms(einval[i], &ms) ==
			       -EINVAL)) {
			printf("#   at '%s'\n", einval[i]);
			ok = 0;
		}
	}
	for (size_t i = 0; i < sizeof(erange) / sizeof(erange[0]); i++) {
		if (!TAP_CHECK(units_parse_duration_ms(erange[i], &ms) ==
			       -ERANGE)) {
			printf("#   at '%s'\n", erange[i]);
			ok = 0;
		}
	}
	return ok && TAP_CHECK(ms == 42);
}

static int test_size(void)
{
	static const struct {
		const char *s;
		uint64_t bytes;
	} t[] = {
		{ "0", 0 },		{ "512", 512 },		{ "512B", 512 },
		{ "64KiB", 65536 },	{ "10MiB", 10485760 },
		{ "1GiB", 1073741824 }, { "2TiB", 2199023255552ULL },
		{ "1.5KiB", 1536 },	{ "18446744073709551615", UINT64_MAX },
	};
	static const char *const einval[] = {
		"", "KiB", "10KB", "10MB", "10kib", "10 MiB", "-1", "1.5",
		"0.1KiB", "10M", "1.5B",
	};
	uint64_t b = 7;
	int ok = 1;

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		ok &= TAP_CHECK(units_parse_size(t[i].s, &b) == 0);
		ok &= TAP_CHECK(b == t[i].bytes);
	}
	for (size_t i = 0; i < sizeof(einval) / sizeof(einval[0]); i++) {
		if (!TAP_CHECK(units_parse_size(einval[i], &b) == -EINVAL)) {
			printf("#   at '%s'\n", einval[i]);
			ok = 0;
		}
	}
	ok &= TAP_CHECK(units_parse_size("16777216TiB", &b) == -ERANGE);
	ok &= TAP_CHECK(units_parse_size("18446744073709551616", &b) ==
			-ERANGE);
	return ok;
}

static int test_format(void)
{
	char buf[UNITS_FMT_MAX];
	int ok = 1;

	ok &= TAP_CHECK(STREQ(units_format_duration(0, buf, sizeof(buf)), "0"));
	ok &= TAP_CHECK(STREQ(units_format_duration(30000, buf, sizeof(buf)),
			      "30s"));
	ok &= TAP_CHECK(STREQ(units_format_duration(1500, buf, sizeof(buf)),
			      "1500ms"));
	ok &= TAP_CHECK(STREQ(units_format_duration(120000, buf, sizeof(buf)),
			      "2m"));
	ok &= TAP_CHECK(STREQ(units_format_duration(7200000, buf, sizeof(buf)),
			      "2h"));
	ok &= TAP_CHECK(STREQ(units_format_duration(90 * 60000, buf,
						    sizeof(buf)), "90m"));
	ok &= TAP_CHECK(STREQ(units_format_duration(UINT64_MAX, buf,
						    sizeof(buf)),
			      "18446744073709551615ms"));
	ok &= TAP_CHECK(STREQ(units_format_size(0, buf, sizeof(buf)), "0"));
	ok &= TAP_CHECK(STREQ(units_format_size(67108864, buf, sizeof(buf)),
			      "64MiB"));
	ok &= TAP_CHECK(STREQ(units_format_size(1000, buf, sizeof(buf)),
			      "1000"));
	ok &= TAP_CHECK(STREQ(units_format_size(1536, buf, sizeof(buf)),
			      "1536"));
	ok &= TAP_CHECK(STREQ(units_format_size(3ULL << 40, buf, sizeof(buf)),
			      "3TiB"));
	ok &= TAP_CHECK(STREQ(units_format_size(5ULL << 50, buf, sizeof(buf)),
			      "5120TiB"));
	ok &= TAP_CHECK(STREQ(units_format_size(1, buf, 1), ""));
	return ok;
}

/* format then parse gives the value back, across unit boundaries */
static int test_roundtrip(void)
{
	static const uint64_t v[] = {
		0, 1, 999, 1000, 1001, 59999, 60000, 3599999, 3600000,
		86400000, 1023, 1024, 1025, 1048576, 1ULL << 40, UINT64_MAX,
		UINT64_MAX - 1, (UINT64_MAX / 3600000) * 3600000,
	};
	char buf[UNITS_FMT_MAX];
	uint64_t back;
	int ok = 1;

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		units_format_duration(v[i], buf, sizeof(buf));
		ok &= TAP_CHECK(units_parse_duration_ms(buf, &back) == 0 &&
				back == v[i]);
		units_format_size(v[i], buf, sizeof(buf));
		ok &= TAP_CHECK(units_parse_size(buf, &back) == 0 &&
				back == v[i]);
	}
	return ok;
}

int main(void)
{
	TAP_RUN(test_duration_good);
	TAP_RUN(test_duration_bad);
	TAP_RUN(test_size);
	TAP_RUN(test_format);
	TAP_RUN(test_roundtrip);
	return tap_done();
}
