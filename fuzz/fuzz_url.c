/* libFuzzer target for url.c: url_parse() on the input, and url_resolve()
 * of the input against a fixed base, checking the invariants the rest of
 * the daemon relies on (normalised hrefs re-parse to themselves).
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Idaemon -D_GNU_SOURCE \
 *	fuzz/fuzz_url.c daemon/url.c -o build/fuzz_url
 *   ./build/fuzz_url fuzz/corpus/url
 *
 * Without -fsanitize=fuzzer it compiles as a plain object, for a replay
 * driver that calls LLVMFuzzerTestOneInput() on each corpus file. */
#include "http/url.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_url(const struct url *u)
{
	struct url again;
	char err[128];

	if (!u->href || u->port == 0 || url_path(u)[0] != '/' ||
	    strlen(u->href) > URL_MAX || strchr(u->href, '#') ||
	    strchr(u->href, ' '))
		abort();
	if (url_parse(&again, u->href, strlen(u->href), err,
		      sizeof(err)) != URL_OK)
		abort();
	if (strcmp(again.href, u->href) != 0 || again.port != u->port ||
	    strcmp(again.host, u->host) != 0 || again.https != u->https)
		abort();
	url_fini(&again);
}

static void check_failed(const struct url *u, int rc)
{
	if (rc != URL_EINVAL && rc != URL_ESCHEME)
		abort();
	if (u->href || u->port || u->host[0])
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char base_s[] = "https://a.example:8443/b/c/d;p?q";
	struct url base, u, c;
	char err[128];
	int rc;

	rc = url_parse(&u, (const char *)data, size, err, sizeof(err));
	if (rc == URL_OK) {
		check_url(&u);
		if (url_copy(&c, &u) == 0) {
			check_url(&c);
			url_fini(&c);
		}
	} else {
		check_failed(&u, rc);
	}
	url_fini(&u);

	if (url_parse(&base, base_s, sizeof(base_s) - 1, err,
		      sizeof(err)) != URL_OK)
		abort();
	rc = url_resolve(&u, &base, (const char *)data, size, err,
			 sizeof(err));
	if (rc == URL_OK)
		check_url(&u);
	else
		check_failed(&u, rc);
	url_fini(&u);
	url_fini(&base);
	return 0;
}
