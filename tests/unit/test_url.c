/* Unit tests for url.c: parsing, normalisation, RFC 3986 resolution. */
#include "tap.h"
#include "http/url.h"

#include <errno.h>

static char err[128];

/* Parse s; expect rc, and when rc is URL_OK, expect href. */
static int parse_is(const char *s, int rc, const char *href)
{
	struct url u;
	int got;
	int ok;

	err[0] = '\0';
	got = url_parse(&u, s, strlen(s), err, sizeof(err));
	ok = TAP_CHECK(got == rc);
	if (got == URL_OK && href)
		ok = TAP_CHECK(STREQ(u.href, href)) && ok;
	if (got != URL_OK)
		ok = TAP_CHECK(u.href == NULL && u.port == 0 &&
			       u.host[0] == '\0') && ok;
	if (!ok)
		printf("#   input '%s' rc %d href '%s' err '%s'\n", s, got,
		       got == URL_OK ? u.href : "", err);
	url_fini(&u);
	return ok;
}

static int resolve_is(const char *base, const char *ref, int rc,
		      const char *href)
{
	struct url b, u;
	int got, ok;

	if (!TAP_CHECK(url_parse(&b, base, strlen(base), err,
				 sizeof(err)) == URL_OK))
		return 0;
	got = url_resolve(&u, &b, ref, strlen(ref), err, sizeof(err));
	ok = TAP_CHECK(got == rc);
	if (got == URL_OK && href)
		ok = TAP_CHECK(STREQ(u.href, href)) && ok;
	if (!ok)
		printf("#   ref '%s' rc %d href '%s' err '%s'\n", ref, got,
		       got == URL_OK ? u.href : "", err);
	url_fini(&u);
	url_fini(&b);
	return ok;
}

static int test_basic_fields(void)
{
	struct url u;
	const char *s = "http://example.com/a/b?x=1";
	int ok;

	if (!TAP_CHECK(url_parse(&u, s, strlen(s), err, sizeof(err)) == 0))
		return 0;
	ok = TAP_CHECK(STREQ(u.href, s)) &
	     TAP_CHECK(STREQ(u.host, "example.com")) &
	     TAP_CHECK(u.port == 80) & TAP_CHECK(!u.https) &
	     TAP_CHECK(!u.ipv6) & TAP_CHECK(!u.ip_literal) &
	     TAP_CHECK(STREQ(url_path(&u), "/a/b?x=1"));
	url_fini(&u);
	return ok;
}

static int test_ipv6(void)
{
	struct url u;
	const char *s = "http://[::1]:8080/x";
	int ok;

	if (!TAP_CHECK(url_parse(&u, s, strlen(s), err, sizeof(err)) == 0))
		return 0;
	ok = TAP_CHECK(STREQ(u.href, "http://[::1]:8080/x")) &
	     TAP_CHECK(STREQ(u.host, "::1")) & TAP_CHECK(u.port == 8080) &
	     TAP_CHECK(u.ipv6) & TAP_CHECK(u.ip_literal) &
	     TAP_CHECK(STREQ(url_path(&u), "/x"));
	url_fini(&u);
	return ok &
	       parse_is("https://[2001:DB8:0:0::1]/", 0,
			"https://[2001:db8::1]/") &
	       parse_is("http://[::1]", 0, "http://[::1]/") &
	       parse_is("http://[::1]:/", 0, "http://[::1]/") &
	       parse_is("http://[::1/", URL_EINVAL, NULL) &
	       parse_is("http://[::g]/", URL_EINVAL, NULL) &
	       parse_is("http://[::1]x/", URL_EINVAL, NULL) &
	       parse_is("http://[fe80::1%25eth0]/", URL_EINVAL, NULL) &
	       parse_is("http://[]/", URL_EINVAL, NULL) &
	       parse_is("http://::1/", URL_EINVAL, NULL);
}

static int test_ipv4(void)
{
	struct url u;
	const char *s = "http://127.0.0.1:9/";
	int ok;

	if (!TAP_CHECK(url_parse(&u, s, strlen(s), err, sizeof(err)) == 0))
		return 0;
	ok = TAP_CHECK(u.ip_literal) & TAP_CHECK(!u.ipv6) &
	     TAP_CHECK(STREQ(u.host, "127.0.0.1")) & TAP_CHECK(u.port == 9);
	url_fini(&u);
	return ok & parse_is("http://1.2.3/", URL_EINVAL, NULL) &
	       parse_is("http://256.1.1.1/", URL_EINVAL, NULL) &
	       parse_is("http://1.2.3.4.5/", URL_EINVAL, NULL);
}

