/* The address of a Redis server from a URL: redis://[[USER]:PASS@]HOST
 * [:PORT][/DB] or unix:///PATH (SPEC, Fleet). Used once, at startup, by
 * the daemon (net/redis.c) and the client (submit --redis) alike, hence in
 * base/: it parses a string and, for a host name, asks getaddrinfo(); it
 * never touches the loop. */
#ifndef RF_REDIS_URL_H
#define RF_REDIS_URL_H

#include <stddef.h>
#include <sys/socket.h>

struct redis_target {
	struct sockaddr_storage addr;	/* where to connect */
	socklen_t addrlen;
	char where[272];		/* "HOST:PORT" or the path, for messages */
	char *user, *pass;		/* owned, decoded; NULL when absent */
	unsigned db;			/* SELECT this when not 0 */
};

/* Parse url into *t (zeroed first). USER and PASS may be percent-encoded;
 * "redis://PASS@HOST" is a password alone. HOST is an IPv4 literal,
 * [IPv6 literal], "localhost" (127.0.0.1 without a lookup) or a name
 * looked up here with getaddrinfo(), which blocks. Returns 0 (free with
 * redis_url_fini), or -EINVAL / -ENOENT (name not found) / -ENOMEM with a
 * sentence in err and nothing to free. */
int redis_url_parse(struct redis_target *t, const char *url, char *err,
		    size_t errlen);

/* Free what t owns; harmless on a zeroed or finished one. */
void redis_url_fini(struct redis_target *t);

#endif
