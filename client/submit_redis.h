/* ringfetch submit --redis: push jobs straight into a fleet's Redis job
 * streams (SPEC, Fleet), with no daemon on this machine. Blocking I/O. */
#ifndef RF_SUBMIT_REDIS_H
#define RF_SUBMIT_REDIS_H

#define SUBMIT_REDIS_STREAM "ringfetch:jobs"	/* source.redis.stream */
#define SUBMIT_REDIS_PARTITIONS 16		/* source.redis.partitions */

struct submit_redis_opts {
	const char *url;	/* redis:// or unix:// */
	const char *stream;	/* prefix: entries go to PREFIX:P */
	unsigned partitions;	/* N >= 1 */
	const char *id;		/* field id of every entry, or NULL */
	char **urls;		/* the jobs, or NULL: read stdin */
	int n_urls;
};

/* XADD each URL to PREFIX:P, P = hash_fnv1a32_lower(host) % N, printing
 * one JSON line per URL on stdout: {"ok":true,"url":..,"stream":..,
 * "entry":..}, or {"ok":false,"url":..,"error":..,"detail":..} for a URL
 * that does not parse or that Redis refused (also said on stderr).
 * Returns the exit status: 0 all pushed, 1 some refused, 2 a bad --redis
 * URL, 3 Redis unreachable or the connection broke. */
int submit_redis(const struct submit_redis_opts *o);

#endif
