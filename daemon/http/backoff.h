/* Retry timing: exponential backoff with full jitter, a tiny seeded PRNG
 * for it, and the Retry-After header (RFC 9110 section 10.2.3). Pure
 * functions of their arguments; no clock is read here. */
#ifndef RF_BACKOFF_H
#define RF_BACKOFF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Retry-After values are capped here (about 68 years) before any
 * arithmetic, so nothing downstream can overflow. */
#define BACKOFF_RETRY_AFTER_MAX_S 2147483647ull

/* Next number from a splitmix64 generator; any seed, 0 included, works.
 * Not for anything secret. Advances *state. */
uint64_t backoff_rand(uint64_t *state);

/* Delay before the next attempt after attempt number `attempt` (1 = the
 * first one) failed: min(max_ms, base_ms * 2^(attempt-1)), without
 * overflow however large attempt is (0 counts as 1). With jitter, a value
 * drawn uniformly from [0, that delay] using *rng_state ("full jitter");
 * rng_state may be NULL when jitter is false. */
uint64_t backoff_delay_ms(uint32_t attempt, uint64_t base_ms, uint64_t max_ms,
			  bool jitter, uint64_t *rng_state);

/* Parse a Retry-After field value of len bytes (not NUL-terminated;
 * surrounding spaces and tabs allowed): delay-seconds, or an HTTP-date in
 * IMF-fixdate, obsolete RFC 850 or asctime form, taken relative to
 * now_wall_ms (Unix epoch milliseconds). A date in the past gives 0.
 * Returns 0 with *delay_ms set (at most BACKOFF_RETRY_AFTER_MAX_S seconds),
 * or -EINVAL with *delay_ms untouched. */
int backoff_parse_retry_after(const char *value, size_t len,
			      uint64_t now_wall_ms, uint64_t *delay_ms);

#endif
