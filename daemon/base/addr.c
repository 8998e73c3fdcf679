/* Address text parsers: HOST:PORT splitting, CIDR ranges, proxy URLs. */
#include "base/addr.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <strings.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

/* Decimal digits only (no sign, no space, as strtoul would take), at most
 * max. Returns the value or -1. */
static long parse_decimal(const char *s, size_t len, long max)
{
	long v = 0;

	if (len == 0)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
		if (v > max)
			return -1;
	}
	return v;
}

/* s[0..len) as a string in out[cap]; -EINVAL when empty or too long. */
static int copy_span(char *out, size_t cap, const char *s, size_t len)
{
	if (len == 0 || len >= cap)
		return -EINVAL;
	memcpy(out, s, len);
	out[len] = '\0';
	return 0;
}

int addr_split_hostport(const char *text, char *host, size_t hostlen,
			uint16_t *port, bool port_optional)
{
	const char *colon, *end = text + strlen(text);
	struct in6_addr a6;
	long p;

	if (text[0] == '[') {
		const char *rb = strchr(text, ']');

		if (!rb ||
		    copy_span(host, hostlen, text + 1,
			      (size_t)(rb - text - 1)) < 0 ||
		    inet_pton(AF_INET6, host, &a6) != 1)
			return -EINVAL;
		if (rb[1] == '\0')
			return port_optional ? 0 : -EINVAL;
		if (rb[1] != ':')
			return -EINVAL;
		colon = rb + 1;
	} else {
		/* No colon, or a bare IPv6 address: all of it is host. */
		colon = strchr(text, ':');
		if (!colon || strchr(colon + 1, ':')) {
			if (!port_optional)
				return -EINVAL;
			return copy_span(host, hostlen, text,
					 (size_t)(end - text));
		}
		if (copy_span(host, hostlen, text, (size_t)(colon - text)) < 0)
			return -EINVAL;
	}
	p = parse_decimal(colon + 1, (size_t)(end - colon - 1), 65535);
	if (p < 0)
		return -EINVAL;
	*port = (uint16_t)p;
	return 0;
}

void addr_map_v4(uint8_t out[16], const void *v4)
{
	memset(out, 0, 10);
	out[10] = out[11] = 0xff;
	memcpy(out + 12, v4, 4);
}

int addr_parse_cidr(const char *s, struct addr_cidr *c)
{
	char buf[64];
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : strlen(s);
	long max, bits;
	uint8_t v4[4];

	if (copy_span(buf, sizeof(buf), s, n) < 0)
		return -EINVAL;
	if (inet_pton(AF_INET, buf, v4) == 1) {
		addr_map_v4(c->addr, v4);
		max = 32;
	} else if (inet_pton(AF_INET6, buf, c->addr) == 1) {
		max = 128;
	} else {
		return -EINVAL;
	}
	bits = max;
	if (slash) {
		size_t len = strlen(slash + 1);

		bits = len > 3 ? -1 : parse_decimal(slash + 1, len, max);
		if (bits < 0)
			return -EINVAL;
	}
	c->bits = (uint8_t)(bits + (128 - max));
	for (unsigned i = c->bits; i < 128; i++)
		if (c->addr[i / 8] & (0x80 >> (i % 8)))
			return -ERANGE;
	return 0;
}

/* Percent-decoded copy of s[0..n) into out (cap bytes). */
static int unescape(const char *s, size_t n, char *out, size_t cap)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (c == '%' && i + 2 < n && isxdigit((unsigned char)s[i + 1]) &&
		    isxdigit((unsigned char)s[i + 2])) {
			char hex[3] = { s[i + 1], s[i + 2], 0 };

			c = (char)strtol(hex, NULL, 16);
			i += 2;
		}
		if (o + 1 >= cap)
			return -1;
		out[o++] = c;
	}
	out[o] = '\0';
	return 0;
}

int addr_parse_proxy(const char *url, struct addr_proxy *p, char *why,
		     size_t wl)
{
	static const struct {
		const char *scheme;
		enum addr_proxy_kind kind;
		uint16_t port;
	} schemes[] = {
		{ "http://", ADDR_PROXY_HTTP, 8080 },
		{ "socks5://", ADDR_PROXY_SOCKS5, 1080 },
		{ "socks5h://", ADDR_PROXY_SOCKS5H, 1080 },
	};
	const char *rest = NULL, *at, *end;
	char hostport[ADDR_HOST_MAX + 16];

	memset(p, 0, sizeof(*p));
	if (!url[0])
		return 0;

	for (size_t i = 0; i < 3 && !rest; i++) {
		size_t n = strlen(schemes[i].scheme);

		if (!strncasecmp(url, schemes[i].scheme, n)) {
			rest = url + n;
			p->kind = schemes[i].kind;
			p->port = schemes[i].port;
		}
	}
	if (!rest) {
		snprintf(why, wl, "expected http://, socks5:// or socks5h://"
			 "[USER:PASS@]HOST:PORT");
		return -EINVAL;
	}
	end = rest + strcspn(rest, "/?#");
	if (*end && strcmp(end, "/") != 0) {
		snprintf(why, wl, "a proxy URL has no path");
		return -EINVAL;
	}
	at = memrchr(rest, '@', (size_t)(end - rest));
	if (at) {
		const char *colon = memchr(rest, ':', (size_t)(at - rest));
		const char *uend = colon ? colon : at;

		if (unescape(rest, (size_t)(uend - rest), p->user,
			     sizeof(p->user)) < 0 ||
		    (colon && unescape(colon + 1, (size_t)(at - colon - 1),
				       p->pass, sizeof(p->pass)) < 0)) {
			snprintf(why, wl, "user or password longer than %d "
				 "bytes", ADDR_CRED_MAX);
			return -EINVAL;
		}
		rest = at + 1;
	}
	if ((size_t)(end - rest) >= sizeof(hostport)) {
		snprintf(why, wl, "the proxy's host name is too long");
		return -EINVAL;
	}
	memcpy(hostport, rest, (size_t)(end - rest));
	hostport[end - rest] = '\0';
	if (addr_split_hostport(hostport, p->host, sizeof(p->host), &p->port,
				true) < 0 || p->port == 0) {
		snprintf(why, wl, "expected HOST:PORT after the scheme");
		return -EINVAL;
	}
	return 0;
}

