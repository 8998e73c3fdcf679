/* Unit tests for addr.c: HOST:PORT splitting and CIDR parsing, at their
 * edges. */
#include <errno.h>

#include "base/addr.h"
#include "tap.h"

/* Split text; true when it parsed to want_host and want_port. */
static bool split_is(const char *text, bool optional, const char *want_host,
		     unsigned want_port)
{
	char host[64];
	uint16_t port = 53;

	if (addr_split_hostport(text, host, sizeof(host), &port, optional))
		return false;
	return STREQ(host, want_host) && port == want_port;
}

static bool split_fails(const char *text, bool optional)
{
	char host[64];
	uint16_t port = 53;

	return addr_split_hostport(text, host, sizeof(host), &port,
				   optional) == -EINVAL;
}

static int test_hostport_forms(void)
{
	int ok = 1;

	ok &= TAP_CHECK(split_is("127.0.0.1:9464", false, "127.0.0.1", 9464));
	ok &= TAP_CHECK(split_is("localhost:80", false, "localhost", 80));
	ok &= TAP_CHECK(split_is("[::1]:9464", false, "::1", 9464));
	ok &= TAP_CHECK(split_is("[2001:db8::1]:53", true, "2001:db8::1", 53));
	/* port_optional: the caller's default stays */
	ok &= TAP_CHECK(split_is("192.0.2.1", true, "192.0.2.1", 53));
	ok &= TAP_CHECK(split_is("[::1]", true, "::1", 53));
	ok &= TAP_CHECK(split_is("2001:db8::53", true, "2001:db8::53", 53));
	ok &= TAP_CHECK(split_is("192.0.2.1:5353", true, "192.0.2.1", 5353));
	return ok;
}

static int test_hostport_ports(void)
{
	int ok = 1;

	ok &= TAP_CHECK(split_is("h:0", false, "h", 0));	/* any port */
	ok &= TAP_CHECK(split_is("h:65535", false, "h", 65535));
	ok &= TAP_CHECK(split_is("h:00080", false, "h", 80));
	ok &= TAP_CHECK(split_fails("h:65536", false));
	ok &= TAP_CHECK(split_fails("h:99999999999999999999", false));
	ok &= TAP_CHECK(split_fails("h:", false));
	ok &= TAP_CHECK(split_fails("h:+80", false));
	ok &= TAP_CHECK(split_fails("h:-1", false));
	ok &= TAP_CHECK(split_fails("h: 80", false));
	ok &= TAP_CHECK(split_fails("h:80 ", false));
	ok &= TAP_CHECK(split_fails("h:http", false));
	ok &= TAP_CHECK(split_fails("[::1]:", true));
	return ok;
}

static int test_hostport_bad(void)
{
	char small[4];
	uint16_t port;
	int ok = 1;

	/* missing port where one is needed */
	ok &= TAP_CHECK(split_fails("localhost", false));
	ok &= TAP_CHECK(split_fails("[::1]", false));
	ok &= TAP_CHECK(split_fails("::1", false));
	ok &= TAP_CHECK(split_fails("::1:80", false));
	/* empty host */
	ok &= TAP_CHECK(split_fails(":80", false));
	ok &= TAP_CHECK(split_fails("[]:80", false));
	ok &= TAP_CHECK(split_fails("", true));
	/* brackets: IPv6 only, closed, then ":PORT" or the end */
	ok &= TAP_CHECK(split_fails("[::1:80", false));
	ok &= TAP_CHECK(split_fails("[::1]80", false));
	ok &= TAP_CHECK(split_fails("[::1]x", true));
	ok &= TAP_CHECK(split_fails("[127.0.0.1]:80", false));
	ok &= TAP_CHECK(split_fails("[host]:80", false));
	ok &= TAP_CHECK(split_fails("[::1]:80]:81", false));
	/* a host that does not fit */
	ok &= TAP_CHECK(addr_split_hostport("abcd:1", small, sizeof(small),
					    &port, false) == -EINVAL);
	ok &= TAP_CHECK(addr_split_hostport("abc:1", small, sizeof(small),
					    &port, false) == 0 &&
			port == 1);
	return ok;
}

