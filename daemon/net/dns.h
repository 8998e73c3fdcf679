/* Asynchronous name resolution: c-ares driven by the ring (its sockets are
 * watched with POLL_ADD, its deadlines by one loop timer) and a TTL cache in
 * front of it. IP literals never reach c-ares. /etc/hosts is consulted first,
 * then DNS; answers carry both IPv6 and IPv4 addresses, in c-ares' RFC 6724
 * order.
 *
 * Tests: when RINGFETCH_HOSTS_FILE=path is set in the environment at
 * dns_new() time, that file is read instead of /etc/hosts (the module sets
 * CARES_HOSTS and asks c-ares for ARES_AI_ENVHOSTS). It must name the same
 * file for every resolver of the process: a second value would setenv()
 * while other threads' lookups getenv(). With it set, make the first
 * resolver before other threads run (its setenv() would race their
 * getenv()s: c-ares', loop.c's, sha256.c's); later ones write nothing.
 *
 * Threads: one struct dns per thread (a worker ring's own, on its own
 * loop); every call on it from that thread. dns_new()/dns_free() on
 * different threads at once are safe. */
#ifndef RF_DNS_H
#define RF_DNS_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define DNS_MAX_ADDRS 8
#define DNS_CACHE_MAX 10000	/* entries; the oldest is evicted beyond */

struct loop;
struct config;
struct dns;
struct dns_query;

/* Addresses of one name, port filled in, in the order to try them. */
struct dns_addrs {
	unsigned n;			/* 1..DNS_MAX_ADDRS on success */
	struct sockaddr_storage addr[DNS_MAX_ADDRS];	/* v4 or v6 */
};

struct dns_req;

/* Called once per lookup that returned -EINPROGRESS. err is 0 with a->n >= 1,
 * or a negative errno naming the failure with a sentence in detail (both
 * borrowed for the call only; a is NULL on failure):
 *   -ENOENT no such host (NXDOMAIN), -ENODATA no address for the name,
 *   -ETIMEDOUT no answer in time, -ECONNREFUSED servers unreachable or
 *   refusing, -EMFILE no descriptor here for a socket to ask with
 *   (EMFILE, ENFILE: a local shortage, not the name's; never cached),
 *   -ENOMEM, -EIO anything else.
 * The request is idle again when cb runs: it may be reused or freed. */
typedef void (*dns_cb)(struct dns_req *r, int err, const char *detail,
		       const struct dns_addrs *a);

/* One lookup, embedded in its owner; zero it before the first use. */
struct dns_req {
	dns_cb cb;			/* set before dns_lookup() */
	/* private to dns.c */
	struct dns_query *q;		/* query waited on, NULL when idle */
	struct dns_req *next;		/* in q's waiters */
	struct dns_req **pprev;		/* points at whoever points here */
	uint16_t port;			/* host order, copied into each addr */
};

struct dns_stats {
	uint64_t lookups;		/* dns_lookup() calls on names */
	uint64_t literals;		/* IP literals answered at once */
	uint64_t cache_hits;		/* answers or failures cached */
	uint64_t queries;		/* resolutions handed to c-ares */
	uint64_t failures;		/* queries that ended in an error */
	uint64_t cache_entries;		/* entries now in the cache */
};

/* Create a resolver on l from cfg->dns (servers, timeout, attempts, cache
 * ttl bounds; the values are copied, cfg is not kept). With servers given,
 * resolv.conf's servers and search list are never used. Returns an owned
 * resolver (free with dns_free()), or NULL with a sentence in err. */
struct dns *dns_new(struct loop *l, const struct config *cfg, char *err,
		    size_t errlen);

/* Stop everything: pending requests are dropped without their callbacks.
 * d is freed at once when the ring holds none of its operations, else on the
 * last completion, so keep running the loop for a turn or two afterwards
 * (each is a cancelled poll, answered at once). Not from a dns_cb. */
void dns_free(struct dns *d);

/* Resolve host (a name or an IP literal, IPv6 with or without brackets) for
 * port. An IP literal or a cache hit returns 0 with *out filled and r->cb
 * NOT called. Otherwise returns -EINPROGRESS and calls r->cb exactly once,
 * later, from the loop (never from inside dns_lookup), unless dns_cancel(r)
 * comes first. Concurrent lookups of one name share one query. Errors, with
 * nothing started and r idle: -EINVAL for an empty or over-long name or an
 * r still in use, -ENOMEM. Names are case-insensitive. */
int dns_lookup(struct dns *d, struct dns_req *r, const char *host,
	       uint16_t port, struct dns_addrs *out);

/* Forget r: its callback will not be called. Harmless when r is idle. The
 * query goes on for the other waiters and still fills the cache. */
void dns_cancel(struct dns *d, struct dns_req *r);

/* Counters for status and metrics; borrowed, valid until dns_free(). */
const struct dns_stats *dns_stats(const struct dns *d);

#endif
