/* Unit tests for daemon/http.c: request building, and the response parser
 * fed whole, one byte at a time and split at every point. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"
#include "tap.h"

#define HELLO_WORLD_SHA \
	"b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"
#define EMPTY_SHA \
	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* ---- helpers ---------------------------------------------------------- */

static struct url make_url(const char *href, const char *host, uint16_t port,
			   bool https, bool ipv6)
{
	struct url u;

	memset(&u, 0, sizeof(u));
	u.href = (char *)href;
	snprintf(u.host, sizeof(u.host), "%s", host);
	u.port = port;
	u.https = https;
	u.ipv6 = ipv6;
	u.ip_literal = ipv6;
	/* the path starts at the first '/' after "scheme://" */
	u.path_off = (size_t)(strchr(strstr(href, "//") + 2, '/') - href);
	return u;
}

/* What one parse produced; comparable across ways of feeding. */
struct outcome {
	int rc;
	size_t used;
	struct http_resp *r;	/* owned: free() */
	char hex[65];		/* body digest when rc == HTTP_DONE */
};

enum feed_mode { FEED_WHOLE, FEED_BYTES };

/* Feed s (len bytes) in one piece or byte by byte, then EOF when eof and
 * the parser still wants more. */
static struct outcome parse(const char *s, size_t len, bool head,
			    uint64_t max_body, bool eof, enum feed_mode mode)
{
	struct outcome o = { .rc = HTTP_MORE };
	uint8_t dg[32];
	size_t u;

	o.r = malloc(sizeof(*o.r));
	http_resp_init(o.r, max_body, head);
	if (mode == FEED_WHOLE) {
		o.rc = http_resp_feed(o.r, s, len, &o.used);
	} else {
		for (size_t i = 0; i < len && o.rc == HTTP_MORE; i++) {
			o.rc = http_resp_feed(o.r, s + i, 1, &u);
			o.used += u;
		}
	}
	if (o.rc == HTTP_MORE && eof)
		o.rc = http_resp_eof(o.r);
	if (o.rc == HTTP_DONE) {
		sha256_final(&o.r->sha, dg);
		sha256_hex(dg, o.hex);
	}
	return o;
}

static struct outcome parse_str(const char *s, bool eof)
{
	return parse(s, strlen(s), false, 1 << 20, eof, FEED_WHOLE);
}

/* http_build_request() with the options most cases need. */
static int build(char *buf, size_t cap, const struct url *u, const char *ua,
		 const struct config_header *cfg, size_t n_cfg,
		 const struct config_header *job, size_t n_job)
{
	struct http_req_opts o = {
		.user_agent = ua, .cfg_headers = cfg, .n_cfg = n_cfg,
		.job_headers = job, .n_job = n_job,
	};

	return http_build_request(buf, cap, u, &o);
}

static int same_outcome(const struct outcome *a, const struct outcome *b)
{
	const struct http_resp *x = a->r, *y = b->r;

	return TAP_CHECK(a->rc == b->rc) && TAP_CHECK(a->used == b->used) &&
	       TAP_CHECK(STREQ(a->hex, b->hex)) &&
	       TAP_CHECK(x->status == y->status) &&
	       TAP_CHECK(x->err == y->err) &&
	       TAP_CHECK(STREQ(x->detail, y->detail)) &&
	       TAP_CHECK(x->body_bytes == y->body_bytes) &&
	       TAP_CHECK(x->keep_alive == y->keep_alive) &&
	       TAP_CHECK(x->truncated == y->truncated) &&
	       TAP_CHECK(STREQ(x->content_type, y->content_type)) &&
	       TAP_CHECK(STREQ(x->location, y->location)) &&
	       TAP_CHECK(STREQ(x->retry_after, y->retry_after));
}

static void hex_of(const void *p, size_t n, char hex[65])
{
	struct sha256 s;
	uint8_t dg[32];

	sha256_init(&s);
	sha256_update(&s, p, n);
	sha256_final(&s, dg);
	sha256_hex(dg, hex);
}

