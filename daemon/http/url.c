/* URL parsing, normalisation and reference resolution for http and https.
 *
 * Both entry points split their input into RFC 3986 components (appendix B),
 * combine them (section 5.2.2 for references) and hand the result to one
 * builder, url_build(), which validates the authority, removes dot segments
 * (5.2.4) and percent-encodes what may not appear in a request-target. The
 * encoding is idempotent, so a normalised href re-parses to itself; that is
 * what lets url_resolve() split base->href again instead of keeping the parts.
 */
#include "http/url.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct url_part {
	const char *p;		/* borrowed from the caller's string */
	size_t len;
	bool set;		/* present, maybe empty: "http://x/?" */
};

struct url_ref {
	struct url_part scheme;	/* without the ':' */
	struct url_part auth;	/* without the leading "//" */
	struct url_part path;	/* always set, may be empty */
	struct url_part query;	/* without the '?'; the fragment is dropped */
};

__attribute__((format(printf, 3, 4)))
static void err_set(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* Copy user bytes into an error sentence: short, printable, and never able
 * to break the JSON or log line the sentence ends up in. */
static const char *err_quote(char *dst, size_t dstlen, const char *p,
			     size_t len)
{
	size_t i, n = 0;

	for (i = 0; i < len && n + 4 < dstlen; i++) {
		unsigned char c = (unsigned char)p[i];

		dst[n++] = (c > 0x20 && c < 0x7f && c != '\'' && c != '"' &&
			    c != '\\') ? (char)c : '?';
	}
	if (i < len) {
		memcpy(dst + n, "...", 3);
		n += 3;
	}
	dst[n] = '\0';
	return dst;
}

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int hex_val(char c)
{
	if (is_digit(c))
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static char to_lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
	       c == '\v';
}

/* Trim ASCII white space at both ends. Inside, tab and newlines are refused
 * rather than stripped as WHATWG does: in a URL file or a Location header
 * they mean the line was mangled, and guessing would fetch the wrong thing. */
static int input_trim(const char **s, size_t *len, char *err, size_t errlen)
{
	const char *p = *s;
	size_t n = *len, i;

	if (n > URL_MAX) {
		err_set(err, errlen, "URL longer than %d bytes", URL_MAX);
		return URL_EINVAL;
	}
	while (n > 0 && is_space(p[0])) {
		p++;
		n--;
	}
	while (n > 0 && is_space(p[n - 1]))
		n--;
	for (i = 0; i < n; i++) {
		if (p[i] == '\t' || p[i] == '\r' || p[i] == '\n') {
			err_set(err, errlen, "tab or line break inside URL");
			return URL_EINVAL;
		}
		/* a NUL would cut the URL short in every C string after us */
		if (p[i] == '\0') {
			err_set(err, errlen, "NUL byte inside URL");
			return URL_EINVAL;
		}
	}
	*s = p;
	*len = n;
	return URL_OK;
}

/* RFC 3986 appendix B, without the regex. */
static void ref_split(struct url_ref *r, const char *s, size_t len)
{
	size_t i = 0, start;

	memset(r, 0, sizeof(*r));
	if (len > 0 && is_alpha(s[0])) {
		for (i = 1; i < len; i++) {
			if (!is_alpha(s[i]) && !is_digit(s[i]) &&
			    s[i] != '+' && s[i] != '-' && s[i] != '.')
				break;
		}
		if (i < len && s[i] == ':') {
			r->scheme = (struct url_part){ s, i, true };
			i++;
		} else {
			i = 0;
		}
	}
	if (len - i >= 2 && s[i] == '/' && s[i + 1] == '/') {
		i += 2;
		start = i;
		while (i < len && s[i] != '/' && s[i] != '?' && s[i] != '#')
			i++;
		r->auth = (struct url_part){ s + start, i - start, true };
	}
	start = i;
	while (i < len && s[i] != '?' && s[i] != '#')
		i++;
	r->path = (struct url_part){ s + start, i - start, true };
	if (i < len && s[i] == '?') {
		start = ++i;
		while (i < len && s[i] != '#')
			i++;
		r->query = (struct url_part){ s + start, i - start, true };
	}
}

static bool scheme_is(const struct url_part *sc, const char *name)
{
	size_t i;

	if (sc->len != strlen(name))
		return false;
	for (i = 0; i < sc->len; i++) {
		if (to_lower(sc->p[i]) != name[i])
			return false;
	}
	return true;
}

static int scheme_check(const struct url_part *sc, bool *https, char *err,
			size_t errlen)
{
	char q[32];

	if (!sc->set) {
		err_set(err, errlen, "missing scheme");
		return URL_EINVAL;
	}
	if (scheme_is(sc, "http") || scheme_is(sc, "https")) {
		*https = sc->len == 5;
		return URL_OK;
	}
	err_set(err, errlen, "unsupported scheme '%s'",
		err_quote(q, sizeof(q), sc->p, sc->len));
	return URL_ESCHEME;
}

static int host_ipv6(struct url *u, const char *p, size_t len, char *err,
		     size_t errlen)
{
	char buf[INET6_ADDRSTRLEN];
	struct in6_addr a;

	/* zone ids ("%25eth0") and IPvFuture ("v1.x") are refused too */
	if (len < 2 || len - 2 >= sizeof(buf) || p[len - 1] != ']')
		goto bad;
	memcpy(buf, p + 1, len - 2);
	buf[len - 2] = '\0';
	if (inet_pton(AF_INET6, buf, &a) != 1)
		goto bad;
	/* canonical text, so "[0:0::1]" and "[::1]" are the same host */
	if (!inet_ntop(AF_INET6, &a, u->host, sizeof(u->host)))
		goto bad;
	u->ipv6 = true;
	u->ip_literal = true;
	return URL_OK;
bad:
	err_set(err, errlen, "bad IPv6 literal");
	return URL_EINVAL;
}

static bool host_char_ok(char c)
{
	return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_';
}

/* Labels must be non-empty (one trailing dot names the root) and at most
 * 63 bytes (RFC 1035 2.3.4). */
static int host_labels_check(const char *h, char *err, size_t errlen)
{
	size_t n = strlen(h), run = 0, i;

	if (n > 0 && h[n - 1] == '.')
		n--;
	for (i = 0; i <= n; i++) {
		if (i < n && h[i] != '.') {
			run++;
			continue;
		}
		if (run == 0) {
			err_set(err, errlen, "empty label in host");
			return URL_EINVAL;
		}
		if (run > 63) {
			err_set(err, errlen, "host label longer than 63 bytes");
			return URL_EINVAL;
		}
		run = 0;
	}
	return URL_OK;
}

/* A reg-name: letters, digits, '-', '.', '_'. %XX is decoded when it
 * stands for one of those, refused otherwise. */
static int host_regname(struct url *u, const char *p, size_t len, char *err,
			size_t errlen)
{
	struct in_addr a;
	size_t i, n = 0;
	bool numeric = true;

	for (i = 0; i < len; i++) {
		char c = p[i];

		if (c == '%' && i + 2 < len && hex_val(p[i + 1]) >= 0 &&
		    hex_val(p[i + 2]) >= 0) {
			c = (char)(hex_val(p[i + 1]) * 16 + hex_val(p[i + 2]));
			i += 2;
		}
		if (!host_char_ok(c)) {
			err_set(err, errlen, "invalid character in host");
			return URL_EINVAL;
		}
		if (n >= URL_HOST_MAX) {
			err_set(err, errlen, "host longer than %d bytes",
				URL_HOST_MAX);
			return URL_EINVAL;
		}
		numeric = numeric && (is_digit(c) || c == '.');
		u->host[n++] = to_lower(c);
	}
	u->host[n] = '\0';
	if (inet_pton(AF_INET, u->host, &a) == 1) {
		u->ip_literal = true;
		return URL_OK;
	}
	/* "1.2.3" or "300.1.1.1" would reach the resolver, whose answer
	 * varies by libc; say no here instead */
	if (numeric) {
		err_set(err, errlen, "bad IPv4 literal");
		return URL_EINVAL;
	}
	return host_labels_check(u->host, err, errlen);
}

static int port_parse(struct url *u, const char *p, size_t len, char *err,
		      size_t errlen)
{
	unsigned long v = 0;
	char q[24];
	size_t i;

	if (len == 0)		/* "http://x:/" means the default, 3986 6.2.3 */
		return URL_OK;
	for (i = 0; i < len; i++) {
		if (!is_digit(p[i]))
			goto bad;
		if (v <= 65535)
			v = v * 10 + (unsigned long)(p[i] - '0');
	}
	if (v == 0 || v > 65535)
		goto bad;
	u->port = (uint16_t)v;
	return URL_OK;
bad:
	err_set(err, errlen, "invalid port '%s'",
		err_quote(q, sizeof(q), p, len));
	return URL_EINVAL;
}

static int auth_parse(struct url *u, const struct url_part *a, char *err,
		      size_t errlen)
{
	const char *colon;
	size_t hlen;
	int rc;

	/* we never send credentials, so a URL carrying them is refused
	 * rather than silently stripped */
	if (memchr(a->p, '@', a->len)) {
		err_set(err, errlen, "credentials in URL not allowed");
		return URL_EINVAL;
	}
	if (a->len > 0 && a->p[0] == '[') {
		const char *end = memchr(a->p, ']', a->len);

		hlen = end ? (size_t)(end - a->p) + 1 : a->len;
		colon = hlen < a->len ? a->p + hlen : NULL;
		if (colon && *colon != ':') {
			err_set(err, errlen, "bad IPv6 literal");
			return URL_EINVAL;
		}
	} else {
		colon = memchr(a->p, ':', a->len);
		hlen = colon ? (size_t)(colon - a->p) : a->len;
	}
	if (hlen == 0) {
		err_set(err, errlen, "missing host");
		return URL_EINVAL;
	}
	if (a->p[0] == '[')
		rc = host_ipv6(u, a->p, hlen, err, errlen);
	else
		rc = host_regname(u, a->p, hlen, err, errlen);
	if (rc)
		return rc;
	u->port = u->https ? 443 : 80;
	if (!colon)
		return URL_OK;
	return port_parse(u, colon + 1, a->len - hlen - 1, err, errlen);
}

/* RFC 3986 5.2.4. out must hold len + 1 bytes; returns the length written.
 * The output never grows past the input, since every step only drops or
 * moves bytes. */
static size_t dots_remove(char *out, const char *in, size_t len)
{
	size_t n = 0;

	while (len > 0) {
		if (len >= 3 && !memcmp(in, "../", 3)) {
			in += 3, len -= 3;
		} else if (len >= 2 && !memcmp(in, "./", 2)) {
			in += 2, len -= 2;
		} else if (len >= 3 && !memcmp(in, "/./", 3)) {
			in += 2, len -= 2;
		} else if (len == 2 && !memcmp(in, "/.", 2)) {
			out[n++] = '/';
			len = 0;
		} else if ((len >= 4 && !memcmp(in, "/../", 4)) ||
			   (len == 3 && !memcmp(in, "/..", 3))) {
			while (n > 0 && out[n - 1] != '/')
				n--;
			if (n > 0)
				n--;
			if (len == 3) {
				out[n++] = '/';
				len = 0;
			} else {
				in += 3, len -= 3;
			}
		} else if ((len == 1 && in[0] == '.') ||
			   (len == 2 && !memcmp(in, "..", 2))) {
			len = 0;
		} else {
			do {
				out[n++] = *in++;
				len--;
			} while (len > 0 && *in != '/');
		}
	}
	return n;
}

static bool must_encode(unsigned char c)
{
	return c <= 0x20 || c >= 0x7f || strchr("\"<>\\^`{|}", c);
}

/* Percent-encode what a request-target may not carry. A '%' not starting a
 * valid escape becomes "%25": refusing would lose real-world links, and
 * keeping it would let the server guess. out needs 3 * len bytes. */
static size_t pct_encode(char *out, const char *in, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i, n = 0;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];
		bool bad_pct = c == '%' && (i + 2 >= len ||
					    hex_val(in[i + 1]) < 0 ||
					    hex_val(in[i + 2]) < 0);

		if (c && !bad_pct && !must_encode(c)) {
			out[n++] = (char)c;
			continue;
		}
		out[n++] = '%';
		out[n++] = hex[c >> 4];
		out[n++] = hex[c & 15];
	}
	return n;
}