/* Whether n bytes at s hold a '%' not followed by two hex digits, or
 * one that decodes to NUL. */
static bool bad_escape(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] != '%')
			continue;
		if (i + 2 >= n || !isxdigit((unsigned char)s[i + 1]) ||
		    !isxdigit((unsigned char)s[i + 2]) ||
		    (s[i + 1] == '0' && s[i + 2] == '0'))
			return true;
		i += 2;
	}
	return false;
}

/* A database number: decimal, 0..65535 (Redis allows 16 by default). */
static int parse_db(const char *s, size_t n, unsigned *db)
{
	unsigned v = 0;

	if (n == 0 || n > 5)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v > 65535)
		return -EINVAL;
	*db = v;
	return 0;
}

static int redis_unix(const char *rest, struct addr_redis *r, char *why,
		      size_t wl)
{
	const char *q = strchr(rest, '?');
	size_t n = q ? (size_t)(q - rest) : strlen(rest);

	if (n == 0 || rest[0] != '/') {
		snprintf(why, wl, "expected unix:///PATH");
		return -EINVAL;
	}
	if (n >= sizeof(r->path)) {
		snprintf(why, wl, "the socket path is longer than %zu bytes",
			 sizeof(r->path) - 1);
		return -EINVAL;
	}
	memcpy(r->path, rest, n);
	r->path[n] = '\0';
	if (q && (strncmp(q, "?db=", 4) != 0 ||
		  parse_db(q + 4, strlen(q + 4), &r->db) < 0)) {
		snprintf(why, wl, "expected ?db=N after the socket path");
		return -EINVAL;
	}
	return 0;
}

int addr_parse_redis(const char *url, struct addr_redis *r, char *why,
		     size_t wl)
{
	const char *rest, *at, *end;
	char hostport[ADDR_HOST_MAX + 16];

	memset(r, 0, sizeof(*r));
	r->port = 6379;
	if (!strncasecmp(url, "unix://", 7))
		return redis_unix(url + 7, r, why, wl);
	if (strncasecmp(url, "redis://", 8) != 0) {
		snprintf(why, wl, "expected redis://[[USER]:PASS@]HOST[:PORT]"
			 "[/DB] or unix:///PATH");
		return -EINVAL;
	}
	rest = url + 8;
	end = rest + strcspn(rest, "/?#");
	at = memrchr(rest, '@', (size_t)(end - rest));
	if (at) {
		const char *colon = memchr(rest, ':', (size_t)(at - rest));
		const char *uend = colon ? colon : at;

		/* "redis://PASS@HOST" is how many clients write a password
		 * alone; with a colon, what precedes it is the ACL user. */
		if (bad_escape(rest, (size_t)(at - rest))) {
			snprintf(why, wl, "bad %%-escape in the user or "
				 "password (write %%25 for a %%)");
			return -EINVAL;
		}
		if (unescape(rest, (size_t)(uend - rest),
			     colon ? r->user : r->pass,
			     sizeof(r->user)) < 0 ||
		    (colon && unescape(colon + 1, (size_t)(at - colon - 1),
				       r->pass, sizeof(r->pass)) < 0)) {
			snprintf(why, wl, "user or password longer than %d "
				 "bytes", ADDR_CRED_MAX);
			return -EINVAL;
		}
		rest = at + 1;
	}
	if ((size_t)(end - rest) >= sizeof(hostport) || end == rest) {
		snprintf(why, wl, "expected HOST[:PORT] after redis://");
		return -EINVAL;
	}
	memcpy(hostport, rest, (size_t)(end - rest));
	hostport[end - rest] = '\0';
	if (addr_split_hostport(hostport, r->host, sizeof(r->host), &r->port,
				true) < 0 || r->port == 0) {
		snprintf(why, wl, "expected HOST[:PORT] after redis://");
		return -EINVAL;
	}
	if (*end == '/' && end[1] &&
	    parse_db(end + 1, strlen(end + 1), &r->db) < 0) {
		snprintf(why, wl, "expected a database number after the "
			 "host, as in redis://HOST:6379/0");
		return -EINVAL;
	}
	if (*end && *end != '/') {
		snprintf(why, wl, "a redis URL has no query or fragment");
		return -EINVAL;
	}
	return 0;
}
