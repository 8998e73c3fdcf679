/* Proxy URL and no_proxy parsing, and the CONNECT and SOCKS5 handshakes'
 * bytes. */
#include "http/proxy.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void base64(const char *in, size_t n, char *out)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				  "0123456789+/";
	size_t o = 0;

	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned char)in[i] << 16;

		if (i + 1 < n)
			v |= (unsigned char)in[i + 1] << 8;
		if (i + 2 < n)
			v |= (unsigned char)in[i + 2];
		out[o++] = tab[(v >> 18) & 63];
		out[o++] = tab[(v >> 12) & 63];
		out[o++] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < n ? tab[v & 63] : '=';
	}
	out[o] = '\0';
}

static int parse_url(struct proxy *p, const char *url, char *why, size_t wl)
{
	struct addr_proxy a;
	int rc = addr_parse_proxy(url, &a, why, wl);

	if (rc < 0)
		return rc;
	p->kind = (enum proxy_kind)a.kind;
	memcpy(p->host, a.host, sizeof(p->host) < sizeof(a.host) ?
	       sizeof(p->host) : sizeof(a.host));
	p->host[sizeof(p->host) - 1] = '\0';
	p->port = a.port;
	memcpy(p->user, a.user, sizeof(p->user));
	memcpy(p->pass, a.pass, sizeof(p->pass));
	if (p->kind == PROXY_HTTP && p->user[0]) {
		char cred[2 * PROXY_CRED_MAX + 2];
		int n = snprintf(cred, sizeof(cred), "%s:%s", p->user, p->pass);

		base64(cred, (size_t)n, p->auth_b64);
	}
	return 0;
}

static int parse_no_proxy(struct proxy *p, char *const *v, size_t n,
			  char *why, size_t wl)
{
	p->names = calloc(n ? n : 1, sizeof(*p->names));
	p->ranges = calloc(n ? n : 1, sizeof(*p->ranges));
	if (!p->names || !p->ranges)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct addr_cidr c;

		if (addr_parse_cidr(v[i], &c) == 0) {
			p->ranges[p->n_ranges++] = c;
			continue;
		}
		if (!v[i][0] || strchr(v[i], '/') || strchr(v[i], ' ')) {
			snprintf(why, wl, "no_proxy entry '%s': expected a host "
				 "name, a .suffix or a CIDR", v[i]);
			return -EINVAL;
		}
		p->names[p->n_names] = strdup(v[i]);
		if (!p->names[p->n_names])
			return -ENOMEM;
		for (char *s = p->names[p->n_names]; *s; s++)
			*s = (char)tolower((unsigned char)*s);
		p->n_names++;
	}
	return 0;
}

int proxy_parse(struct proxy *p, const char *url, char *const *no_proxy,
		size_t n, char *why, size_t whylen)
{
	int rc = 0;

	memset(p, 0, sizeof(*p));
	rc = parse_url(p, url ? url : "", why, whylen);
	if (rc == 0)
		rc = parse_no_proxy(p, no_proxy, n, why, whylen);
	if (rc == -ENOMEM)
		snprintf(why, whylen, "out of memory");
	if (rc < 0)
		proxy_fini(p);
	return rc;
}

void proxy_fini(struct proxy *p)
{
	for (size_t i = 0; i < p->n_names; i++)
		free(p->names[i]);
	free(p->names);
	free(p->ranges);
	memset(p, 0, sizeof(*p));
}

static bool name_listed(const struct proxy *p, const char *host)
{
	size_t hl = strlen(host);

	for (size_t i = 0; i < p->n_names; i++) {
		const char *n = p->names[i];
		size_t nl = strlen(n);

		if (n[0] == '.') {
			/* ".example.org": the domain and every name below */
			if ((hl == nl - 1 && !strcasecmp(host, n + 1)) ||
			    (hl > nl && !strcasecmp(host + hl - nl, n)))
				return true;
		} else if (!strcasecmp(host, n)) {
			return true;
		}
	}
	return false;
}

static bool range_listed(const struct proxy *p, const char *host)
{
	uint8_t a[16];
	struct in_addr v4;

	if (inet_pton(AF_INET, host, &v4) == 1)
		addr_map_v4(a, &v4);
	else if (inet_pton(AF_INET6, host, a) != 1)
		return false;
	for (size_t i = 0; i < p->n_ranges; i++) {
		const struct addr_cidr *c = &p->ranges[i];
		unsigned full = c->bits / 8, rest = c->bits % 8;

		if (memcmp(a, c->addr, full))
			continue;
		if (rest && ((a[full] ^ c->addr[full]) & (0xff << (8 - rest))))
			continue;
		return true;
	}
	return false;
}

bool proxy_applies(const struct proxy *p, const struct url *u)
{
	if (p->kind == PROXY_NONE)
		return false;
	if (u->ip_literal)
		return !range_listed(p, u->host);
	return !name_listed(p, u->host);
}

/* host:port with IPv6 in brackets, as CONNECT and Host want it. */
static void authority(const struct url *u, char *out, size_t cap)
{
	snprintf(out, cap, u->ipv6 ? "[%s]:%u" : "%s:%u", u->host, u->port);
}

int proxy_connect_request(const struct proxy *p, const struct url *u,
			  char *buf, size_t cap)
{
	char auth[URL_HOST_MAX + 16];
	int n;

	authority(u, auth, sizeof(auth));
	n = snprintf(buf, cap, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n%s%s%s\r\n",
		     auth, auth,
		     p->auth_b64[0] ? "Proxy-Authorization: Basic " : "",
		     p->auth_b64, p->auth_b64[0] ? "\r\n" : "");
	return n < 0 || (size_t)n >= cap ? -ENOSPC : n;
}

