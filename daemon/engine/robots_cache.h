/* The robots.txt outcomes of hosts (scheme, name, port), each until it
 * expires, in bounded memory: a hash for lookup and an LRU list for
 * eviction. An entry a live host still uses (holds a reference to) is never
 * evicted; past the bounds because of them, the cache shrinks back at a
 * later add once they are put. Sees no ring: times are passed in. */
#ifndef RF_ROBOTS_CACHE_H
#define RF_ROBOTS_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/list.h"
#include "http/robots.h"
#include "http/url.h"

#define ROBOTS_CACHE_HOSTS 10000		/* entries kept at most */
#define ROBOTS_CACHE_BYTES (64u << 20)		/* their rules at most */

struct robots_entry {
	char name[URL_HOST_MAX + 1];	/* as in struct host */
	uint16_t port;
	bool https;
	struct robots rules;		/* owned; disallow_all when unreachable */
	char why[128];			/* with disallow_all: the cause, e.g.
					 * "robots.txt answered 503"; else "" */
	uint64_t expires_ms;		/* loop clock: stale from then on */
	size_t bytes;			/* memory charged to the cache */
	uint32_t refs;			/* hosts using it: 0 = evictable */
	bool linked;			/* in the cache; false once replaced,
					 * forgotten or evicted while in use:
					 * freed by the last put */
	struct robots_entry *hnext;	/* hash chain while linked */
	struct list_node lru;		/* in cache.lru while linked */
};

struct robots_cache {
	struct robots_entry **buckets;
	uint32_t nbuckets;		/* power of two */
	uint32_t count;			/* linked entries */
	size_t bytes;			/* of linked entries */
	uint32_t max_count;		/* ROBOTS_CACHE_HOSTS unless a test
					 * sets less */
	size_t max_bytes;
	struct list_node lru;		/* most recently used first */
};

/* Returns 0 or -ENOMEM (nothing to free then). */
int robots_cache_init(struct robots_cache *c);
/* Frees every linked entry; entries still referenced must be put first. */
void robots_cache_fini(struct robots_cache *c);

/* The fresh entry for the host, with one more reference (release with
 * robots_entry_put), made most recently used; NULL when there is none or
 * it expired by now_ms (an expired one is dropped). */
struct robots_entry *robots_cache_get(struct robots_cache *c,
				      const char *name, uint16_t port,
				      bool https, uint64_t now_ms);

/* Store rules (taken over: r is left empty) for the host until expires_ms,
 * with why (NULL or a sentence), replacing an older entry for it; then
 * evict least recently used unreferenced entries past the bounds. Returns
 * the new entry with one reference, or NULL when out of memory (the rules
 * are then freed). */
struct robots_entry *robots_cache_add(struct robots_cache *c,
				      const char *name, uint16_t port,
				      bool https, struct robots *r,
				      const char *why, uint64_t expires_ms);

/* Drop a reference; an entry no longer in the cache goes with its last. */
void robots_entry_put(struct robots_entry *e);

/* Forget every entry (a new product token makes them all wrong); those in
 * use live on, unlinked, until their hosts put them. */
void robots_cache_clear(struct robots_cache *c);

#endif
