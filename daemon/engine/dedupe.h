/* batch.dedupe: the URLs already seen in this crawl, as an exact set of
 * 128-bit keys (the first half of SHA-256 of the normalised URL, so two
 * different URLs share a key with probability 2^-128 per pair: no URL never
 * seen is skipped in practice), each with the number of the job that
 * fetches it. Memory is bounded by batch.dedupe_memory: an open-addressing
 * table of 24-byte slots, at most 3/4 full; past it, newer URLs are no
 * longer remembered (and so fetched without the check), which the log says
 * once. */
#ifndef RF_DEDUPE_H
#define RF_DEDUPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct dedupe_slot {
	uint64_t k0, k1;	/* the key; k0 == k1 == 0 marks a free slot */
	uint64_t num;		/* the first job with this URL */
};

struct dedupe {
	struct dedupe_slot *v;	/* owned; NULL until the first insert */
	size_t cap;		/* slots, a power of two (or 0) */
	size_t n;		/* slots in use */
	size_t max_bytes;	/* batch.dedupe_memory */
	bool full;		/* the bound stopped the set from growing */
	uint64_t hits;		/* duplicates found */
};

void dedupe_init(struct dedupe *d, size_t max_bytes);
void dedupe_fini(struct dedupe *d);

/* Look href (n bytes, a normalised URL) up. When seen before, returns the
 * job number it was first given. Else remembers it for num (when the
 * bound allows) and returns 0. Never fails: out of memory or the bound
 * only stop remembering. */
uint64_t dedupe_check(struct dedupe *d, const char *href, size_t n,
		      uint64_t num);

#endif