static int test_uppercase(void)
{
	struct url u;
	const char *s = "HTTPS://WWW.Example.COM/Path";
	int ok;

	if (!TAP_CHECK(url_parse(&u, s, strlen(s), err, sizeof(err)) == 0))
		return 0;
	ok = TAP_CHECK(STREQ(u.href, "https://www.example.com/Path")) &
	     TAP_CHECK(u.https) & TAP_CHECK(u.port == 443);
	url_fini(&u);
	return ok & parse_is("hTtP://X/", 0, "http://x/");
}

static int test_default_port_elided(void)
{
	return parse_is("http://x:80/", 0, "http://x/") &
	       parse_is("https://x:443/", 0, "https://x/") &
	       parse_is("http://x:443/", 0, "http://x:443/") &
	       parse_is("https://x:80/", 0, "https://x:80/") &
	       parse_is("http://x:0080/", 0, "http://x/") &
	       parse_is("http://x:/", 0, "http://x/") &
	       parse_is("http://x:65535/", 0, "http://x:65535/");
}

static int test_invalid_ports(void)
{
	int ok = parse_is("http://x:99999/", URL_EINVAL, NULL);

	ok &= TAP_CHECK(STREQ(err, "invalid port '99999'"));
	return ok & parse_is("http://x:0/", URL_EINVAL, NULL) &
	       parse_is("http://x:65536/", URL_EINVAL, NULL) &
	       parse_is("http://x:-1/", URL_EINVAL, NULL) &
	       parse_is("http://x:8a/", URL_EINVAL, NULL) &
	       parse_is("http://x:0x50/", URL_EINVAL, NULL) &
	       parse_is("http://x:80:80/", URL_EINVAL, NULL) &
	       parse_is("http://x:99999999999999999999999/", URL_EINVAL,
			NULL);
}

static int test_missing_host(void)
{
	int ok = parse_is("http:///path", URL_EINVAL, NULL);

	ok &= TAP_CHECK(STREQ(err, "missing host"));
	return ok & parse_is("http://", URL_EINVAL, NULL) &
	       parse_is("http://:8080/", URL_EINVAL, NULL) &
	       parse_is("http:/x/", URL_EINVAL, NULL) &
	       parse_is("http:x", URL_EINVAL, NULL) &
	       parse_is("//x/y", URL_EINVAL, NULL) &
	       parse_is("", URL_EINVAL, NULL) &
	       parse_is("   ", URL_EINVAL, NULL) &
	       parse_is("example.com", URL_EINVAL, NULL);
}

static int test_unsupported_scheme(void)
{
	int ok = parse_is("ftp://x/", URL_ESCHEME, NULL);

	ok &= TAP_CHECK(STREQ(err, "unsupported scheme 'ftp'"));
	return ok & parse_is("mailto:a@b", URL_ESCHEME, NULL) &
	       parse_is("FILE:///etc/passwd", URL_ESCHEME, NULL) &
	       parse_is("httpx://x/", URL_ESCHEME, NULL) &
	       parse_is("javascript:alert(1)", URL_ESCHEME, NULL);
}

static int test_userinfo_rejected(void)
{
	return parse_is("http://user:pass@x/", URL_EINVAL, NULL) &
	       parse_is("http://user@x/", URL_EINVAL, NULL) &
	       parse_is("http://@x/", URL_EINVAL, NULL) &
	       parse_is("http://x/@y", 0, "http://x/@y");
}

static int test_whitespace(void)
{
	return parse_is("  http://x/a \r\n", 0, "http://x/a") &
	       parse_is("\t\fhttp://x/\v", 0, "http://x/") &
	       parse_is("http://x/a\tb", URL_EINVAL, NULL) &
	       parse_is("http://x/a\nb", URL_EINVAL, NULL) &
	       parse_is("http://x\r/", URL_EINVAL, NULL);
}

static int test_encoding(void)
{
	return parse_is("http://x/a b", 0, "http://x/a%20b") &
	       parse_is("http://x/a%20b", 0, "http://x/a%20b") &
	       parse_is("http://x/%zz", 0, "http://x/%25zz") &
	       parse_is("http://x/%4", 0, "http://x/%254") &
	       parse_is("http://x/%", 0, "http://x/%25") &
	       parse_is("http://x/%7e%7E", 0, "http://x/%7e%7E") &
	       parse_is("http://x/\"<>\\^`{|}", 0,
			"http://x/%22%3C%3E%5C%5E%60%7B%7C%7D") &
	       parse_is("http://x/\xc3\xa9?q=\x01 \x7f", 0,
			"http://x/%C3%A9?q=%01%20%7F") &
	       parse_is("http://x/a:b@c!$&'()*+,;=-._~", 0,
			"http://x/a:b@c!$&'()*+,;=-._~") &
	       parse_is("http://x/?a=b?c/d", 0, "http://x/?a=b?c/d");
}

