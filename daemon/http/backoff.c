/* Exponential backoff, full jitter (as in the AWS architecture blog's
 * "Exponential Backoff and Jitter"), and Retry-After parsing. */
#include "http/backoff.h"

#include <errno.h>
#include <string.h>
#include <strings.h>
#include <time.h>

uint64_t backoff_rand(uint64_t *state)
{
	/* splitmix64 (Steele, Lea, Flood 2014): a Weyl sequence through a
	 * bijective mixer, so every seed yields a full-period stream */
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

uint64_t backoff_delay_ms(uint32_t attempt, uint64_t base_ms, uint64_t max_ms,
			  bool jitter, uint64_t *rng_state)
{
	uint32_t shift = attempt > 1 ? attempt - 1 : 0;
	uint64_t d;

	if (base_ms == 0)
		d = 0;
	else if (shift >= 64 || base_ms > (max_ms >> shift))
		d = max_ms;	/* base << shift passes max, or overflows */
	else
		d = base_ms << shift;
	if (d > max_ms)
		d = max_ms;
	if (!jitter || d == 0)
		return d;
	if (d == UINT64_MAX)
		return backoff_rand(rng_state);
	/* multiply-shift maps 64 random bits onto [0, d] without the bias
	 * of a modulo */
	return (uint64_t)(((unsigned __int128)backoff_rand(rng_state) *
			   (d + 1)) >> 64);
}

/* ---- Retry-After ---- */

struct cursor {
	const char *p, *end;
};

static bool take_digits(struct cursor *c, unsigned n, int *out)
{
	int v = 0;

	if (c->end - c->p < (long)n)
		return false;
	while (n--) {
		if (*c->p < '0' || *c->p > '9')
			return false;
		v = v * 10 + (*c->p++ - '0');
	}
	*out = v;
	return true;
}

static bool take_lit(struct cursor *c, const char *lit)
{
	size_t n = strlen(lit);

	if ((size_t)(c->end - c->p) < n || strncasecmp(c->p, lit, n))
		return false;
	c->p += n;
	return true;
}

/* One of names[0..count-1]; its index in *out. */
static bool take_name(struct cursor *c, const char *const *names,
		      int count, int *out)
{
	int i;

	for (i = 0; i < count; i++) {
		if (take_lit(c, names[i])) {
			*out = i;
			return true;
		}
	}
	return false;
}

static const char *const day_short[] = {
	"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun",
};
static const char *const day_long[] = {
	"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday",
	"Sunday",
};
static const char *const month[] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
};

/* "08:49:37" */
static bool take_time(struct cursor *c, struct tm *tm)
{
	return take_digits(c, 2, &tm->tm_hour) && take_lit(c, ":") &&
	       take_digits(c, 2, &tm->tm_min) && take_lit(c, ":") &&
	       take_digits(c, 2, &tm->tm_sec);
}

/* "DAY, DD<sep>MON<sep>YEAR HH:MM:SS GMT", the shape that IMF-fixdate and
 * rfc850-date share; they differ in day names, separator and year digits. */
static bool parse_day_first(struct cursor c, struct tm *tm,
			    const char *const *days, const char *sep,
			    int year_digits)
{
	int d;

	return take_name(&c, days, 7, &d) && take_lit(&c, ", ") &&
	       take_digits(&c, 2, &tm->tm_mday) && take_lit(&c, sep) &&
	       take_name(&c, month, 12, &tm->tm_mon) && take_lit(&c, sep) &&
	       take_digits(&c, year_digits, &tm->tm_year) &&
	       take_lit(&c, " ") && take_time(&c, tm) &&
	       take_lit(&c, " GMT") && c.p == c.end;
}

/* "Sun, 06 Nov 1994 08:49:37 GMT" */
static bool parse_imf(struct cursor c, struct tm *tm)
{
	return parse_day_first(c, tm, day_short, " ", 4);
}

/* "Sunday, 06-Nov-94 08:49:37 GMT"; the year's century is settled by the
 * caller */
static bool parse_rfc850(struct cursor c, struct tm *tm)
{
	return parse_day_first(c, tm, day_long, "-", 2);
}