/* ---- requests --------------------------------------------------------- */

static int test_req_default_port(void)
{
	struct url u = make_url("http://example.com/a/b?x=1", "example.com",
				80, false, false);
	const char *want = "GET /a/b?x=1 HTTP/1.1\r\n"
			   "Host: example.com\r\n"
			   "User-Agent: rf/1\r\n"
			   "Accept: */*\r\n\r\n";
	char buf[512];
	int n = build(buf, sizeof(buf), &u, "rf/1", NULL, 0, NULL, 0);

	return TAP_CHECK(n == (int)strlen(want)) && TAP_CHECK(STREQ(buf, want));
}

static int test_req_ports(void)
{
	struct url a = make_url("http://h:8080/", "h", 8080, false, false);
	struct url b = make_url("https://h/", "h", 443, true, false);
	struct url c = make_url("https://h:80/", "h", 80, true, false);
	char buf[512];
	int ok = 1;

	ok &= TAP_CHECK(build(buf, sizeof(buf), &a, "x", NULL, 0, NULL, 0) > 0);
	ok &= TAP_CHECK(strstr(buf, "\r\nHost: h:8080\r\n") != NULL);
	ok &= TAP_CHECK(build(buf, sizeof(buf), &b, "x", NULL, 0, NULL, 0) > 0);
	ok &= TAP_CHECK(strstr(buf, "\r\nHost: h\r\n") != NULL);
	ok &= TAP_CHECK(build(buf, sizeof(buf), &c, "x", NULL, 0, NULL, 0) > 0);
	ok &= TAP_CHECK(strstr(buf, "\r\nHost: h:80\r\n") != NULL);
	return ok;
}

static int test_req_ipv6(void)
{
	struct url a = make_url("http://[::1]:8080/p", "::1", 8080, false,
				true);
	struct url b = make_url("https://[2001:db8::1]/", "2001:db8::1", 443,
				true, true);
	char buf[512];
	int ok = 1;

	ok &= TAP_CHECK(build(buf, sizeof(buf), &a, "x", NULL, 0, NULL, 0) > 0);
	ok &= TAP_CHECK(strncmp(buf, "GET /p HTTP/1.1\r\n", 17) == 0);
	ok &= TAP_CHECK(strstr(buf, "\r\nHost: [::1]:8080\r\n") != NULL);
	ok &= TAP_CHECK(build(buf, sizeof(buf), &b, "x", NULL, 0, NULL, 0) > 0);
	ok &= TAP_CHECK(strstr(buf, "\r\nHost: [2001:db8::1]\r\n") != NULL);
	return ok;
}

static int test_req_header_override(void)
{
	struct url u = make_url("http://e.org/", "e.org", 80, false, false);
	struct config_header cfg[] = {
		{ "X-A", "1" }, { "X-B", "2" }, { "User-Agent", "cfg-ua" },
	};
	struct config_header job[] = {
		{ "x-a", "9" }, { "Accept", "text/html" }, { "X-C", "3" },
	};
	const char *want = "GET / HTTP/1.1\r\n"
			   "Host: e.org\r\n"
			   "User-Agent: cfg-ua\r\n"
			   "Accept: text/html\r\n"
			   "X-B: 2\r\n"
			   "x-a: 9\r\n"
			   "X-C: 3\r\n\r\n";
	char buf[512];
	int n = build(buf, sizeof(buf), &u, "rf/1", cfg, 3, job, 3);

	return TAP_CHECK(n == (int)strlen(want)) && TAP_CHECK(STREQ(buf, want));
}

