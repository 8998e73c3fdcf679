/* robots.txt outcomes per host: a fixed hash (the count is bounded, so it
 * never grows) and an LRU list whose tail is evicted first, skipping what
 * live hosts use. */
#include "engine/robots_cache.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/hash.h"

#define NBUCKETS 8192		/* ROBOTS_CACHE_HOSTS / 8192 ~ 1.2 a chain */

static uint32_t bucket(const char *name, uint16_t port, bool https)
{
	uint32_t h = hash_fnv1a_str(name);

	h = hash_fnv1a_mix(h, port);
	return hash_fnv1a_mix(h, (uint32_t)https) & (NBUCKETS - 1);
}

int robots_cache_init(struct robots_cache *c)
{
	memset(c, 0, sizeof(*c));
	c->buckets = calloc(NBUCKETS, sizeof(*c->buckets));
	if (!c->buckets)
		return -ENOMEM;
	c->nbuckets = NBUCKETS;
	c->max_count = ROBOTS_CACHE_HOSTS;
	c->max_bytes = ROBOTS_CACHE_BYTES;
	list_init(&c->lru);
	return 0;
}

static void entry_free(struct robots_entry *e)
{
	robots_fini(&e->rules);
	free(e);
}

/* Take e out of the hash and the LRU; freed now unless a host uses it. */
static void unlink_entry(struct robots_cache *c, struct robots_entry *e)
{
	struct robots_entry **pp = &c->buckets[bucket(e->name, e->port,
						      e->https)];

	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	e->hnext = NULL;
	list_remove(&e->lru);
	e->linked = false;
	c->count--;
	c->bytes -= e->bytes;
	if (!e->refs)
		entry_free(e);
}

void robots_cache_fini(struct robots_cache *c)
{
	robots_cache_clear(c);
	free(c->buckets);
	memset(c, 0, sizeof(*c));
}

void robots_cache_clear(struct robots_cache *c)
{
	struct list_node *n;

	while ((n = list_first(&c->lru)))
		unlink_entry(c, list_entry(n, struct robots_entry, lru));
}

static struct robots_entry *find(struct robots_cache *c, const char *name,
				 uint16_t port, bool https)
{
	struct robots_entry *e = c->buckets[bucket(name, port, https)];

	for (; e; e = e->hnext)
		if (e->port == port && e->https == https &&
		    strcmp(e->name, name) == 0)
			return e;
	return NULL;
}

struct robots_entry *robots_cache_get(struct robots_cache *c,
				      const char *name, uint16_t port,
				      bool https, uint64_t now_ms)
{
	struct robots_entry *e = find(c, name, port, https);

	if (!e)
		return NULL;
	if (now_ms >= e->expires_ms) {
		unlink_entry(c, e);
		return NULL;
	}
	list_remove(&e->lru);
	list_push_front(&c->lru, &e->lru);
	e->refs++;
	return e;
}

/* Evict from the cold end while over a bound; entries in use stay. */
static void shrink(struct robots_cache *c)
{
	struct list_node *n = list_last(&c->lru), *prev;

	while (n && (c->count > c->max_count || c->bytes > c->max_bytes)) {
		struct robots_entry *e = list_entry(n, struct robots_entry,
						    lru);

		prev = n->prev != &c->lru ? n->prev : NULL;
		if (!e->refs)
			unlink_entry(c, e);
		n = prev;
	}
}

static size_t rules_bytes(const struct robots *r)
{
	return r->n_rules * sizeof(*r->rules) + r->text_len;
}

struct robots_entry *robots_cache_add(struct robots_cache *c,
				      const char *name, uint16_t port,
				      bool https, struct robots *r,
				      const char *why, uint64_t expires_ms)
{
	struct robots_entry *e = calloc(1, sizeof(*e)), *old;
	uint32_t k = bucket(name, port, https);

	if (!e) {
		robots_fini(r);
		return NULL;
	}
	snprintf(e->name, sizeof(e->name), "%s", name);
	e->port = port;
	e->https = https;
	e->rules = *r;
	memset(r, 0, sizeof(*r));
	snprintf(e->why, sizeof(e->why), "%s", why ? why : "");
	e->expires_ms = expires_ms;
	e->bytes = sizeof(*e) + rules_bytes(&e->rules);
	e->refs = 1;
	old = find(c, name, port, https);
	if (old)
		unlink_entry(c, old);
	e->linked = true;
	e->hnext = c->buckets[k];
	c->buckets[k] = e;
	list_push_front(&c->lru, &e->lru);
	c->count++;
	c->bytes += e->bytes;
	shrink(c);
	return e;
}

void robots_entry_put(struct robots_entry *e)
{
	assert(e->refs > 0);
	if (--e->refs == 0 && !e->linked)
		entry_free(e);
}
