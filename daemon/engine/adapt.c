/* AIMD on one host's concurrency; see adapt.h. */
#include "engine/adapt.h"

void adapt_init(struct adapt *a, uint32_t cap)
{
	a->limit = cap ? cap : 1;
	a->lat_ms = 0;
	a->base_ms = 0;
	a->hold_ms = 0;
}

static enum adapt_change cut(struct adapt *a, double factor, uint64_t now)
{
	/* Answers to requests sent before the last cut say nothing new. */
	if (now < a->hold_ms)
		return ADAPT_SAME;
	a->hold_ms = now + ADAPT_HOLD_MS;
	a->limit *= factor;
	if (a->limit < 1)
		a->limit = 1;
	return ADAPT_CUT;
}

static void track_latency(struct adapt *a, double ttfb)
{
	if (a->lat_ms == 0)
		a->lat_ms = ttfb;
	else
		a->lat_ms += (ttfb - a->lat_ms) / 8;
	/* The base follows any fall at once and a rise over ~100 answers, so
	 * pages that are simply slower become the new normal. */
	if (a->base_ms == 0 || a->lat_ms < a->base_ms)
		a->base_ms = a->lat_ms;
	else
		a->base_ms += (a->lat_ms - a->base_ms) / 128;
}

enum adapt_change adapt_observe(struct adapt *a, uint32_t cap, int status,
				uint64_t ttfb_ms, uint64_t now_ms)
{
	if (status <= 0)
		return ADAPT_SAME;
	if (status == 429 || status == 503)
		return cut(a, 0.5, now_ms);
	track_latency(a, (double)ttfb_ms);
	if (a->lat_ms > ADAPT_LAT_FACTOR * a->base_ms &&
	    a->lat_ms > a->base_ms + ADAPT_LAT_MARGIN_MS)
		return cut(a, 0.75, now_ms);
	if (a->limit >= cap) {
		a->limit = cap;		/* also after a lower cap on reload */
		return ADAPT_SAME;
	}
	a->limit += 1.0 / a->limit;
	if (a->limit > cap)
		a->limit = cap;
	return ADAPT_GREW;
}

uint32_t adapt_limit(const struct adapt *a, uint32_t cap)
{
	uint32_t n = (uint32_t)a->limit;

	if (n > cap)
		n = cap;
	return n ? n : 1;
}