static int test_req_enospc(void)
{
	struct url u = make_url("http://e.org/", "e.org", 80, false, false);
	char buf[512];
	int n = build(buf, sizeof(buf), &u, "ua", NULL, 0, NULL, 0);
	int ok = TAP_CHECK(n > 0);

	/* the NUL must fit too */
	ok &= TAP_CHECK(build(buf, (size_t)n + 1, &u, "ua", NULL, 0, NULL, 0) == n);
	ok &= TAP_CHECK(build(buf, (size_t)n, &u, "ua", NULL, 0, NULL, 0) == -ENOSPC);
	ok &= TAP_CHECK(build(buf, 10, &u, "ua", NULL, 0, NULL, 0) == -ENOSPC);
	ok &= TAP_CHECK(build(buf, 0, &u, "ua", NULL, 0, NULL, 0) == -ENOSPC);
	return ok;
}

static int test_req_crlf_refused(void)
{
	struct url u = make_url("http://e.org/", "e.org", 80, false, false);
	struct config_header job[] = { { "X-A", "1\r\nX-Evil: 1" } };
	char buf[512];

	return TAP_CHECK(build(buf, sizeof(buf), &u, "ua", NULL, 0, job, 1) == -EINVAL);
}

/* ---- responses -------------------------------------------------------- */

static int test_content_length(void)
{
	const char *s = "HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n"
			"hello world";
	struct outcome o = parse_str(s, false);
	int ok = TAP_CHECK(o.rc == HTTP_DONE) &&
		 TAP_CHECK(o.used == strlen(s)) &&
		 TAP_CHECK(o.r->status == 200) &&
		 TAP_CHECK(o.r->body_bytes == 11) &&
		 TAP_CHECK(o.r->keep_alive) &&
		 TAP_CHECK(STREQ(o.hex, HELLO_WORLD_SHA)) &&
		 TAP_CHECK(STREQ(o.r->content_type, ""));

	free(o.r);
	return ok;
}

static int test_chunked_ext_trailers(void)
{
	const char *s = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
			"5;ext=1\r\nhello\r\n6;a;q=\"v\"\r\n world\r\n"
			"0\r\nX-Trailer: t1\r\nLocation: /trailer\r\n\r\n";
	struct outcome o = parse_str(s, false);
	int ok = TAP_CHECK(o.rc == HTTP_DONE) &&
		 TAP_CHECK(o.used == strlen(s)) &&
		 TAP_CHECK(o.r->body_bytes == 11) &&
		 TAP_CHECK(o.r->keep_alive) &&
		 TAP_CHECK(STREQ(o.hex, HELLO_WORLD_SHA)) &&
		 TAP_CHECK(STREQ(o.r->location, "")); /* trailers set nothing */

	free(o.r);
	return ok;
}

static int test_read_until_close(void)
{
	const char *s = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n"
			"hello world";
	struct outcome o = parse_str(s, false);
	int ok = TAP_CHECK(o.rc == HTTP_MORE) && TAP_CHECK(o.r->head_done);

	ok &= TAP_CHECK(http_resp_eof(o.r) == HTTP_DONE);
	ok &= TAP_CHECK(o.r->complete && !o.r->keep_alive);
	ok &= TAP_CHECK(o.r->body_bytes == 11);
	free(o.r);
	o = parse_str(s, true);
	ok &= TAP_CHECK(o.rc == HTTP_DONE) &&
	      TAP_CHECK(STREQ(o.hex, HELLO_WORLD_SHA));
	free(o.r);
	return ok;
}

static int test_interim_responses(void)
{
	const char *s = "HTTP/1.1 100 Continue\r\n\r\n"
			"HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n"
			"Content-Type: text/css\r\nLocation: /x\r\n\r\n"
			"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
	struct outcome o = parse_str(s, false);
	int ok = TAP_CHECK(o.rc == HTTP_DONE) &&
		 TAP_CHECK(o.used == strlen(s)) &&
		 TAP_CHECK(o.r->status == 200) &&
		 TAP_CHECK(o.r->body_bytes == 2) &&
		 TAP_CHECK(STREQ(o.r->content_type, "")) &&
		 TAP_CHECK(STREQ(o.r->location, ""));

	free(o.r);
	return ok;
}

