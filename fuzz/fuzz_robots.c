/* libFuzzer target for robots.c: robots_parse() on the input as a whole
 * robots.txt, then robots_allowed() of fixed paths and of a path made of
 * the input's first bytes, checking what the engine relies on: every rule
 * lies inside the text, /robots.txt is always allowed, and a disallowed
 * path names a disallow rule.
 *
 * Without -fsanitize=fuzzer it compiles as a plain object, for a replay
 * driver that calls LLVMFuzzerTestOneInput() on each corpus file. */
#include "http/robots.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const struct robots *r, const char *path, size_t n)
{
	const struct robots_rule *why;

	if (!robots_allowed(r, path, n, &why) && why && why->allow)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const paths[] = {
		"/", "/a", "/a/b.php", "/%7Efoo?x=1", "/caf%C3%A9", "/*$",
	};
	struct robots r;
	char path[128];
	size_t n;

	if (robots_parse(&r, (const char *)data, size, "ringfetch", 9) < 0)
		return 0;
	for (size_t i = 0; i < r.n_rules; i++)
		if (r.rules[i].len == 0 ||
		    r.rules[i].off + r.rules[i].len > r.text_len)
			abort();
	if (!robots_allowed(&r, "/robots.txt", 11, NULL))
		abort();
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		check(&r, paths[i], strlen(paths[i]));
	n = size < sizeof(path) - 1 ? size : sizeof(path) - 1;
	path[0] = '/';
	memcpy(path + 1, data, n ? n - 1 : 0);
	check(&r, path, n ? n : 1);
	robots_fini(&r);
	return 0;
}
