/* Address ranges in one 128-bit form (IPv4 mapped into ::ffff:0:0/96), so a
 * single prefix compare serves both families and mapped addresses cannot
 * slip past an IPv4 rule. */
#include "net/cidr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Special-use ranges (RFC 6890 registries): loopback, private, link-local,
 * CGNAT, documentation, benchmarking, multicast, reserved, ULA... ::/96
 * holds the unspecified address, ::1 and the IPv4-compatible addresses
 * (::a.b.c.d, deprecated by RFC 4291 2.5.5.1), which must not reach
 * 127.0.0.1 and the like past this list. IPv4-mapped addresses
 * (::ffff:0:0/96) need no entry: the IPv4 ranges above are stored mapped,
 * so ::ffff:a.b.c.d is judged as a.b.c.d. */
static const char *const private_ranges[] = {
	"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8",
	"169.254.0.0/16", "172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24",
	"192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15",
	"198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
	"::/96", "64:ff9b::/96", "64:ff9b:1::/48", "100::/64",
	"2001::/23", "2001:db8::/32", "2002::/16", "fc00::/7", "fe80::/10",
	"fec0::/10", "ff00::/8",
};

static bool cidr_match(const struct addr_cidr *c, const uint8_t a[16])
{
	unsigned full = c->bits / 8, rest = c->bits % 8;

	if (memcmp(c->addr, a, full) != 0)
		return false;
	if (!rest)
		return true;
	return ((c->addr[full] ^ a[full]) & (0xff00 >> rest)) == 0;
}

static bool list_match(const struct cidr_list *l, const uint8_t a[16])
{
	for (size_t i = 0; i < l->n; i++)
		if (cidr_match(&l->v[i], a))
			return true;
	return false;
}

static int list_add(struct cidr_list *l, const char *s)
{
	struct addr_cidr *v = realloc(l->v, (l->n + 1) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	l->v = v;
	if (addr_parse_cidr(s, &l->v[l->n]) < 0)
		return -EINVAL;
	l->n++;
	return 0;
}

static int list_build(struct cidr_list *l, const struct config_strv *src,
		      const char *key, char *err, size_t errlen)
{
	for (size_t i = 0; i < src->n; i++) {
		const char *s = src->v[i];
		int rc = 0;

		if (strcmp(s, "private") == 0) {
			for (size_t k = 0; k < sizeof(private_ranges) /
			     sizeof(*private_ranges) && !rc; k++)
				rc = list_add(l, private_ranges[k]);
		} else {
			rc = list_add(l, s);
		}
		if (rc < 0) {
			snprintf(err, errlen, "%s: '%s' is not a CIDR, an "
				 "address or 'private'", key, s);
			return rc;
		}
	}
	return 0;
}

int netguard_init(struct netguard *g, const struct config *cfg, char *err,
		  size_t errlen)
{
	int rc;

	memset(g, 0, sizeof(*g));
	rc = list_build(&g->deny, &cfg->network.deny, "network.deny", err,
			errlen);
	if (!rc)
		rc = list_build(&g->allow, &cfg->network.allow,
				"network.allow", err, errlen);
	if (rc)
		netguard_fini(g);
	return rc;
}

void netguard_fini(struct netguard *g)
{
	free(g->deny.v);
	free(g->allow.v);
	memset(g, 0, sizeof(*g));
}

bool netguard_blocks(const struct netguard *g, const struct sockaddr *sa)
{
	uint8_t a[16];

	if (!g->deny.n)
		return false;
	if (sa->sa_family == AF_INET)
		addr_map_v4(a, &((const struct sockaddr_in *)sa)->sin_addr);
	else if (sa->sa_family == AF_INET6)
		memcpy(a, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
	else
		return true;
	return list_match(&g->deny, a) && !list_match(&g->allow, a);
}