static int test_no_body_statuses(void)
{
	static const char *const v[] = {
		"HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n",
		"HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n",
		"HTTP/1.1 304 Not Modified\r\n"
		"Transfer-Encoding: chunked\r\n\r\n",
	};
	int ok = 1;

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct outcome o = parse_str(v[i], false);

		ok &= TAP_CHECK(o.rc == HTTP_DONE) &&
		      TAP_CHECK(o.used == strlen(v[i])) &&
		      TAP_CHECK(o.r->body_bytes == 0) &&
		      TAP_CHECK(o.r->keep_alive) &&
		      TAP_CHECK(STREQ(o.hex, EMPTY_SHA));
		free(o.r);
	}
	return ok;
}

static int test_head_request(void)
{
	const char *s = "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n";
	struct outcome o = parse(s, strlen(s), true, 10, false, FEED_WHOLE);
	int ok = TAP_CHECK(o.rc == HTTP_DONE) &&
		 TAP_CHECK(o.used == strlen(s)) &&
		 TAP_CHECK(o.r->body_bytes == 0) &&
		 TAP_CHECK(o.r->keep_alive);

	free(o.r);
	/* the same head without HEAD waits for the body */
	o = parse(s, strlen(s), false, 1 << 20, false, FEED_WHOLE);
	ok &= TAP_CHECK(o.rc == HTTP_MORE);
	free(o.r);
	return ok;
}

static int test_keep_alive(void)
{
	static const struct {
		const char *s;
		bool ka;
	} v[] = {
		{ "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", true },
		{ "HTTP/1.1 200 OK\r\nConnection: close\r\n"
		  "Content-Length: 0\r\n\r\n", false },
		{ "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", false },
		{ "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n"
		  "Content-Length: 0\r\n\r\n", true },
		/* bytes after the response: never reused */
		{ "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nX", false },
		{ "HTTP/1.1 200 OK\r\nConnection: close\r\n"
		  "Content-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\n", false },
	};
	int ok = 1;

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct outcome o = parse_str(v[i].s, false);

		ok &= TAP_CHECK(o.rc == HTTP_DONE);
		ok &= TAP_CHECK(o.r->keep_alive == v[i].ka);
		free(o.r);
	}
	return ok;
}

static int test_headers_captured(void)
{
	const char *s = "HTTP/1.1 301 Moved\r\n"
			"content-TYPE:   text/html; charset=utf-8  \r\n"
			"LOCATION: https://e.org/new?a=1\r\n"
			"Retry-After: 120\r\n"
			"Location: /second-is-ignored\r\n"
			"Content-Length: 0\r\n\r\n";
	struct outcome o = parse_str(s, false);
	int ok = TAP_CHECK(o.rc == HTTP_DONE) &&
		 TAP_CHECK(o.r->status == 301) &&
		 TAP_CHECK(STREQ(o.r->content_type,
				 "text/html; charset=utf-8")) &&
		 TAP_CHECK(STREQ(o.r->location, "https://e.org/new?a=1")) &&
		 TAP_CHECK(STREQ(o.r->retry_after, "120"));

	free(o.r);
	return ok;
}

static int test_long_values(void)
{
	static char s[3 * URL_MAX];
	struct outcome o;
	int ok = 1;
	size_t n;

	/* Content-Type is cut to fit */
	n = (size_t)snprintf(s, sizeof(s), "HTTP/1.1 200 OK\r\n"
			     "Content-Type: %0300d\r\n"
			     "Content-Length: 0\r\n\r\n",
			     7);
	o = parse(s, n, false, 0, false, FEED_WHOLE);
	ok &= TAP_CHECK(o.rc == HTTP_DONE);
	ok &= TAP_CHECK(strlen(o.r->content_type) ==
			sizeof(o.r->content_type) - 1);
	free(o.r);
	/* an overlong Location is dropped, and fatal only on a redirect */
	n = (size_t)snprintf(s, sizeof(s), "HTTP/1.1 200 OK\r\n"
			     "Location: /%0*d\r\nContent-Length: 0\r\n\r\n",
			     URL_MAX, 7);
	o = parse(s, n, false, 0, false, FEED_WHOLE);
	ok &= TAP_CHECK(o.rc == HTTP_DONE);
	ok &= TAP_CHECK(o.r->location_too_long);
	ok &= TAP_CHECK(STREQ(o.r->location, ""));
	free(o.r);
	memcpy(s + 9, "302", 3);
	o = parse(s, n, false, 0, false, FEED_WHOLE);
	ok &= TAP_CHECK(o.rc == HTTP_ERROR);
	ok &= TAP_CHECK(o.r->err == HTTP_E_PROTOCOL);
	free(o.r);
	return ok;
}