/* A NUL byte anywhere is refused: it would cut the URL short in every C
 * string downstream (records, logs, the request line). */
static int test_embedded_nul(void)
{
	struct url u, b;
	int ok;

	ok = TAP_CHECK(url_parse(&u, "http://x/a\0b", 12, err,
				 sizeof(err)) == URL_EINVAL);
	ok &= TAP_CHECK(u.href == NULL);
	ok &= TAP_CHECK(strstr(err, "NUL") != NULL);
	ok &= TAP_CHECK(url_parse(&u, "http://x\0y/", 11, err,
				  sizeof(err)) == URL_EINVAL);
	if (!TAP_CHECK(url_parse(&b, "http://x/d/", 11, err, sizeof(err)) == 0))
		return 0;
	ok &= TAP_CHECK(url_resolve(&u, &b, "a\0b", 3, err, sizeof(err)) ==
			URL_EINVAL);
	url_fini(&u);
	url_fini(&b);
	return ok;
}

static int test_fragment_and_path(void)
{
	return parse_is("http://x/a#frag", 0, "http://x/a") &
	       parse_is("http://x/a?q#frag", 0, "http://x/a?q") &
	       parse_is("http://x#f", 0, "http://x/") &
	       parse_is("http://x", 0, "http://x/") &
	       parse_is("http://x?q", 0, "http://x/?q") &
	       parse_is("http://x/?", 0, "http://x/?") &
	       parse_is("http://x/a/./b/../c", 0, "http://x/a/c") &
	       parse_is("http://x/../../a", 0, "http://x/a") &
	       parse_is("http://x/a/..", 0, "http://x/") &
	       parse_is("http://x/a/.", 0, "http://x/a/") &
	       parse_is("http://x/a?b/../c", 0, "http://x/a?b/../c");
}

static int test_host_rules(void)
{
	char big[400];
	int ok;

	memcpy(big, "http://", 7);
	memset(big + 7, 'a', 300);
	strcpy(big + 307, "/");
	ok = parse_is(big, URL_EINVAL, NULL);
	/* 255 bytes in labels of 63 is the longest allowed name */
	memset(big + 7, 'a', 255);
	big[7 + 63] = big[7 + 127] = big[7 + 191] = '.';
	strcpy(big + 7 + 255, "/");
	ok &= parse_is(big, 0, big);
	return ok & parse_is("http://example.com./", 0,
			     "http://example.com./") &
	       parse_is("http://a_b-c.d/", 0, "http://a_b-c.d/") &
	       parse_is("http://%41b.c/", 0, "http://ab.c/") &
	       parse_is("http://a%2fb/", URL_EINVAL, NULL) &
	       parse_is("http://a%zzb/", URL_EINVAL, NULL) &
	       parse_is("http://a..b/", URL_EINVAL, NULL) &
	       parse_is("http://./", URL_EINVAL, NULL) &
	       parse_is("http://.a/", URL_EINVAL, NULL) &
	       parse_is("http://a b/", URL_EINVAL, NULL) &
	       parse_is("http://a\xc3\xa9/", URL_EINVAL, NULL) &
	       parse_is("http://a\\b/", URL_EINVAL, NULL);
}

static int test_too_long(void)
{
	size_t n = URL_MAX + 10;
	char *s = malloc(n + 1);
	int ok;

	if (!s)
		return 0;
	memcpy(s, "http://x/", 9);
	memset(s + 9, 'a', n - 9);
	s[n] = '\0';
	ok = parse_is(s, URL_EINVAL, NULL);
	/* short enough to parse, too long once encoded */
	memset(s + 9, ' ', URL_MAX / 2);
	s[9 + URL_MAX / 2] = 'z';
	s[10 + URL_MAX / 2] = '\0';
	ok &= parse_is(s, URL_EINVAL, NULL);
	free(s);
	return ok;
}

static int test_every_prefix(void)
{
	const char *s = "  HTTPS://[2001:db8::7]:8443/a/./b/../c d/%7e%zz?"
			"q=\"1\"&r=%41#frag  ";
	size_t i, n = strlen(s);
	struct url u;
	int ok = 1;

	for (i = 0; i <= n; i++) {
		/* a copy of exactly i bytes, so ASan sees any over-read */
		char *p = malloc(i ? i : 1);
		int rc;

		if (!p)
			return 0;
		memcpy(p, s, i);
		rc = url_parse(&u, p, i, err, sizeof(err));
		ok &= TAP_CHECK(rc == URL_OK || rc == URL_EINVAL);
		if (rc == URL_OK)
			ok &= TAP_CHECK(url_path(&u)[0] == '/');
		url_fini(&u);
		free(p);
	}
	ok &= parse_is(s, 0, "https://[2001:db8::7]:8443/a/c%20d/%7e%25zz"
		       "?q=%221%22&r=%41");
	return ok;
}