/* Write scheme, authority, path and query of the normalised URL into a new
 * href. path is the final path before dot removal. */
static int href_write(struct url *u, const char *path, size_t plen,
		      const struct url_part *query, char *err, size_t errlen)
{
	size_t cap, n;
	bool dflt = u->port == (u->https ? 443 : 80);
	int w;

	cap = 8 + 3 + strlen(u->host) + 2 + 6 + 3 * plen + 1 + 1;
	if (query->set)
		cap += 3 * query->len;
	u->href = malloc(cap);
	if (!u->href) {
		err_set(err, errlen, "out of memory");
		return URL_EINVAL;
	}
	w = snprintf(u->href, cap, "%s://%s%s%s", u->https ? "https" : "http",
		     u->ipv6 ? "[" : "", u->host, u->ipv6 ? "]" : "");
	n = (size_t)w;
	if (!dflt)
		n += (size_t)snprintf(u->href + n, cap - n, ":%u",
				      (unsigned)u->port);
	u->path_off = n;
	n += pct_encode(u->href + n, path, plen);
	if (query->set) {
		u->href[n++] = '?';
		n += pct_encode(u->href + n, query->p, query->len);
	}
	u->href[n] = '\0';
	if (n > URL_MAX) {
		err_set(err, errlen, "URL longer than %d bytes", URL_MAX);
		return URL_EINVAL;
	}
	return URL_OK;
}

