/* Strict parsers and exact formatters for durations and sizes. */
#include "base/units.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

struct unit {
	const char *suffix;
	uint64_t mult;
};

/* Longest suffix first where one is a prefix of another ("ms" before "m"). */
static const struct unit duration_units[] = {
	{ "ms", 1 },
	{ "s", 1000 },
	{ "m", 60 * 1000 },
	{ "h", 60 * 60 * 1000 },
	{ NULL, 0 },
};

static const struct unit size_units[] = {
	{ "", 1 },
	{ "B", 1 },
	{ "KiB", 1ULL << 10 },
	{ "MiB", 1ULL << 20 },
	{ "GiB", 1ULL << 30 },
	{ "TiB", 1ULL << 40 },
	{ NULL, 0 },
};

/* Enough for any exact fraction of a second in milliseconds, or of a TiB in
 * bytes that anyone writes; the bound keeps FRAC * mult below 2^64. */
#define FRAC_DIGITS_MAX 6

/*
 * Parse "INT[.FRAC]SUFFIX" where SUFFIX must be one of units (an exact
 * match). The value is INT * mult + FRAC * mult / 10^digits and must be a
 * whole number.
 */
static int parse_scaled(const char *s, const struct unit *units, uint64_t *out)
{
	uint64_t ip = 0, fp = 0, scale = 1, v, frac;
	const char *p = s;
	const struct unit *u;
	int digits = 0;

	if (*p < '0' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (__builtin_mul_overflow(ip, 10, &ip) ||
		    __builtin_add_overflow(ip, (uint64_t)(*p - '0'), &ip))
			return -ERANGE;
	}
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return -EINVAL;
		for (; *p >= '0' && *p <= '9'; p++) {
			if (++digits > FRAC_DIGITS_MAX)
				return -EINVAL;
			fp = fp * 10 + (uint64_t)(*p - '0');
			scale *= 10;
		}
	}
	for (u = units; u->suffix; u++)
		if (strcmp(p, u->suffix) == 0)
			break;
	if (!u->suffix)
		return -EINVAL;
	frac = fp * u->mult;
	if (frac % scale)
		return -EINVAL;
	if (__builtin_mul_overflow(ip, u->mult, &v) ||
	    __builtin_add_overflow(v, frac / scale, &v))
		return -ERANGE;
	*out = v;
	return 0;
}

int units_parse_duration_ms(const char *s, uint64_t *ms)
{
	/* a bare number would be ambiguous, except zero, which is zero in
	 * every unit */
	if (strcmp(s, "0") == 0) {
		*ms = 0;
		return 0;
	}
	return parse_scaled(s, duration_units, ms);
}

int units_parse_size(const char *s, uint64_t *bytes)
{
	return parse_scaled(s, size_units, bytes);
}

/* The largest unit (from the end of units) that divides v exactly. */
static char *format_scaled(uint64_t v, const struct unit *units, size_t n_units,
			   char *buf, size_t n)
{
	size_t i = n_units;

	if (v == 0) {
		snprintf(buf, n, "0");
		return buf;
	}
	while (i-- > 1)
		if (v % units[i].mult == 0)
			break;
	snprintf(buf, n, "%" PRIu64 "%s", v / units[i].mult, units[i].suffix);
	return buf;
}

char *units_format_duration(uint64_t ms, char *buf, size_t n)
{
	return format_scaled(ms, duration_units, 4, buf, n);
}

char *units_format_size(uint64_t bytes, char *buf, size_t n)
{
	/* skip "B": a plain number is the shorter spelling of bytes */
	static const struct unit printed[] = {
		{ "", 1 },
		{ "KiB", 1ULL << 10 },
		{ "MiB", 1ULL << 20 },
		{ "GiB", 1ULL << 30 },
		{ "TiB", 1ULL << 40 },
	};

	return format_scaled(bytes, printed, 5, buf, n);
}
