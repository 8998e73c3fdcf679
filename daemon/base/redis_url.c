/* Redis URLs to socket addresses: the text is base/addr.c's (one parser
 * for the config check and the connection), then IP literals, localhost,
 * and a blocking getaddrinfo() for other names (at startup only: see
 * redis_new()). */
#include "base/redis_url.h"

#include "base/addr.h"

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

static int parse(struct redis_target *r, const char *url, char *err,
		 size_t errlen)
{
	struct addr_redis a;
	struct sockaddr_un *un = (struct sockaddr_un *)&r->addr;

	if (addr_parse_redis(url, &a, err, errlen) < 0)
		return -EINVAL;
	r->db = a.db;
	if ((a.user[0] && !(r->user = strdup(a.user))) ||
	    (a.pass[0] && !(r->pass = strdup(a.pass)))) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	if (a.path[0]) {
		un->sun_family = AF_UNIX;
		snprintf(un->sun_path, sizeof(un->sun_path), "%s", a.path);
		r->addrlen = sizeof(*un);
		snprintf(r->where, sizeof(r->where), "%s", a.path);
		return 0;
	}
	snprintf(r->where, sizeof(r->where),
		 strchr(a.host, ':') ? "[%s]:%u" : "%s:%u", a.host, a.port);
	return resolve(r, a.host, strchr(a.host, ':') != NULL, a.port, err,
		       errlen);
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
