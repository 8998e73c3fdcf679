/* Unit tests for hash.h: FNV-1a against the published test vectors. */
#include "tap.h"
#include "base/hash.h"

static int test_fnv1a_vectors(void)
{
	int ok = 1;

	ok &= TAP_CHECK(hash_fnv1a_str("") == 0x811c9dc5u);
	ok &= TAP_CHECK(hash_fnv1a_str("a") == 0xe40c292cu);
	ok &= TAP_CHECK(hash_fnv1a_str("foobar") == 0xbf9cf968u);
	return ok;
}

static int test_mix_continues_a_string(void)
{
	uint32_t h = hash_fnv1a_str("foo");

	h = hash_fnv1a_mix(h, 'b');
	h = hash_fnv1a_mix(h, 'a');
	return TAP_CHECK(hash_fnv1a_mix(h, 'r') == hash_fnv1a_str("foobar"));
}

static int test_fnv1a32_lower(void)
{
	int ok = 1;

	ok &= TAP_CHECK(hash_fnv1a32_lower("", 0) == 0x811c9dc5u);
	ok &= TAP_CHECK(hash_fnv1a32_lower("FooBar", 6) == 0xbf9cf968u);
	ok &= TAP_CHECK(hash_fnv1a32_lower("example.ORG", 11) ==
			hash_fnv1a_str("example.org"));
	/* only the n bytes count, and bytes past ASCII stay as they are */
	ok &= TAP_CHECK(hash_fnv1a32_lower("ab:80", 2) == hash_fnv1a_str("ab"));
	ok &= TAP_CHECK(hash_fnv1a32_lower("\xc3\x89", 2) ==
			hash_fnv1a_str("\xc3\x89"));
	return ok;
}

int main(void)
{
	TAP_RUN(test_fnv1a32_lower);
	TAP_RUN(test_fnv1a_vectors);
	TAP_RUN(test_mix_continues_a_string);
	return tap_done();
}