static int test_split_header_names(void)
{
	static const char *const parts[] = {
		"HTTP/1.1 200 OK\r\nCon", "tent-Ty", "pe: te", "xt/pl",
		"ain\r\nRetry-A", "fter", ": 5\r\nContent-Length: 0\r",
		"\n\r\n",
	};
	struct http_resp *r = malloc(sizeof(*r));
	int rc = HTTP_MORE, ok;
	size_t used;

	http_resp_init(r, 100, false);
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
		rc = http_resp_feed(r, parts[i], strlen(parts[i]), &used);
	ok = TAP_CHECK(rc == HTTP_DONE) &&
	     TAP_CHECK(STREQ(r->content_type, "text/plain")) &&
	     TAP_CHECK(STREQ(r->retry_after, "5"));
	free(r);
	return ok;
}

/* Responses whose outcome must not depend on how the bytes arrive. */
static const char *const corpus[] = {
	"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nhello world",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t1\r\n\r\n",
	"HTTP/1.1 200 OK\r\nContent-Type: a/b\r\n\r\nuntil close",
	"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n"
	"Content-Length: 2\r\nRetry-After: 3\r\n\r\nok",
	"HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n",
	"HTTP/1.0 302 Found\r\nLocation: /x\r\nContent-Length: 1\r\n\r\nx",
	"HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\ntruncated",
	"HTTP/1.1 2x0 OK\r\n\r\n",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
	"HTTP/1.1 200 OK\r\nContent-Length: 300\r\n\r\n",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	"100\r\n",
};

static int test_bytewise_equals_whole(void)
{
	int ok = 1;

	for (size_t i = 0; i < sizeof(corpus) / sizeof(corpus[0]); i++) {
		size_t n = strlen(corpus[i]);
		struct outcome a = parse(corpus[i], n, false, 100, true,
					 FEED_WHOLE);
		struct outcome b = parse(corpus[i], n, false, 100, true,
					 FEED_BYTES);

		if (!same_outcome(&a, &b)) {
			printf("#   corpus[%zu]\n", i);
			ok = 0;
		}
		free(a.r);
		free(b.r);
	}
	return ok;
}

/* Every split into two pieces, as a recv() boundary could fall. */
static int test_every_split_equals_whole(void)
{
	int ok = 1;

	for (size_t i = 0; i < sizeof(corpus) / sizeof(corpus[0]); i++) {
		size_t n = strlen(corpus[i]);
		struct outcome a = parse(corpus[i], n, false, 100, true,
					 FEED_WHOLE);

		for (size_t k = 0; k <= n; k++) {
			struct outcome b = { .rc = HTTP_MORE };
			uint8_t dg[32];
			size_t u;

			b.r = malloc(sizeof(*b.r));
			http_resp_init(b.r, 100, false);
			b.rc = http_resp_feed(b.r, corpus[i], k, &b.used);
			if (b.rc == HTTP_MORE) {
				b.rc = http_resp_feed(b.r, corpus[i] + k,
						      n - k, &u);
				b.used += u;
			}
			if (b.rc == HTTP_MORE)
				b.rc = http_resp_eof(b.r);
			if (b.rc == HTTP_DONE) {
				sha256_final(&b.r->sha, dg);
				sha256_hex(dg, b.hex);
			}
			if (!same_outcome(&a, &b)) {
				printf("#   corpus[%zu] split at %zu\n", i, k);
				ok = 0;
			}
			free(b.r);
		}
		free(a.r);
	}
	return ok;
}

