/* Unit tests for cidr.c: prefix matching across families, the "private"
 * set, allow exceptions. Parsing is addr.c's (test_addr). */
#include <arpa/inet.h>
#include <netinet/in.h>

#include "net/cidr.h"
#include "tap.h"

static struct sockaddr_storage sa(const char *ip)
{
	struct sockaddr_storage ss = { 0 };

	if (strchr(ip, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		inet_pton(AF_INET6, ip, &s6->sin6_addr);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		inet_pton(AF_INET, ip, &s4->sin_addr);
	}
	return ss;
}

static bool blocks(const struct netguard *g, const char *ip)
{
	struct sockaddr_storage ss = sa(ip);

	return netguard_blocks(g, (struct sockaddr *)&ss);
}

static int guard(struct netguard *g, char **deny, size_t nd, char **allow,
		 size_t na)
{
	struct config c;
	char err[256];
	int rc;

	memset(&c, 0, sizeof(c));
	c.network.deny.v = deny;
	c.network.deny.n = nd;
	c.network.allow.v = allow;
	c.network.allow.n = na;
	rc = netguard_init(g, &c, err, sizeof(err));
	if (rc)
		printf("# %s\n", err);
	return rc;
}

static int test_deny_and_allow(void)
{
	char *deny[] = { "10.0.0.0/8", "fd00::/8", "192.168.1.7" };
	char *allow[] = { "10.1.0.0/16" };
	struct netguard g;
	int ok = 1;

	ok &= TAP_CHECK(guard(&g, deny, 3, allow, 1) == 0);
	ok &= TAP_CHECK(blocks(&g, "10.2.3.4"));
	ok &= TAP_CHECK(!blocks(&g, "10.1.3.4"));
	ok &= TAP_CHECK(!blocks(&g, "11.0.0.1"));
	ok &= TAP_CHECK(blocks(&g, "fd12::1"));
	ok &= TAP_CHECK(!blocks(&g, "fe80::1"));
	ok &= TAP_CHECK(blocks(&g, "192.168.1.7"));
	ok &= TAP_CHECK(!blocks(&g, "192.168.1.8"));
	/* an IPv4-mapped address is judged as IPv4 */
	ok &= TAP_CHECK(blocks(&g, "::ffff:10.2.3.4"));
	netguard_fini(&g);
	return ok;
}

static int test_private(void)
{
	char *deny[] = { "private" };
	char *allow[] = { "127.0.0.2" };
	struct netguard g;
	int ok = 1;

	ok &= TAP_CHECK(guard(&g, deny, 1, allow, 1) == 0);
	ok &= TAP_CHECK(blocks(&g, "127.0.0.1"));
	ok &= TAP_CHECK(!blocks(&g, "127.0.0.2"));
	ok &= TAP_CHECK(blocks(&g, "::1"));
	ok &= TAP_CHECK(blocks(&g, "169.254.169.254"));
	ok &= TAP_CHECK(blocks(&g, "172.31.0.1"));
	ok &= TAP_CHECK(!blocks(&g, "172.32.0.1"));
	ok &= TAP_CHECK(blocks(&g, "100.64.0.1"));
	ok &= TAP_CHECK(!blocks(&g, "8.8.8.8"));
	ok &= TAP_CHECK(!blocks(&g, "2606:4700::1"));
	ok &= TAP_CHECK(blocks(&g, "::ffff:127.0.0.1"));
	netguard_fini(&g);
	return ok;
}

/* IPv6 forms that carry an IPv4 address: IPv4-mapped (::ffff:0:0/96) is
 * judged as the IPv4 address it maps; IPv4-compatible (::/96, deprecated
 * by RFC 4291) is special-use as a whole, so ::127.0.0.1 cannot reach
 * loopback past "private". */
static int test_private_v4_in_v6(void)
{
	char *deny[] = { "private" };
	struct netguard g;
	int ok = 1;

	ok &= TAP_CHECK(guard(&g, deny, 1, NULL, 0) == 0);
	ok &= TAP_CHECK(blocks(&g, "::127.0.0.1"));
	ok &= TAP_CHECK(blocks(&g, "::10.0.0.1"));
	ok &= TAP_CHECK(blocks(&g, "::8.8.8.8"));
	ok &= TAP_CHECK(blocks(&g, "::0.0.0.2"));
	ok &= TAP_CHECK(blocks(&g, "::ffff:10.1.2.3"));
	ok &= TAP_CHECK(blocks(&g, "::ffff:169.254.169.254"));
	ok &= TAP_CHECK(blocks(&g, "::ffff:192.168.0.1"));
	ok &= TAP_CHECK(!blocks(&g, "::ffff:8.8.8.8"));
	ok &= TAP_CHECK(!blocks(&g, "::1:0:0:1"));
	netguard_fini(&g);
	return ok;
}

static int test_empty_and_bad(void)
{
	char *bad[] = { "10.0.0.0/8", "nonsense" };
	struct netguard g;
	int ok = 1;

	ok &= TAP_CHECK(guard(&g, NULL, 0, NULL, 0) == 0);
	ok &= TAP_CHECK(!blocks(&g, "127.0.0.1"));
	netguard_fini(&g);
	ok &= TAP_CHECK(guard(&g, bad, 2, NULL, 0) < 0);
	return ok;
}

int main(void)
{
	TAP_RUN(test_deny_and_allow);
	TAP_RUN(test_private);
	TAP_RUN(test_private_v4_in_v6);
	TAP_RUN(test_empty_and_bad);
	return tap_done();
}