/* Validate and normalise t into *u. On failure *u is left zeroed. */
static int url_build(struct url *u, const struct url_ref *t, char *err,
		     size_t errlen)
{
	char *path;
	size_t plen;
	int rc;

	memset(u, 0, sizeof(*u));
	rc = scheme_check(&t->scheme, &u->https, err, errlen);
	if (rc)
		goto out;
	if (!t->auth.set) {
		err_set(err, errlen, "missing '//' after scheme");
		rc = URL_EINVAL;
		goto out;
	}
	rc = auth_parse(u, &t->auth, err, errlen);
	if (rc)
		goto out;
	path = malloc(t->path.len + 2);
	if (!path) {
		err_set(err, errlen, "out of memory");
		rc = URL_EINVAL;
		goto out;
	}
	plen = dots_remove(path, t->path.p, t->path.len);
	if (plen == 0)
		path[plen++] = '/';
	rc = href_write(u, path, plen, &t->query, err, errlen);
	free(path);
out:
	if (rc)
		url_fini(u);
	return rc;
}

int url_parse(struct url *u, const char *s, size_t len, char *err,
	      size_t errlen)
{
	struct url_ref r;
	int rc;

	memset(u, 0, sizeof(*u));
	rc = input_trim(&s, &len, err, errlen);
	if (rc)
		return rc;
	ref_split(&r, s, len);
	return url_build(u, &r, err, errlen);
}