static int test_truncated_body(void)
{
	const char *s = "HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\nshort";
	struct outcome o = parse_str(s, true);
	int ok = TAP_CHECK(o.rc == HTTP_ERROR) &&
		 TAP_CHECK(o.r->err == HTTP_E_PROTOCOL) &&
		 TAP_CHECK(o.r->truncated) && TAP_CHECK(!o.r->no_bytes) &&
		 TAP_CHECK(STREQ(o.r->detail, "connection closed before the "
				 "response was complete"));

	free(o.r);
	/* chunked cut short, and a head cut short */
	o = parse_str("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		      "5\r\nhel", true);
	ok &= TAP_CHECK(o.rc == HTTP_ERROR) && TAP_CHECK(o.r->truncated);
	free(o.r);
	o = parse_str("HTTP/1.1 200 OK\r\nContent-Le", true);
	ok &= TAP_CHECK(o.rc == HTTP_ERROR) && TAP_CHECK(o.r->truncated);
	free(o.r);
	/* closed after an interim response only */
	o = parse_str("HTTP/1.1 100 Continue\r\n\r\n", true);
	ok &= TAP_CHECK(o.rc == HTTP_ERROR) && TAP_CHECK(o.r->truncated) &&
	      TAP_CHECK(!o.r->no_bytes);
	free(o.r);
	return ok;
}

static int test_eof_no_bytes(void)
{
	struct http_resp *r = malloc(sizeof(*r));
	int ok;

	http_resp_init(r, 100, false);
	ok = TAP_CHECK(http_resp_eof(r) == HTTP_ERROR) &&
	     TAP_CHECK(r->truncated) && TAP_CHECK(r->no_bytes) &&
	     TAP_CHECK(r->err == HTTP_E_PROTOCOL) &&
	     TAP_CHECK(r->status == 0);
	free(r);
	return ok;
}

static int test_malformed(void)
{
	static const char *const v[] = {
		"HTTP/1.1 2x0 OK\r\n\r\n",
		"XTTP/1.1 200 OK\r\n\r\n",
		"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
		"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n"
		"\r\nx",
		"HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n",
		"HTTP/1.1 200 OK\r\n"
		"Content-Length: 18446744073709551616\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
		"Content-Length: 3\r\n\r\n",
		"HTTP/1.1 200 OK\r\nBad\x01Name: x\r\n\r\n",
		"HTTP/1.1 099 Low\r\n\r\n",
		"HTTP/1.1 600 High\r\n\r\n",
		"HTTP/1.1 101 Switching Protocols\r\nUpgrade: ws\r\n"
		"Connection: upgrade\r\n\r\n",
	};
	int ok = 1;

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct outcome o = parse_str(v[i], false);

		if (!TAP_CHECK(o.rc == HTTP_ERROR) ||
		    !TAP_CHECK(o.r->err == HTTP_E_PROTOCOL) ||
		    !TAP_CHECK(o.r->detail[0] != '\0') ||
		    !TAP_CHECK(!o.r->truncated)) {
			printf("#   v[%zu] rc %d detail \"%s\"\n", i, o.rc,
			       o.r->detail);
			ok = 0;
		}
		free(o.r);
	}
	return ok;
}

static int test_malformed_details(void)
{
	struct outcome o = parse_str("HTTP/1.1 2x0 OK\r\n\r\n", false);
	int ok = TAP_CHECK(STREQ(o.r->detail, "malformed response: "
				 "Invalid response status"));

	free(o.r);
	o = parse_str("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n"
		      "Content-Length: 1\r\n\r\n", false);
	ok &= TAP_CHECK(STREQ(o.r->detail, "malformed response: "
			      "Duplicate Content-Length"));
	free(o.r);
	/* after an error, the parser stays failed and takes nothing */
	o = parse_str("XTTP", false);
	{
		size_t u = 99;

		ok &= TAP_CHECK(http_resp_feed(o.r, "HTTP", 4, &u) ==
				HTTP_ERROR) && TAP_CHECK(u == 0);
		ok &= TAP_CHECK(http_resp_eof(o.r) == HTTP_ERROR);
		ok &= TAP_CHECK(!o.r->truncated);
	}
	free(o.r);
	return ok;
}