static int test_cidr(void)
{
	struct addr_cidr c;
	int ok = 1;

	ok &= TAP_CHECK(addr_parse_cidr("10.0.0.0/8", &c) == 0 &&
			c.bits == 104 && c.addr[10] == 0xff &&
			c.addr[12] == 10);
	ok &= TAP_CHECK(addr_parse_cidr("fd00::/8", &c) == 0 && c.bits == 8);
	ok &= TAP_CHECK(addr_parse_cidr("1.2.3.4", &c) == 0 && c.bits == 128);
	ok &= TAP_CHECK(addr_parse_cidr("::/0", &c) == 0 && c.bits == 0);
	ok &= TAP_CHECK(addr_parse_cidr("0.0.0.0/0", &c) == 0 && c.bits == 96);
	ok &= TAP_CHECK(addr_parse_cidr("::1/128", &c) == 0 && c.bits == 128);
	ok &= TAP_CHECK(addr_parse_cidr("1.2.3.4/33", &c) == -EINVAL);
	ok &= TAP_CHECK(addr_parse_cidr("1.2.3.4/", &c) == -EINVAL);
	ok &= TAP_CHECK(addr_parse_cidr("/8", &c) == -EINVAL);
	ok &= TAP_CHECK(addr_parse_cidr("", &c) == -EINVAL);
	ok &= TAP_CHECK(addr_parse_cidr("example.com/8", &c) == -EINVAL);
	ok &= TAP_CHECK(addr_parse_cidr("::1/129", &c) == -EINVAL);
	ok &= TAP_CHECK(addr_parse_cidr("10.0.0.0/+8", &c) == -EINVAL);
	ok &= TAP_CHECK(addr_parse_cidr("10.0.0.0/ 8", &c) == -EINVAL);
	ok &= TAP_CHECK(addr_parse_cidr("10.0.0.0/0008", &c) == -EINVAL);
	ok &= TAP_CHECK(addr_parse_cidr("10.0.0.0/8/8", &c) == -EINVAL);
	/* host bits beyond the prefix: a typo for an address or a network */
	ok &= TAP_CHECK(addr_parse_cidr("10.1.2.3/8", &c) == -ERANGE);
	ok &= TAP_CHECK(addr_parse_cidr("fd00::1/8", &c) == -ERANGE);
	ok &= TAP_CHECK(addr_parse_cidr("10.128.0.0/9", &c) == 0);
	ok &= TAP_CHECK(addr_parse_cidr("10.64.0.0/9", &c) == -ERANGE);
	return ok;
}

static int test_redis_urls(void)
{
	struct addr_redis r;
	char why[128];
	int ok = 1;

	ok &= TAP_CHECK(addr_parse_redis("redis://127.0.0.1", &r, why,
					 sizeof(why)) == 0);
	ok &= TAP_CHECK(STREQ(r.host, "127.0.0.1") && r.port == 6379 &&
			r.db == 0 && !r.user[0] && !r.pass[0] && !r.path[0]);
	ok &= TAP_CHECK(addr_parse_redis("redis://:s%40cret@[::1]:7000/3", &r,
					 why, sizeof(why)) == 0);
	ok &= TAP_CHECK(STREQ(r.host, "::1") && r.port == 7000 && r.db == 3 &&
			!r.user[0] && STREQ(r.pass, "s@cret"));
	ok &= TAP_CHECK(addr_parse_redis("redis://alice:pw@localhost/", &r,
					 why, sizeof(why)) == 0);
	ok &= TAP_CHECK(STREQ(r.user, "alice") && STREQ(r.pass, "pw") &&
			r.db == 0);
	/* a password alone, as many clients write it */
	ok &= TAP_CHECK(addr_parse_redis("redis://pw@h:1", &r, why,
					 sizeof(why)) == 0);
	ok &= TAP_CHECK(!r.user[0] && STREQ(r.pass, "pw") && r.port == 1);
	ok &= TAP_CHECK(addr_parse_redis("unix:///run/redis.sock?db=2", &r,
					 why, sizeof(why)) == 0);
	ok &= TAP_CHECK(STREQ(r.path, "/run/redis.sock") && r.db == 2 &&
			!r.host[0]);
	return ok;
}

static int test_redis_url_errors(void)
{
	static const char *const bad[] = {
		"", "http://127.0.0.1", "redis://", "redis://h:0",
		"redis://h:99999", "redis://h/x", "redis://h/1?x=1",
		"unix://", "unix://relative", "unix:///s?db=x", "redis://h:1/70000",
	};
	struct addr_redis r;
	char why[128];
	int ok = 1;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why[0] = '\0';
		ok &= TAP_CHECK(addr_parse_redis(bad[i], &r, why,
						 sizeof(why)) == -EINVAL);
		ok &= TAP_CHECK(why[0] != '\0');
	}
	return ok;
}

int main(void)
{
	TAP_RUN(test_hostport_forms);
	TAP_RUN(test_hostport_ports);
	TAP_RUN(test_hostport_bad);
	TAP_RUN(test_cidr);
	TAP_RUN(test_redis_urls);
	TAP_RUN(test_redis_url_errors);
	return tap_done();
}