static int test_idempotent(void)
{
	const char *in[] = {
		"http://x/a b/%zz/../c?d e#f", "https://[::1]:1/%/?%",
		"http://X.y:8080", "http://x/\xff\x01",
	};
	size_t i;
	int ok = 1;

	for (i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		struct url a, b;

		if (!TAP_CHECK(url_parse(&a, in[i], strlen(in[i]), err,
					 sizeof(err)) == 0))
			return 0;
		ok &= parse_is(a.href, 0, a.href);
		ok &= TAP_CHECK(url_resolve(&b, &a, "", 0, err,
					    sizeof(err)) == 0) &&
		      TAP_CHECK(STREQ(a.href, b.href));
		url_fini(&a);
		url_fini(&b);
	}
	return ok;
}

#define RFC_BASE "http://a/b/c/d;p?q"

static const char *const rfc_normal[][2] = {
	{ "g", "http://a/b/c/g" },	{ "./g", "http://a/b/c/g" },
	{ "g/", "http://a/b/c/g/" },	{ "/g", "http://a/g" },
	{ "//g", "http://g/" },		{ "?y", "http://a/b/c/d;p?y" },
	{ "g?y", "http://a/b/c/g?y" },	{ "#s", "http://a/b/c/d;p?q" },
	{ "g#s", "http://a/b/c/g" },	{ "g?y#s", "http://a/b/c/g?y" },
	{ ";x", "http://a/b/c/;x" },	{ "g;x", "http://a/b/c/g;x" },
	{ "g;x?y#s", "http://a/b/c/g;x?y" },
	{ "", "http://a/b/c/d;p?q" },	{ ".", "http://a/b/c/" },
	{ "./", "http://a/b/c/" },	{ "..", "http://a/b/" },
	{ "../", "http://a/b/" },	{ "../g", "http://a/b/g" },
	{ "../..", "http://a/" },	{ "../../", "http://a/" },
	{ "../../g", "http://a/g" },
};

static const char *const rfc_abnormal[][2] = {
	{ "../../../g", "http://a/g" },	{ "../../../../g", "http://a/g" },
	{ "/./g", "http://a/g" },	{ "/../g", "http://a/g" },
	{ "g.", "http://a/b/c/g." },	{ ".g", "http://a/b/c/.g" },
	{ "g..", "http://a/b/c/g.." },	{ "..g", "http://a/b/c/..g" },
	{ "./../g", "http://a/b/g" },	{ "./g/.", "http://a/b/c/g/" },
	{ "g/./h", "http://a/b/c/g/h" },	{ "g/../h", "http://a/b/c/h" },
	{ "g;x=1/./y", "http://a/b/c/g;x=1/y" },
	{ "g;x=1/../y", "http://a/b/c/y" },
	{ "g?y/./x", "http://a/b/c/g?y/./x" },
	{ "g?y/../x", "http://a/b/c/g?y/../x" },
	{ "g#s/./x", "http://a/b/c/g" },
	{ "g#s/../x", "http://a/b/c/g" },
	/* the "backward compatible" reading, 5.4.2 */
	{ "http:g", "http://a/b/c/g" },
};

static int test_rfc3986_normal(void)
{
	size_t i;
	int ok = resolve_is(RFC_BASE, "g:h", URL_ESCHEME, NULL);

	for (i = 0; i < sizeof(rfc_normal) / sizeof(rfc_normal[0]); i++)
		ok &= resolve_is(RFC_BASE, rfc_normal[i][0], URL_OK,
				 rfc_normal[i][1]);
	return ok;
}

static int test_rfc3986_abnormal(void)
{
	size_t i;
	int ok = 1;

	for (i = 0; i < sizeof(rfc_abnormal) / sizeof(rfc_abnormal[0]); i++)
		ok &= resolve_is(RFC_BASE, rfc_abnormal[i][0], URL_OK,
				 rfc_abnormal[i][1]);
	return ok;
}

