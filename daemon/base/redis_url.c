/* Redis URLs to socket addresses: percent-decoded credentials, IP
 * literals, localhost, and a blocking getaddrinfo() for other names (at
 * startup only: see redis_new()). */
#include "base/redis_url.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#define REDIS_DEFAULT_PORT 6379

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)(c | 0x20);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* A percent-decoded copy of n bytes at s, or NULL (bad escape, NUL, or
 * out of memory). */
static char *decode_dup(const char *s, size_t n)
{
	char *d = malloc(n + 1), *o = d;

	if (!d)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		int hi, lo;

		if (s[i] != '%') {
			*o++ = s[i];
			continue;
		}
		if (i + 2 >= n || (hi = hexval(s[i + 1])) < 0 ||
		    (lo = hexval(s[i + 2])) < 0 || (hi | lo) == 0) {
			free(d);
			return NULL;
		}
		*o++ = (char)(hi << 4 | lo);
		i += 2;
	}
	*o = '\0';
	return d;
}

/* "user:pass" (either may be empty) or "pass". */
static int parse_userinfo(struct redis_target *r, const char *s, size_t n)
{
	const char *colon = memchr(s, ':', n);

	if (colon && colon > s) {
		r->user = decode_dup(s, (size_t)(colon - s));
		if (!r->user)
			return -EINVAL;
	}
	if (colon) {
		n -= (size_t)(colon + 1 - s);
		s = colon + 1;
	}
	r->pass = decode_dup(s, n);
	return r->pass ? 0 : -EINVAL;
}

static int parse_port(const char *s, size_t n, uint16_t *port)
{
	unsigned v = 0;

	if (n == 0 || n > 5)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v == 0 || v > 65535)
		return -EINVAL;
	*port = (uint16_t)v;
	return 0;
}

/* HOST into r->addr: a literal, localhost, or a name looked up now. */
static int resolve(struct redis_target *r, const char *host, bool bracketed,
		   uint16_t port, char *err, size_t errlen)
{
	struct sockaddr_in *v4 = (struct sockaddr_in *)&r->addr;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&r->addr;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai;
	int rc;

	if (bracketed || strchr(host, ':')) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons(port);
		r->addrlen = sizeof(*v6);
		if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1)
			return 0;
		snprintf(err, errlen, "'%s' is not an IPv6 address", host);
		return -EINVAL;
	}
	v4->sin_family = AF_INET;
	v4->sin_port = htons(port);
	r->addrlen = sizeof(*v4);
	if (!strcmp(host, "localhost")) {
		v4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		return 0;
	}
	if (inet_pton(AF_INET, host, &v4->sin_addr) == 1)
		return 0;
	rc = getaddrinfo(host, NULL, &hints, &ai);
	if (rc) {
		snprintf(err, errlen, "cannot resolve the Redis host '%s': %s",
			 host, gai_strerror(rc));
		return -ENOENT;
	}
	memcpy(&r->addr, ai->ai_addr, ai->ai_addrlen);
	r->addrlen = (socklen_t)ai->ai_addrlen;
	((struct sockaddr_in *)&r->addr)->sin_port = htons(port);
	if (ai->ai_family == AF_INET6)
		v6->sin6_port = htons(port);
	freeaddrinfo(ai);
	return 0;
}

static int parse_unix(struct redis_target *r, const char *path, char *err,
		      size_t errlen)
{
	struct sockaddr_un *un = (struct sockaddr_un *)&r->addr;

	if (path[0] != '/' || strlen(path) >= sizeof(un->sun_path)) {
		snprintf(err, errlen, "unix:// needs an absolute socket path "
			 "of under %zu bytes", sizeof(un->sun_path));
		return -EINVAL;
	}
	un->sun_family = AF_UNIX;
	strcpy(un->sun_path, path);
	r->addrlen = sizeof(*un);
	snprintf(r->where, sizeof(r->where), "%s", path);
	return 0;
}

/* HOST[:PORT][/DB] after the userinfo. */
static int parse_hostpart(struct redis_target *r, const char *s, char *err,
			  size_t errlen)
{
	const char *slash = strchr(s, '/'), *end, *colon;
	char host[256];
	uint16_t port = REDIS_DEFAULT_PORT;
	bool bracketed = s[0] == '[';
	size_t hn;

	end = slash ? slash : s + strlen(s);
	if (bracketed) {
		const char *rb = memchr(s, ']', (size_t)(end - s));

		if (!rb)
			goto bad;
		hn = (size_t)(rb - s - 1);
		memcpy(host, s + 1, hn < sizeof(host) ? hn : 0);
		colon = rb + 1 < end ? rb + 1 : NULL;
		if (colon && *colon != ':')
			goto bad;
	} else {
		colon = memchr(s, ':', (size_t)(end - s));
		hn = (size_t)((colon ? colon : end) - s);
		memcpy(host, s, hn < sizeof(host) ? hn : 0);
	}
	if (hn == 0 || hn >= sizeof(host))
		goto bad;
	host[hn] = '\0';
	if (colon && parse_port(colon + 1, (size_t)(end - colon - 1),
				&port) < 0)
		goto bad;
	if (slash && slash[1]) {
		char *e;
		unsigned long db = strtoul(slash + 1, &e, 10);

		if (*e || slash[1] < '0' || slash[1] > '9' || db > 1u << 20)
			goto bad;
		r->db = (unsigned)db;
	}
	snprintf(r->where, sizeof(r->where), bracketed ? "[%s]:%u" : "%s:%u",
		 host, port);
	return resolve(r, host, bracketed, port, err, errlen);
bad:
	snprintf(err, errlen, "'%s' is not HOST[:PORT][/DB]", s);
	return -EINVAL;
}

static int parse(struct redis_target *r, const char *url, char *err,
		 size_t errlen)
{
	const char *rest, *at;

	if (!strncmp(url, "unix://", 7))
		return parse_unix(r, url + 7, err, errlen);
	if (strncmp(url, "redis://", 8)) {
		snprintf(err, errlen, "'%s' is not a redis:// or unix:// URL",
			 url);
		return -EINVAL;
	}
	rest = url + 8;
	at = strrchr(rest, '@');
	if (at) {
		if (parse_userinfo(r, rest, (size_t)(at - rest)) < 0) {
			snprintf(err, errlen, "bad user or password in the "
				 "Redis URL (percent-encode special bytes)");
			return -EINVAL;
		}
		rest = at + 1;
	}
	return parse_hostpart(r, rest, err, errlen);
}

void redis_url_fini(struct redis_target *t)
{
	free(t->user);
	free(t->pass);
	t->user = t->pass = NULL;
}

int redis_url_parse(struct redis_target *t, const char *url, char *err,
		    size_t errlen)
{
	int rc;

	memset(t, 0, sizeof(*t));
	rc = parse(t, url, err, errlen);
	if (rc < 0)
		redis_url_fini(t);
	return rc;
}