/* "Sun Nov  6 08:49:37 1994": a day below 10 is padded with a space */
static bool parse_asctime(struct cursor c, struct tm *tm)
{
	int d;

	if (!take_name(&c, day_short, 7, &d) || !take_lit(&c, " ") ||
	    !take_name(&c, month, 12, &tm->tm_mon) || !take_lit(&c, " "))
		return false;
	if (take_lit(&c, " ")) {
		if (!take_digits(&c, 1, &tm->tm_mday))
			return false;
	} else if (!take_digits(&c, 2, &tm->tm_mday)) {
		return false;
	}
	return take_lit(&c, " ") && take_time(&c, tm) && take_lit(&c, " ") &&
	       take_digits(&c, 4, &tm->tm_year) && c.p == c.end;
}

/* RFC 9110 section 5.6.7: a two-digit year more than 50 years in the
 * future means the most recent past year with those digits. */
static int full_year(int yy, int now_year)
{
	int y = now_year - now_year % 100 + yy;

	if (y > now_year + 50)
		y -= 100;
	return y;
}

/* Broken-down UTC time (tm_year as the full year) to Unix seconds in
 * *out. False when a field is out of range, 30 February included. */
static bool tm_to_unix(struct tm *tm, int64_t *out)
{
	struct tm chk;

	if (tm->tm_mday < 1 || tm->tm_mday > 31 || tm->tm_hour > 23 ||
	    tm->tm_min > 59 || tm->tm_sec > 60)
		return false;
	tm->tm_year -= 1900;
	tm->tm_isdst = 0;
	chk = *tm;
	*out = (int64_t)timegm(tm);
	/* timegm() normalises 30 Feb into March: that is not a date */
	return tm->tm_mday == chk.tm_mday && tm->tm_mon == chk.tm_mon;
}

/* An HTTP-date in any of its three forms to Unix seconds. */
static bool parse_date(struct cursor c, uint64_t now_wall_ms, int64_t *out)
{
	time_t now_s = (time_t)(now_wall_ms / 1000);
	struct tm tm, now_tm;

	memset(&tm, 0, sizeof(tm));
	if (parse_imf(c, &tm))
		return tm_to_unix(&tm, out);
	memset(&tm, 0, sizeof(tm));
	if (parse_asctime(c, &tm))
		return tm_to_unix(&tm, out);
	memset(&tm, 0, sizeof(tm));
	if (!parse_rfc850(c, &tm) || !gmtime_r(&now_s, &now_tm))
		return false;
	tm.tm_year = full_year(tm.tm_year, now_tm.tm_year + 1900);
	return tm_to_unix(&tm, out);
}

static bool is_ows(char ch)
{
	return ch == ' ' || ch == '\t';
}

int backoff_parse_retry_after(const char *value, size_t len,
			      uint64_t now_wall_ms, uint64_t *delay_ms)
{
	struct cursor c = { value, value + len };
	uint64_t s = 0, now_s = now_wall_ms / 1000;
	int64_t t;

	while (c.p < c.end && is_ows(*c.p))
		c.p++;
	while (c.end > c.p && is_ows(c.end[-1]))
		c.end--;
	if (c.p == c.end)
		return -EINVAL;
	if (*c.p >= '0' && *c.p <= '9') {
		/* delay-seconds = 1*DIGIT */
		for (; c.p < c.end; c.p++) {
			if (*c.p < '0' || *c.p > '9')
				return -EINVAL;
			s = s * 10 + (uint64_t)(*c.p - '0');
			if (s > BACKOFF_RETRY_AFTER_MAX_S)
				s = BACKOFF_RETRY_AFTER_MAX_S;
		}
		*delay_ms = s * 1000;
		return 0;
	}
	if (!parse_date(c, now_wall_ms, &t))
		return -EINVAL;
	if (t <= 0 || (uint64_t)t <= now_s) {
		*delay_ms = 0;
		return 0;
	}
	/* whole seconds: the date has no finer grain than that */
	s = (uint64_t)t - now_s;
	if (s > BACKOFF_RETRY_AFTER_MAX_S)
		s = BACKOFF_RETRY_AFTER_MAX_S;
	*delay_ms = s * 1000 - now_wall_ms % 1000;
	return 0;
}
