/* Address text: "HOST:PORT" and CIDR ranges, parsed one way for the config
 * checks, the DNS servers, the metrics listener and the network guard.
 * Sees strings only; resolves nothing. */
#ifndef RF_ADDR_H
#define RF_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Split "HOST:PORT" or "[V6]:PORT" into host (brackets removed, copied
 * into host[hostlen]) and *port. With port_optional, "HOST", "[V6]" and a
 * bare IPv6 address (two colons or more) are accepted too, and *port is
 * then left as the caller set it (its default).
 *
 * The port is decimal digits only, 0..65535; 0 is returned as 0 (a
 * listener's "any port"), so callers that need a real port reject it.
 * Brackets hold an IPv6 address and nothing else (RFC 3986 IP-literal).
 * Returns 0, or -EINVAL for an empty host, a missing or bad port, bad
 * brackets, or a host that does not fit host[]. Checks nothing else about
 * an unbracketed host: the caller decides what names it takes. */
int addr_split_hostport(const char *text, char *host, size_t hostlen,
			uint16_t *port, bool port_optional);

/* An address range in one 128-bit form: IPv4 is mapped into ::ffff:0:0/96,
 * so one prefix compare serves both families. */
struct addr_cidr {
	uint8_t addr[16];	/* host bits beyond the prefix are zero */
	uint8_t bits;		/* prefix length over the 128-bit form */
};

/* The IPv4 address v4 (4 bytes, network order) as ::ffff:a.b.c.d. */
void addr_map_v4(uint8_t out[16], const void *v4);

/* Parse "10.0.0.0/8", "fd00::/8" or a plain address (a /32 or /128) into
 * *c. The length is 1 to 3 decimal digits. Returns 0, -EINVAL when s is
 * not that, or -ERANGE when the address has bits set beyond the prefix
 * (10.1.2.3/8 is almost always a typo for an address or a network); *c is
 * then filled but not to be used. */
int addr_parse_cidr(const char *s, struct addr_cidr *c);

#define ADDR_HOST_MAX 255		/* a DNS name's longest text form */
#define ADDR_CRED_MAX 255		/* SOCKS5 caps each at 255 bytes */

enum addr_proxy_kind {
	ADDR_PROXY_NONE = 0,
	ADDR_PROXY_HTTP,	/* http://: CONNECT, or absolute-form */
	ADDR_PROXY_SOCKS5,	/* socks5://: names resolved here */
	ADDR_PROXY_SOCKS5H,	/* socks5h://: names resolved by the proxy */
};

/* A proxy URL's parts. */
struct addr_proxy {
	enum addr_proxy_kind kind;
	char host[ADDR_HOST_MAX + 1];
	uint16_t port;			/* default 8080 (http), 1080 (socks) */
	char user[ADDR_CRED_MAX + 1];	/* percent-decoded; "" when none */
	char pass[ADDR_CRED_MAX + 1];
};

/* Parse "http://[USER[:PASS]@]HOST[:PORT]" (socks5:// and socks5h://
 * alike; a trailing "/" is allowed, no other path) into *p; "" gives
 * ADDR_PROXY_NONE. Returns 0, or -EINVAL with a sentence in why. */
int addr_parse_proxy(const char *url, struct addr_proxy *p, char *why,
		     size_t whylen);

/* A Redis server's address. */
struct addr_redis {
	char host[ADDR_HOST_MAX + 1];	/* "" for a unix socket */
	uint16_t port;			/* default 6379 */
	char path[108];			/* unix socket path, or "" */
	char user[ADDR_CRED_MAX + 1];	/* percent-decoded; "" when none */
	char pass[ADDR_CRED_MAX + 1];	/* "" when none */
	unsigned db;			/* SELECT, 0 by default */
};

/* Parse "redis://[[USER]:PASS@]HOST[:PORT][/DB]" or "unix:///PATH" (a
 * "?db=N" query may pick the database there) into *r. Returns 0, or
 * -EINVAL with a sentence in why. */
int addr_parse_redis(const char *url, struct addr_redis *r, char *why,
		     size_t whylen);

#endif
