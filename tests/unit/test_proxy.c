/* Unit tests for proxy.c and addr_parse_proxy(): proxy URLs, no_proxy,
 * the CONNECT request and answers, SOCKS5 messages and replies fed whole
 * and a byte at a time. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>

#include "http/proxy.h"
#include "tap.h"

static struct url U;

static int parse_url_for(const char *s)
{
	char err[128];

	url_fini(&U);
	return url_parse(&U, s, strlen(s), err, sizeof(err));
}

static int test_proxy_urls(void)
{
	struct addr_proxy a;
	char why[160];
	int ok = 1;

	ok &= TAP_CHECK(addr_parse_proxy("http://127.0.0.1:3128", &a, why,
					 sizeof(why)) == 0);
	ok &= TAP_CHECK(a.kind == ADDR_PROXY_HTTP && a.port == 3128 &&
			STREQ(a.host, "127.0.0.1") && !a.user[0]);
	ok &= TAP_CHECK(addr_parse_proxy("socks5h://u%40x:p%3Aw@[::1]:1080/",
					 &a, why, sizeof(why)) == 0);
	ok &= TAP_CHECK(a.kind == ADDR_PROXY_SOCKS5H && STREQ(a.host, "::1") &&
			STREQ(a.user, "u@x") && STREQ(a.pass, "p:w"));
	ok &= TAP_CHECK(addr_parse_proxy("socks5://proxy.example", &a, why,
					 sizeof(why)) == 0 && a.port == 1080);
	ok &= TAP_CHECK(addr_parse_proxy("", &a, why, sizeof(why)) == 0 &&
			a.kind == ADDR_PROXY_NONE);
	ok &= TAP_CHECK(addr_parse_proxy("ftp://x:1", &a, why,
					 sizeof(why)) < 0);
	ok &= TAP_CHECK(addr_parse_proxy("http://x:1/path", &a, why,
					 sizeof(why)) < 0);
	ok &= TAP_CHECK(addr_parse_proxy("http://:8080", &a, why,
					 sizeof(why)) < 0);
	ok &= TAP_CHECK(addr_parse_proxy("http://x:0", &a, why,
					 sizeof(why)) < 0);
	return ok;
}

static int test_no_proxy(void)
{
	char *np[] = { "LOCALHOST", ".example.org", "10.0.0.0/8", "::1" };
	struct proxy p;
	char why[160];
	int ok = 1;

	ok &= TAP_CHECK(proxy_parse(&p, "http://127.0.0.1:3128", np, 4, why,
				    sizeof(why)) == 0);
	parse_url_for("http://localhost/");
	ok &= TAP_CHECK(!proxy_applies(&p, &U));
	parse_url_for("http://example.org/");
	ok &= TAP_CHECK(!proxy_applies(&p, &U));
	parse_url_for("http://www.example.org/");
	ok &= TAP_CHECK(!proxy_applies(&p, &U));
	parse_url_for("http://badexample.org/");
	ok &= TAP_CHECK(proxy_applies(&p, &U));
	parse_url_for("http://10.2.3.4/");
	ok &= TAP_CHECK(!proxy_applies(&p, &U));
	parse_url_for("http://11.2.3.4/");
	ok &= TAP_CHECK(proxy_applies(&p, &U));
	parse_url_for("http://[::1]:81/");
	ok &= TAP_CHECK(!proxy_applies(&p, &U));
	proxy_fini(&p);
	ok &= TAP_CHECK(proxy_parse(&p, "", NULL, 0, why, sizeof(why)) == 0);
	ok &= TAP_CHECK(!proxy_applies(&p, &U));
	proxy_fini(&p);
	return ok;
}

static int test_connect_request_and_answers(void)
{
	struct proxy p;
	char buf[512], why[160];
	size_t used = 0;
	int ok = 1, n;
	static const char good[] =
		"HTTP/1.1 200 Connection established\r\nX: y\r\n\r\n";

	proxy_parse(&p, "http://ann:s3cret@127.0.0.1:3128", NULL, 0, why,
		    sizeof(why));
	parse_url_for("https://[2001:db8::1]:8443/x");
	n = proxy_connect_request(&p, &U, buf, sizeof(buf));
	ok &= TAP_CHECK(n > 0 && STREQ(buf,
		"CONNECT [2001:db8::1]:8443 HTTP/1.1\r\n"
		"Host: [2001:db8::1]:8443\r\n"
		"Proxy-Authorization: Basic YW5uOnMzY3JldA==\r\n\r\n"));
	ok &= TAP_CHECK(proxy_connect_request(&p, &U, buf, 10) == -ENOSPC);
	for (size_t i = 1; i < sizeof(good) - 1; i++)
		ok &= TAP_CHECK(proxy_connect_reply(good, i, &used, why,
						    sizeof(why)) == 1);
	ok &= TAP_CHECK(proxy_connect_reply(good, sizeof(good) - 1, &used, why,
					    sizeof(why)) == 0 &&
			used == sizeof(good) - 1);
	ok &= TAP_CHECK(proxy_connect_reply("HTTP/1.1 407 Auth\r\n\r\n", 21,
					    &used, why, sizeof(why)) == -1 &&
			strstr(why, "credentials"));
	ok &= TAP_CHECK(proxy_connect_reply("HTTP/1.0 403 No\r\n\r\n", 19,
					    &used, why, sizeof(why)) == -1 &&
			strstr(why, "403"));
	ok &= TAP_CHECK(proxy_connect_reply("SSH-2.0-x\r\n", 11, &used, why,
					    sizeof(why)) == -1);
	proxy_fini(&p);
	return ok;
}

static int test_socks5_messages(void)
{
	struct proxy p;
	unsigned char b[600];
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_addr.s_addr = htonl(0x7f000001) };
	char why[160];
	size_t n;
	int ok = 1;

	proxy_parse(&p, "socks5h://bob:pw@127.0.0.1:1080", NULL, 0, why,
		    sizeof(why));
	n = socks_greeting(&p, b);
	ok &= TAP_CHECK(n == 4 && b[0] == 5 && b[1] == 2 && b[3] == 2);
	n = socks_auth(&p, b);
	ok &= TAP_CHECK(n == 8 && b[0] == 1 && b[1] == 3 &&
			!memcmp(b + 2, "bob", 3) && b[5] == 2);
	parse_url_for("http://example.org:8080/");
	n = socks_request(&p, &U, NULL, b);
	ok &= TAP_CHECK(n == 4 + 1 + 11 + 2 && b[3] == 3 && b[4] == 11 &&
			b[n - 2] == 0x1f && b[n - 1] == 0x90);
	parse_url_for("http://127.0.0.1:80/");
	n = socks_request(&p, &U, &sin, b);
	ok &= TAP_CHECK(n == 10 && b[3] == 1 && b[4] == 127 && b[9] == 80);
	proxy_fini(&p);
	return ok;
}

static int test_socks5_replies(void)
{
	static const unsigned char ok4[] = { 5, 0, 0, 1, 1, 2, 3, 4, 0, 80 };
	static const unsigned char name[] = { 5, 0, 0, 3, 3, 'a', 'b', 'c',
					      0, 80 };
	struct proxy p, anon;
	enum socks_step next;
	char why[160];
	size_t used;
	int ok = 1;

	proxy_parse(&p, "socks5://bob:pw@127.0.0.1:1080", NULL, 0, why,
		    sizeof(why));
	proxy_parse(&anon, "socks5://127.0.0.1:1080", NULL, 0, why,
		    sizeof(why));
	ok &= TAP_CHECK(socks_reply(&p, SOCKS_GREETING, (const unsigned char *)
				    "\x05", 1, &used, &next, why,
				    sizeof(why)) == 1);
	ok &= TAP_CHECK(socks_reply(&p, SOCKS_GREETING, (const unsigned char *)
				    "\x05\x02", 2, &used, &next, why,
				    sizeof(why)) == 0 && next == SOCKS_AUTH);
	ok &= TAP_CHECK(socks_reply(&anon, SOCKS_GREETING,
				    (const unsigned char *)"\x05\x02", 2, &used,
				    &next, why, sizeof(why)) == -1 &&
			strstr(why, "credentials"));
	ok &= TAP_CHECK(socks_reply(&p, SOCKS_AUTH, (const unsigned char *)
				    "\x01\x01", 2, &used, &next, why,
				    sizeof(why)) == -1);
	for (size_t i = 1; i < sizeof(ok4); i++)
		ok &= TAP_CHECK(socks_reply(&p, SOCKS_REQUEST, ok4, i, &used,
					    &next, why, sizeof(why)) == 1);
	ok &= TAP_CHECK(socks_reply(&p, SOCKS_REQUEST, ok4, sizeof(ok4), &used,
				    &next, why, sizeof(why)) == 0 &&
			used == sizeof(ok4) && next == SOCKS_DONE);
	ok &= TAP_CHECK(socks_reply(&p, SOCKS_REQUEST, name, sizeof(name),
				    &used, &next, why, sizeof(why)) == 0 &&
			used == sizeof(name));
	ok &= TAP_CHECK(socks_reply(&p, SOCKS_REQUEST, (const unsigned char *)
				    "\x05\x05\x00\x01\x00", 5, &used, &next,
				    why, sizeof(why)) == -1 &&
			strstr(why, "connection refused"));
	ok &= TAP_CHECK(socks_reply(&p, SOCKS_GREETING, (const unsigned char *)
				    "\x04\x00", 2, &used, &next, why,
				    sizeof(why)) == -1);
	proxy_fini(&p);
	proxy_fini(&anon);
	return ok;
}

int main(void)
{
	TAP_RUN(test_proxy_urls);
	TAP_RUN(test_no_proxy);
	TAP_RUN(test_connect_request_and_answers);
	TAP_RUN(test_socks5_messages);
	TAP_RUN(test_socks5_replies);
	url_fini(&U);
	return tap_done();
}
