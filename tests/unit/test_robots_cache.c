/* Unit tests for robots_cache.c: an entry is found until it expires, a
 * newer one replaces it, the LRU tail is evicted past the bounds but never
 * an entry in use, and clear forgets everything while users keep theirs. */
#include <string.h>

#include "engine/robots_cache.h"
#include "tap.h"

static struct robots_entry *add(struct robots_cache *c, const char *name,
				uint64_t expires_ms, bool disallow)
{
	struct robots r;

	if (disallow)
		robots_init_disallow_all(&r);
	else
		robots_init_allow_all(&r);
	return robots_cache_add(c, name, 80, false, &r,
				disallow ? "robots.txt answered 503" : NULL,
				expires_ms);
}

static int test_found_until_expired(void)
{
	struct robots_cache c;
	struct robots_entry *e;
	int ok = 1;

	ok &= TAP_CHECK(robots_cache_init(&c) == 0);
	e = add(&c, "a.test", 1000, true);
	ok &= TAP_CHECK(e && e->refs == 1 && e->linked);
	ok &= TAP_CHECK(STREQ(e->why, "robots.txt answered 503"));
	robots_entry_put(e);
	e = robots_cache_get(&c, "a.test", 80, false, 999);
	ok &= TAP_CHECK(e && e->rules.disallow_all);
	if (e)
		robots_entry_put(e);
	/* another port or scheme is another host */
	ok &= TAP_CHECK(!robots_cache_get(&c, "a.test", 81, false, 0));
	ok &= TAP_CHECK(!robots_cache_get(&c, "a.test", 80, true, 0));
	ok &= TAP_CHECK(!robots_cache_get(&c, "a.test", 80, false, 1000));
	ok &= TAP_CHECK(c.count == 0 && c.bytes == 0);
	robots_cache_fini(&c);
	return ok;
}

static int test_newer_replaces_older_in_use(void)
{
	struct robots_cache c;
	struct robots_entry *old, *e;
	int ok = 1;

	robots_cache_init(&c);
	old = add(&c, "a.test", 1000, true);
	e = add(&c, "a.test", 2000, false);
	ok &= TAP_CHECK(c.count == 1 && !old->linked && e->linked);
	/* the host still using the old one keeps it valid until it puts it */
	ok &= TAP_CHECK(old->rules.disallow_all);
	robots_entry_put(old);
	robots_entry_put(e);
	e = robots_cache_get(&c, "a.test", 80, false, 1500);
	ok &= TAP_CHECK(e && !e->rules.disallow_all);
	if (e)
		robots_entry_put(e);
	robots_cache_fini(&c);
	return ok;
}

static int test_lru_evicts_cold_unused(void)
{
	struct robots_cache c;
	struct robots_entry *used, *e;
	char name[32];
	int ok = 1;

	robots_cache_init(&c);
	c.max_count = 3;
	used = add(&c, "h0", 1000, false);	/* kept in use, coldest */
	for (int i = 1; i <= 2; i++) {
		snprintf(name, sizeof(name), "h%d", i);
		robots_entry_put(add(&c, name, 1000, false));
	}
	/* h1 was touched, so h2 is the coldest unused one */
	e = robots_cache_get(&c, "h1", 80, false, 0);
	ok &= TAP_CHECK(e != NULL);
	if (e)
		robots_entry_put(e);
	robots_entry_put(add(&c, "h3", 1000, false));
	ok &= TAP_CHECK(c.count == 3);
	ok &= TAP_CHECK(used->linked);
	ok &= TAP_CHECK(!robots_cache_get(&c, "h2", 80, false, 0));
	for (int i = 1; i <= 3; i += 2) {
		snprintf(name, sizeof(name), "h%d", i);
		e = robots_cache_get(&c, name, 80, false, 0);
		ok &= TAP_CHECK(e != NULL);
		if (e)
			robots_entry_put(e);
	}
	robots_entry_put(used);
	robots_cache_fini(&c);
	return ok;
}

static int test_byte_bound(void)
{
	struct robots_cache c;
	char name[32];
	int ok = 1;

	robots_cache_init(&c);
	c.max_bytes = 4 * sizeof(struct robots_entry);
	for (int i = 0; i < 10; i++) {
		snprintf(name, sizeof(name), "h%d", i);
		robots_entry_put(add(&c, name, 1000, false));
		ok &= TAP_CHECK(c.bytes <= c.max_bytes);
	}
	ok &= TAP_CHECK(c.count == 4);
	robots_cache_fini(&c);
	return ok;
}

static int test_clear_keeps_entries_in_use(void)
{
	struct robots_cache c;
	struct robots_entry *e;
	int ok = 1;

	robots_cache_init(&c);
	e = add(&c, "a.test", 1000, true);
	robots_entry_put(add(&c, "b.test", 1000, false));
	robots_cache_clear(&c);
	ok &= TAP_CHECK(c.count == 0 && c.bytes == 0);
	ok &= TAP_CHECK(!e->linked && e->rules.disallow_all);
	ok &= TAP_CHECK(!robots_cache_get(&c, "b.test", 80, false, 0));
	robots_entry_put(e);	/* freed here: ASan checks */
	robots_cache_fini(&c);
	return ok;
}

int main(void)
{
	TAP_RUN(test_found_until_expired);
	TAP_RUN(test_newer_replaces_older_in_use);
	TAP_RUN(test_lru_evicts_cold_unused);
	TAP_RUN(test_byte_bound);
	TAP_RUN(test_clear_keeps_entries_in_use);
	return tap_done();
}
