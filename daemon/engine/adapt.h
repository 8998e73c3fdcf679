/* limits.adaptive: how many requests in flight a host has earned. A 429 or
 * 503 halves it, a time to first byte far above the host's own unloaded
 * latency cuts it by a quarter (each at most once a second), and every
 * other answer adds 1/limit back, so a host regains one request in flight
 * per round of requests, up to limits.per_host. Pure arithmetic on one
 * host's state: the caller supplies the clock. */
#ifndef RF_ADAPT_H
#define RF_ADAPT_H

#include <stdint.h>

/* Latency counts as risen above ADAPT_LAT_FACTOR times the base and, so
 * that a fast server's jitter means nothing, ADAPT_LAT_MARGIN_MS above it. */
#define ADAPT_LAT_FACTOR 3.0
#define ADAPT_LAT_MARGIN_MS 250.0
#define ADAPT_HOLD_MS 1000	/* between two cuts */

struct adapt {
	double limit;		/* 1 .. cap */
	double lat_ms;		/* EWMA of time to first byte, 0 = none yet */
	double base_ms;		/* lowest lat_ms, drifting up to forget */
	uint64_t hold_ms;	/* no cut before this */
};

enum adapt_change { ADAPT_SAME, ADAPT_CUT, ADAPT_GREW };

/* Start at the full cap: a host is trusted until it says otherwise. */
void adapt_init(struct adapt *a, uint32_t cap);

/* One answer: HTTP status (0 for none, which changes nothing) and its time
 * to first byte. */
enum adapt_change adapt_observe(struct adapt *a, uint32_t cap, int status,
				uint64_t ttfb_ms, uint64_t now_ms);

/* Requests the host may have in flight now: 1 .. cap. */
uint32_t adapt_limit(const struct adapt *a, uint32_t cap);

#endif
