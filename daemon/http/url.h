/* Parse and normalise http/https URLs, and resolve relative references
 * (RFC 3986 section 5). Sees strings only, never the network (fuzzed). */
#ifndef RF_URL_H
#define RF_URL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define URL_HOST_MAX 255	/* DNS names; longer hosts are invalid */
#define URL_MAX 8192		/* longer URLs are invalid */

struct url {
	char *href;		/* owned: normalised absolute URL, NUL-terminated */
	char host[URL_HOST_MAX + 1]; /* lowercase name, or IP literal without [] */
	uint16_t port;		/* explicit or the scheme's default, never 0 */
	bool https;		/* scheme is https (else http) */
	bool ipv6;		/* host is an IPv6 literal (printed in [] in href) */
	bool ip_literal;	/* host is an IPv4 or IPv6 literal */
	size_t path_off;	/* href + path_off: "/path?query", never empty; no fragment */
};

enum url_err {
	URL_OK = 0,
	URL_EINVAL = -1,	/* does not parse */
	URL_ESCHEME = -2,	/* parses, but the scheme is not http or https */
};

/* Parse an absolute URL of len bytes (no NUL needed). Leading and trailing
 * white space is ignored. On success fills *u (free with url_fini) and
 * returns URL_OK; otherwise returns URL_EINVAL or URL_ESCHEME, writes a
 * sentence to err (when errlen > 0) and leaves *u zeroed. */
int url_parse(struct url *u, const char *s, size_t len, char *err,
	      size_t errlen);

/* Resolve reference ref (len bytes; absolute or relative, as in a Location
 * header) against base, per RFC 3986 5.2, into *out (never base itself).
 * Same returns as
 * url_parse(). base is only read. */
int url_resolve(struct url *out, const struct url *base, const char *ref,
		size_t len, char *err, size_t errlen);

/* Deep copy. Returns 0 or -ENOMEM. */
int url_copy(struct url *dst, const struct url *src);

/* Free what u owns and zero it; harmless on a zeroed url. */
void url_fini(struct url *u);

static inline const char *url_path(const struct url *u)
{
	return u->href + u->path_off;
}

#endif