int proxy_connect_reply(const char *buf, size_t len, size_t *used,
			char *why, size_t whylen)
{
	const char *end = memmem(buf, len, "\r\n\r\n", 4);
	int status;

	if (!end) {
		if (len >= PROXY_REPLY_MAX) {
			snprintf(why, whylen, "proxy answered CONNECT with a "
				 "head over %d KiB", PROXY_REPLY_MAX / 1024);
			return -1;
		}
		if (len >= 5 && memcmp(buf, "HTTP/", 5)) {
			snprintf(why, whylen, "proxy answered CONNECT with "
				 "something other than HTTP");
			return -1;
		}
		return 1;
	}
	if (len < 12 || memcmp(buf, "HTTP/1.", 7) || buf[8] != ' ' ||
	    sscanf(buf + 9, "%3d", &status) != 1) {
		snprintf(why, whylen, "proxy answered CONNECT with a "
			 "malformed status line");
		return -1;
	}
	if (status == 407) {
		snprintf(why, whylen, "proxy wants credentials (407 Proxy "
			 "Authentication Required)");
		return -1;
	}
	if (status < 200 || status > 299) {
		snprintf(why, whylen, "proxy refused the tunnel: status %d",
			 status);
		return -1;
	}
	*used = (size_t)(end - buf) + 4;
	return 0;
}

size_t socks_greeting(const struct proxy *p, unsigned char *buf)
{
	buf[0] = 5;
	if (!p->user[0]) {
		buf[1] = 1;
		buf[2] = 0x00;		/* no authentication */
		return 3;
	}
	buf[1] = 2;
	buf[2] = 0x00;
	buf[3] = 0x02;			/* user/password */
	return 4;
}

size_t socks_auth(const struct proxy *p, unsigned char *buf)
{
	size_t ul = strlen(p->user), pl = strlen(p->pass), o = 0;

	buf[o++] = 1;
	buf[o++] = (unsigned char)ul;
	memcpy(buf + o, p->user, ul);
	o += ul;
	buf[o++] = (unsigned char)pl;
	memcpy(buf + o, p->pass, pl);
	return o + pl;
}

size_t socks_request(const struct proxy *p, const struct url *u,
		     const void *addr, unsigned char *buf)
{
	const struct sockaddr_in *s4 = addr;
	size_t o = 0;

	buf[o++] = 5;
	buf[o++] = 1;			/* CONNECT */
	buf[o++] = 0;
	if (p->kind == PROXY_SOCKS5H && !u->ip_literal) {
		size_t n = strlen(u->host);

		if (n > 255)
			return 0;
		buf[o++] = 3;		/* a domain name */
		buf[o++] = (unsigned char)n;
		memcpy(buf + o, u->host, n);
		o += n;
	} else if (s4->sin_family == AF_INET) {
		buf[o++] = 1;
		memcpy(buf + o, &s4->sin_addr, 4);
		o += 4;
	} else {
		const struct sockaddr_in6 *s6 = addr;

		buf[o++] = 4;
		memcpy(buf + o, &s6->sin6_addr, 16);
		o += 16;
	}
	buf[o++] = (unsigned char)(u->port >> 8);
	buf[o++] = (unsigned char)u->port;
	return o;
}

static const char *socks_error(unsigned rep)
{
	static const char *const text[] = {
		"succeeded", "general failure", "not allowed by its rules",
		"network unreachable", "host unreachable", "connection refused",
		"TTL expired", "command not supported",
		"address type not supported",
	};

	return rep < sizeof(text) / sizeof(text[0]) ? text[rep] : "unknown";
}

int socks_reply(const struct proxy *p, enum socks_step step,
		const unsigned char *buf, size_t len, size_t *used,
		enum socks_step *next, char *why, size_t whylen)
{
	size_t need;

	switch (step) {
	case SOCKS_GREETING:
		if (len < 2)
			return 1;
		if (buf[0] != 5) {
			snprintf(why, whylen, "not a SOCKS5 proxy (version %u)",
				 buf[0]);
			return -1;
		}
		if (buf[1] == 0x02 && p->user[0]) {
			*next = SOCKS_AUTH;
		} else if (buf[1] == 0x00) {
			*next = SOCKS_REQUEST;
		} else {
			snprintf(why, whylen, "SOCKS5 proxy wants credentials "
				 "it was not given (method %u)", buf[1]);
			return -1;
		}
		*used = 2;
		return 0;
	case SOCKS_AUTH:
		if (len < 2)
			return 1;
		if (buf[1] != 0) {
			snprintf(why, whylen, "SOCKS5 proxy refused the user "
				 "name and password");
			return -1;
		}
		*used = 2;
		*next = SOCKS_REQUEST;
		return 0;
	case SOCKS_REQUEST:
		if (len < 5)
			return 1;
		if (buf[0] != 5 || buf[1] != 0) {
			snprintf(why, whylen, "SOCKS5 proxy refused the "
				 "connection: %s", buf[0] != 5 ?
				 "bad version" : socks_error(buf[1]));
			return -1;
		}
		/* the bound address: 4, 16, or a length-prefixed name */
		need = buf[3] == 1 ? 4 + 6 : buf[3] == 4 ? 16 + 6 :
		       buf[3] == 3 ? (size_t)buf[4] + 7 : 0;
		if (!need) {
			snprintf(why, whylen, "SOCKS5 proxy sent a bad address "
				 "type %u", buf[3]);
			return -1;
		}
		if (len < need)
			return 1;
		*used = need;
		*next = SOCKS_DONE;
		return 0;
	default:
		*used = 0;
		*next = SOCKS_DONE;
		return 0;
	}
}