static int test_resolve_location(void)
{
	const char *b = "http://example.com:8080/dir/page?x";

	return resolve_is(b, "https://other:8443/x", 0,
			  "https://other:8443/x") &
	       resolve_is(b, "  HTTPS://Other/  ", 0, "https://other/") &
	       resolve_is(b, "//cdn.example.com/a", 0,
			  "http://cdn.example.com/a") &
	       resolve_is(b, "/new path", 0,
			  "http://example.com:8080/new%20path") &
	       resolve_is(b, "next", 0, "http://example.com:8080/dir/next") &
	       resolve_is(b, "?y", 0, "http://example.com:8080/dir/page?y") &
	       resolve_is(b, "#f", 0, "http://example.com:8080/dir/page?x") &
	       resolve_is("http://x", "a", 0, "http://x/a") &
	       resolve_is("http://[::1]:81/a/b", "../c", 0,
			  "http://[::1]:81/c") &
	       resolve_is("https://x/a", "https:b", 0, "https://x/b") &
	       resolve_is("https://x/a", "http:b", URL_EINVAL, NULL) &
	       resolve_is(b, "ftp://x/", URL_ESCHEME, NULL) &
	       resolve_is(b, "//u@x/", URL_EINVAL, NULL) &
	       resolve_is(b, "//:1/", URL_EINVAL, NULL) &
	       resolve_is(b, "a\nb", URL_EINVAL, NULL);
}

static int test_resolve_no_base(void)
{
	struct url b, u;
	int ok;

	memset(&b, 0, sizeof(b));
	ok = TAP_CHECK(url_resolve(&u, &b, "/x", 2, err, sizeof(err)) ==
		       URL_EINVAL);
	return ok & TAP_CHECK(u.href == NULL);
}

static int test_copy(void)
{
	struct url a, b, z;
	const char *s = "https://[::1]:9/p?q";
	int ok;

	if (!TAP_CHECK(url_parse(&a, s, strlen(s), err, sizeof(err)) == 0))
		return 0;
	ok = TAP_CHECK(url_copy(&b, &a) == 0);
	if (ok)
		ok = TAP_CHECK(b.href != a.href) &
		     TAP_CHECK(STREQ(b.href, a.href)) &
		     TAP_CHECK(STREQ(b.host, "::1")) & TAP_CHECK(b.port == 9) &
		     TAP_CHECK(b.https && b.ipv6 && b.ip_literal) &
		     TAP_CHECK(STREQ(url_path(&b), "/p?q"));
	url_fini(&a);
	url_fini(&b);
	memset(&z, 0, sizeof(z));
	ok &= TAP_CHECK(url_copy(&b, &z) == 0);
	ok &= TAP_CHECK(b.href == NULL);
	url_fini(&b);
	url_fini(&b);		/* twice: harmless on a zeroed url */
	return ok;
}

static int test_err_optional(void)
{
	struct url u;

	return TAP_CHECK(url_parse(&u, "ftp://x", 7, NULL, 0) ==
			 URL_ESCHEME) &
	       TAP_CHECK(url_parse(&u, "http://", 7, NULL, 0) == URL_EINVAL);
}

static int test_err_quoted(void)
{
	int ok = parse_is("x\"y\x01://h/", URL_EINVAL, NULL);

	ok &= parse_is("ab\"c://h/", URL_EINVAL, NULL);
	ok &= parse_is("abcdefghijklmnopqrstuvwxyzabcdefghij://h/",
		       URL_ESCHEME, NULL);
	ok &= TAP_CHECK(strlen(err) < 60 && strstr(err, "...") != NULL);
	ok &= parse_is("http://x:1\"2/", URL_EINVAL, NULL);
	ok &= TAP_CHECK(STREQ(err, "invalid port '1?2'"));
	return ok;
}

int main(void)
{
	TAP_RUN(test_basic_fields);
	TAP_RUN(test_ipv6);
	TAP_RUN(test_ipv4);
	TAP_RUN(test_uppercase);
	TAP_RUN(test_default_port_elided);
	TAP_RUN(test_invalid_ports);
	TAP_RUN(test_missing_host);
	TAP_RUN(test_unsupported_scheme);
	TAP_RUN(test_userinfo_rejected);
	TAP_RUN(test_whitespace);
	TAP_RUN(test_encoding);
	TAP_RUN(test_embedded_nul);
	TAP_RUN(test_fragment_and_path);
	TAP_RUN(test_host_rules);
	TAP_RUN(test_too_long);
	TAP_RUN(test_every_prefix);
	TAP_RUN(test_idempotent);
	TAP_RUN(test_rfc3986_normal);
	TAP_RUN(test_rfc3986_abnormal);
	TAP_RUN(test_resolve_location);
	TAP_RUN(test_resolve_no_base);
	TAP_RUN(test_copy);
	TAP_RUN(test_err_optional);
	TAP_RUN(test_err_quoted);
	return tap_done();
}
