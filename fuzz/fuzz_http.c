/* libFuzzer target for the response side of daemon/http.c: arbitrary bytes
 * as a response, in two reads and an EOF, checking the invariants callers
 * rely on. The first input byte picks the split point (high 7 bits, as a
 * fraction of the rest) and whether the request was HEAD (low bit).
 *
 * Build and run (from the repository root):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -std=gnu11 \
 *     -D_GNU_SOURCE -I/usr/share/include/llhttp -Idaemon \
 *     -o build/fuzz_http fuzz/fuzz_http.c daemon/http.c daemon/sha256.c \
 *     /usr/share/llhttp/llhttp.c /usr/share/llhttp/api.c \
 *     /usr/share/llhttp/http.c
 *   ./build/fuzz_http -max_len=4096 fuzz/corpus/http
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A small cap so that body_too_large is reached too. */
#define FUZZ_MAX_BODY 512

static struct http_resp resp;

static void check(const struct http_resp *r, int rc)
{
	if (r->body_bytes > r->max_body)
		abort();
	if (memchr(r->content_type, 0, sizeof(r->content_type)) == NULL ||
	    memchr(r->retry_after, 0, sizeof(r->retry_after)) == NULL ||
	    memchr(r->location, 0, sizeof(r->location)) == NULL ||
	    memchr(r->detail, 0, sizeof(r->detail)) == NULL)
		abort();
	if ((rc == HTTP_ERROR) != (r->err != HTTP_E_NONE))
		abort();
	if (rc == HTTP_ERROR && r->detail[0] == '\0')
		abort();
	if (rc == HTTP_DONE && (!r->complete || r->status < 200 ||
				r->status > 599))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data + 1;
	size_t n, split, used = 0, used2 = 0;
	uint8_t digest[32];
	int rc;

	if (size < 1)
		return 0;
	n = size - 1;
	split = (size_t)(data[0] >> 1) * n / 127;
	http_resp_init(&resp, FUZZ_MAX_BODY, data[0] & 1);
	resp.decode = true;	/* a Content-Encoding in the input decodes */

	rc = http_resp_feed(&resp, s, split, &used);
	check(&resp, rc);
	if (rc == HTTP_MORE) {
		if (used != split)
			abort();
		rc = http_resp_feed(&resp, s + split, n - split, &used2);
		check(&resp, rc);
		if (used2 > n - split)
			abort();
	} else if (used > split) {
		abort();
	}
	if (rc == HTTP_MORE) {
		rc = http_resp_eof(&resp);
		check(&resp, rc);
		if (rc == HTTP_MORE)
			abort();
	}
	if (rc == HTTP_DONE)
		sha256_final(&resp.sha, digest);
	if (resp.body_bytes > FUZZ_MAX_BODY)
		abort();
	http_resp_fini(&resp);
	return 0;
}