static int test_headers_too_large(void)
{
	size_t cap = 2 * HTTP_HEAD_MAX, n;
	char *s = malloc(cap);
	struct outcome o;
	int ok = 1;

	/* one header over the limit, in one buffer */
	n = (size_t)sprintf(s, "HTTP/1.1 200 OK\r\nX-Big: ");
	memset(s + n, 'a', HTTP_HEAD_MAX);
	n += HTTP_HEAD_MAX;
	n += (size_t)sprintf(s + n, "\r\nContent-Length: 0\r\n\r\n");
	o = parse(s, n, false, 100, false, FEED_WHOLE);
	ok &= TAP_CHECK(o.rc == HTTP_ERROR) &&
	      TAP_CHECK(o.r->err == HTTP_E_PROTOCOL) &&
	      TAP_CHECK(strstr(o.r->detail, "too large") != NULL);
	free(o.r);
	/* many small ones, a byte at a time */
	o = parse(s, n, false, 100, false, FEED_BYTES);
	ok &= TAP_CHECK(o.rc == HTTP_ERROR) &&
	      TAP_CHECK(o.r->err == HTTP_E_PROTOCOL);
	free(o.r);
	/* more than HTTP_HEADERS_MAX lines, each small */
	n = (size_t)sprintf(s, "HTTP/1.1 200 OK\r\n");
	for (int i = 0; i <= HTTP_HEADERS_MAX; i++)
		n += (size_t)sprintf(s + n, "X-%d: v\r\n", i);
	n += (size_t)sprintf(s + n, "Content-Length: 0\r\n\r\n");
	o = parse(s, n, false, 100, false, FEED_WHOLE);
	ok &= TAP_CHECK(o.rc == HTTP_ERROR) &&
	      TAP_CHECK(o.r->err == HTTP_E_PROTOCOL);
	free(o.r);
	free(s);
	return ok;
}

static int test_body_too_large(void)
{
	static const char *const v[] = {
		"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nhello world",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
		"HTTP/1.1 200 OK\r\n\r\nhello world",
	};
	int ok = 1;

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		size_t n = strlen(v[i]);
		struct outcome o = parse(v[i], n, false, 10, true, FEED_WHOLE);

		ok &= TAP_CHECK(o.rc == HTTP_ERROR) &&
		      TAP_CHECK(o.r->err == HTTP_E_TOO_LARGE) &&
		      TAP_CHECK(STREQ(o.r->detail, "body exceeds http.max_body "
				      "(10 bytes)")) &&
		      TAP_CHECK(o.r->body_bytes <= 10);
		free(o.r);
		/* exactly at the limit is fine */
		o = parse(v[i], n, false, 11, true, FEED_BYTES);
		ok &= TAP_CHECK(o.rc == HTTP_DONE) &&
		      TAP_CHECK(STREQ(o.hex, HELLO_WORLD_SHA));
		free(o.r);
	}
	return ok;
}