/* RFC 3986 5.2.3: all but the last segment of the base path, then ref. */
static char *path_merge(const struct url_part *b, const struct url_part *r,
			size_t *len)
{
	size_t keep = b->len;
	char *m;

	while (keep > 0 && b->p[keep - 1] != '/')
		keep--;
	m = malloc(keep + r->len + 2);
	if (!m)
		return NULL;
	if (keep == 0)
		m[keep++] = '/';
	else
		memcpy(m, b->p, keep);
	memcpy(m + keep, r->p, r->len);
	m[keep + r->len] = '\0';
	*len = keep + r->len;	/* not strlen: the reference may hold NULs */
	return m;
}

/* RFC 3986 5.2.2, with the 5.4.2 "backward compatible" reading of a
 * reference whose scheme equals the base's: "http:g" is relative, as every
 * browser treats it. Dot removal happens later, in url_build(). */
static int ref_combine(struct url_ref *t, char **merged,
		       const struct url_ref *b, const struct url_ref *r)
{
	struct url_ref rr = *r;

	*merged = NULL;
	if (rr.scheme.set && !rr.auth.set && b->scheme.set &&
	    scheme_is(&rr.scheme, b->scheme.len == 5 ? "https" : "http"))
		rr.scheme.set = false;
	if (rr.scheme.set || rr.auth.set) {
		*t = rr;
		t->scheme = rr.scheme.set ? rr.scheme : b->scheme;
		return 0;
	}
	t->scheme = b->scheme;
	t->auth = b->auth;
	t->query = rr.query;
	if (rr.path.len == 0) {
		t->path = b->path;
		if (!rr.query.set)
			t->query = b->query;
	} else if (rr.path.p[0] == '/') {
		t->path = rr.path;
	} else {
		size_t len;

		*merged = path_merge(&b->path, &rr.path, &len);
		if (!*merged)
			return -ENOMEM;
		t->path = (struct url_part){ *merged, len, true };
	}
	return 0;
}

int url_resolve(struct url *out, const struct url *base, const char *ref,
		size_t len, char *err, size_t errlen)
{
	struct url_ref b, r, t;
	char *merged;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!base || !base->href) {
		err_set(err, errlen, "no base URL");
		return URL_EINVAL;
	}
	rc = input_trim(&ref, &len, err, errlen);
	if (rc)
		return rc;
	ref_split(&b, base->href, strlen(base->href));
	ref_split(&r, ref, len);
	if (ref_combine(&t, &merged, &b, &r)) {
		err_set(err, errlen, "out of memory");
		return URL_EINVAL;
	}
	rc = url_build(out, &t, err, errlen);
	free(merged);
	return rc;
}

int url_copy(struct url *dst, const struct url *src)
{
	char *h = src->href ? strdup(src->href) : NULL;

	if (src->href && !h) {
		memset(dst, 0, sizeof(*dst));
		return -ENOMEM;
	}
	*dst = *src;
	dst->href = h;
	return 0;
}

void url_fini(struct url *u)
{
	free(u->href);
	memset(u, 0, sizeof(*u));
}
