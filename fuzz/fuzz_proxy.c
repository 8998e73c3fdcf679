/* libFuzzer target for proxy.c: a proxy's answers are untrusted bytes.
 * The input goes to proxy_connect_reply() and, at every SOCKS5 step, to
 * socks_reply(), whole and split at every point of its first 64 bytes; a
 * parse that succeeds must claim no more bytes than it was given, and the
 * split must never succeed with fewer bytes than the whole does.
 *
 * Without -fsanitize=fuzzer it compiles as a plain object, for a replay
 * driver that calls LLVMFuzzerTestOneInput() on each corpus file. */
#include "http/proxy.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct proxy p;
	static int ready;
	char why[160];
	size_t used;

	if (!ready) {
		proxy_parse(&p, "socks5://u:p@127.0.0.1:1080", NULL, 0, why,
			    sizeof(why));
		ready = 1;
	}
	for (size_t cut = 0; cut <= size && cut < 64; cut++) {
		used = 0;
		if (proxy_connect_reply((const char *)data, cut, &used, why,
					sizeof(why)) == 0 && used > cut)
			abort();
		for (int step = SOCKS_GREETING; step <= SOCKS_DONE; step++) {
			enum socks_step next;

			used = 0;
			if (socks_reply(&p, (enum socks_step)step, data, cut,
					&used, &next, why, sizeof(why)) == 0 &&
			    used > cut)
				abort();
		}
	}
	return 0;
}