/* A body large enough to cross many SHA-256 blocks and chunks. */
static int test_body_digest(void)
{
	size_t body_len = 100000, n = 0;
	char *body = malloc(body_len), *s = malloc(2 * body_len);
	char want[65];
	struct outcome o;
	int ok;

	for (size_t i = 0; i < body_len; i++)
		body[i] = (char)(i * 7 + (i >> 8));
	hex_of(body, body_len, want);
	n += (size_t)sprintf(s, "HTTP/1.1 200 OK\r\n"
			     "Transfer-Encoding: chunked\r\n\r\n");
	for (size_t off = 0, c = 1; off < body_len; off += c, c = c * 3 + 1) {
		if (c > body_len - off)
			c = body_len - off;
		n += (size_t)sprintf(s + n, "%zx\r\n", c);
		memcpy(s + n, body + off, c);
		n += c;
		n += (size_t)sprintf(s + n, "\r\n");
	}
	n += (size_t)sprintf(s + n, "0\r\n\r\n");
	o = parse(s, n, false, body_len, false, FEED_WHOLE);
	ok = TAP_CHECK(o.rc == HTTP_DONE) && TAP_CHECK(o.used == n) &&
	     TAP_CHECK(o.r->body_bytes == body_len) &&
	     TAP_CHECK(STREQ(o.hex, want));
	free(o.r);
	o = parse(s, n, false, body_len, false, FEED_BYTES);
	ok &= TAP_CHECK(o.rc == HTTP_DONE) && TAP_CHECK(STREQ(o.hex, want));
	free(o.r);
	free(body);
	free(s);
	return ok;
}

static int test_pipelined(void)
{
	const char *one = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
	const char *two = "HTTP/1.1 404 Not Found\r\n"
			  "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
	char s[256];
	struct http_resp *r = malloc(sizeof(*r));
	size_t n, used, used2;
	int ok;

	n = (size_t)snprintf(s, sizeof(s), "%s%s", one, two);
	http_resp_init(r, 100, false);
	ok = TAP_CHECK(http_resp_feed(r, s, n, &used) == HTTP_DONE) &&
	     TAP_CHECK(used == strlen(one)) && TAP_CHECK(r->status == 200) &&
	     TAP_CHECK(!r->keep_alive);
	/* DONE is sticky and takes nothing more */
	ok &= TAP_CHECK(http_resp_feed(r, s + used, n - used, &used2) ==
			HTTP_DONE) && TAP_CHECK(used2 == 0);
	ok &= TAP_CHECK(http_resp_eof(r) == HTTP_DONE);
	/* the rest parses as the next response after a reset */
	http_resp_init(r, 100, false);
	ok &= TAP_CHECK(http_resp_feed(r, s + used, n - used, &used2) ==
			HTTP_DONE) && TAP_CHECK(used2 == strlen(two)) &&
	      TAP_CHECK(r->status == 404) && TAP_CHECK(r->keep_alive);
	free(r);
	return ok;
}

static int test_status_is_redirect(void)
{
	static const int yes[] = { 301, 302, 303, 307, 308 };
	static const int no[] = { 200, 300, 304, 305, 306, 309, 399, 0, -1 };
	int ok = 1;

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		ok &= TAP_CHECK(http_status_is_redirect(yes[i]));
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		ok &= TAP_CHECK(!http_status_is_redirect(no[i]));
	return ok;
}

int main(void)
{
	TAP_RUN(test_req_default_port);
	TAP_RUN(test_req_ports);
	TAP_RUN(test_req_ipv6);
	TAP_RUN(test_req_header_override);
	TAP_RUN(test_req_enospc);
	TAP_RUN(test_req_crlf_refused);
	TAP_RUN(test_content_length);
	TAP_RUN(test_chunked_ext_trailers);
	TAP_RUN(test_read_until_close);
	TAP_RUN(test_interim_responses);
	TAP_RUN(test_no_body_statuses);
	TAP_RUN(test_head_request);
	TAP_RUN(test_keep_alive);
	TAP_RUN(test_headers_captured);
	TAP_RUN(test_long_values);
	TAP_RUN(test_split_header_names);
	TAP_RUN(test_bytewise_equals_whole);
	TAP_RUN(test_every_split_equals_whole);
	TAP_RUN(test_truncated_body);
	TAP_RUN(test_eof_no_bytes);
	TAP_RUN(test_malformed);
	TAP_RUN(test_malformed_details);
	TAP_RUN(test_headers_too_large);
	TAP_RUN(test_body_too_large);
	TAP_RUN(test_body_digest);
	TAP_RUN(test_pipelined);
	TAP_RUN(test_status_is_redirect);
	return tap_done();
}
