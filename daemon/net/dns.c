/* c-ares on the ring, with a TTL cache in front.
 *
 * c-ares opens its own non-blocking sockets and tells us through
 * SOCK_STATE_CB which ones to watch; each gets a one-shot POLL_ADD, re-armed
 * after its completion while c-ares still wants it, and a POLL_REMOVE when
 * c-ares lets go (it closes the fd right after, and a poll on a closed fd
 * would never complete). c-ares' retransmit deadlines live on one loop timer
 * re-armed from ares_timeout() after every call into c-ares.
 *
 * c-ares doubles the per-try timeout on each round, so on its own a silent
 * server costs timeout * (2^attempts - 1); each query also carries our own
 * deadline of timeout * attempts, which is what SPEC promises.
 *
 * Callbacks never run inside dns_lookup(): c-ares may answer from the hosts
 * file synchronously, so finished queries wait on d->done, which a timer
 * armed for "now" drains on the loop's next timer pass.
 *
 * Threads: each worker ring has its own struct dns (own channel, cache and
 * loop); c-ares 1.18 keeps a channel's state in the channel, so channels
 * on different threads share nothing. What the process shares is guarded
 * by lib_lock: ares_library_init/cleanup (a plain counter in 1.18.1, not
 * safe to race) and the CARES_HOSTS variable (setenv, while other
 * channels' lookups call getenv). */
#include "net/dns.h"

#include <ares.h>
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config/config.h"
#include "base/addr.h"
#include "base/hash.h"
#include "base/list.h"
#include "base/err.h"
#include "base/log.h"
#include "event/loop.h"

#define DNS_NAME_MAX 253
#define DNS_BUCKETS 16384	/* power of two above DNS_CACHE_MAX */
#define DNS_DEFAULT_TIMEOUT_MS 2000
#define DNS_DEFAULT_ATTEMPTS 2

/* An address without its port: what queries and the cache keep. */
struct dns_ip {
	sa_family_t family;			/* AF_INET or AF_INET6 */
	uint8_t a[16];				/* network order */
};

/* What a resolution ends in. */
struct dns_result {
	int err;				/* 0 or a dns_cb error */
	unsigned n;				/* >= 1 when err == 0 */
	struct dns_ip ip[DNS_MAX_ADDRS];
};

struct dns_entry {
	struct dns_entry *hnext;		/* bucket chain */
	struct list_node age;			/* on d->ages */
	uint64_t expires_ms;			/* loop clock */
	struct dns_result res;			/* err 0, -ENOENT or -ENODATA */
	char name[];				/* lowercase key */
};

/* One resolution shared by every waiter on the name. Freed once it is on
 * neither list and c-ares no longer holds it. */
struct dns_query {
	struct dns *d;
	struct dns_query *next;			/* in d->pending or d->done */
	struct dns_query **pprev;		/* NULL when on no list */
	struct dns_req *waiters;
	struct timer deadline;			/* timeout * attempts */
	bool in_ares;				/* c-ares holds it as arg */
	uint64_t fd_short_seq;			/* d's when the query began */
	bool finished;				/* res is final, on d->done */
	struct dns_result res;
	char name[];				/* lowercase */
};

struct dns_sock {
	struct dns *d;
	struct io_op op;			/* the POLL_ADD while polling */
	struct dns_sock *next;			/* in d->socks */
	int fd;
	unsigned want;				/* POLLIN|POLLOUT asked for */
	unsigned armed;				/* mask of the poll in flight */
	bool polling;				/* a POLL_ADD is in flight */
	bool removing;				/* its POLL_REMOVE is queued */
	bool in_process;			/* inside its own completion */
	bool dead;				/* c-ares closed the fd */
};

struct dns {
	struct loop *l;
	ares_channel ch;
	int ai_flags;				/* for ares_getaddrinfo() */
	uint64_t query_deadline_ms;		/* timeout * attempts */
	uint64_t min_ttl_ms, max_ttl_ms;	/* max >= min */
	struct timer ares_timer;		/* c-ares' next deadline */
	struct timer deliver_timer;		/* drains done, armed at now */
	struct dns_sock *socks;
	unsigned nsocks;			/* closing: freed at 0 */
	struct dns_query *pending;		/* waiting on c-ares, by name */
	struct dns_query *done;			/* results not yet delivered */
	struct list_node ages;		/* entries, oldest first */
	struct dns_stats stats;
	uint64_t fd_short_seq;			/* socket()s that found no
						 * descriptor: EMFILE, ENFILE */
	bool closing;				/* dns_free() was called */
	struct dns_entry *buckets[DNS_BUCKETS];
};

static void ares_timer_update(struct dns *d);
static void on_deliver(struct timer *t);
static void on_sock_ready(struct io_op *op, int res, unsigned flags);

/* --- lists ------------------------------------------------------------- */

static void query_link(struct dns_query **head, struct dns_query *q)
{
	q->next = *head;
	if (q->next)
		q->next->pprev = &q->next;
	q->pprev = head;
	*head = q;
}

static void query_unlink(struct dns_query *q)
{
	if (!q->pprev)
		return;
	*q->pprev = q->next;
	if (q->next)
		q->next->pprev = q->pprev;
	q->next = NULL;
	q->pprev = NULL;
}

static void req_unlink(struct dns_req *r)
{
	*r->pprev = r->next;
	if (r->next)
		r->next->pprev = r->pprev;
	r->next = NULL;
	r->pprev = NULL;
	r->q = NULL;
}

static void req_attach(struct dns_query *q, struct dns_req *r, uint16_t port)
{
	r->q = q;
	r->port = port;
	r->next = q->waiters;
	if (r->next)
		r->next->pprev = &r->next;
	r->pprev = &q->waiters;
	q->waiters = r;
}

/* --- cache ------------------------------------------------------------- */

static uint32_t name_hash(const char *s)
{
	return hash_fnv1a_str(s) & (DNS_BUCKETS - 1);
}

static void cache_remove(struct dns *d, struct dns_entry *e)
{
	struct dns_entry **pp = &d->buckets[name_hash(e->name)];

	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	list_remove(&e->age);
	free(e);
	d->stats.cache_entries--;
}

static struct dns_entry *cache_oldest(const struct dns *d)
{
	struct list_node *n = list_first(&d->ages);

	return n ? list_entry(n, struct dns_entry, age) : NULL;
}

/* The live entry for name, or NULL; a stale one is dropped on the way. */
static struct dns_entry *cache_find(struct dns *d, const char *name)
{
	struct dns_entry *e = d->buckets[name_hash(name)];

	while (e && strcmp(e->name, name) != 0)
		e = e->hnext;
	if (e && loop_now_ms(d->l) >= e->expires_ms) {
		cache_remove(d, e);
		return NULL;
	}
	return e;
}

/* Best effort: out of memory just means no entry. */
static void cache_store(struct dns *d, const char *name,
			const struct dns_result *rs, uint64_t ttl_ms)
{
	uint64_t now = loop_now_ms(d->l);
	size_t len = strlen(name);
	struct dns_entry *e, **head;

	e = cache_find(d, name);
	if (e)
		cache_remove(d, e);
	while ((e = cache_oldest(d)) && (e->expires_ms <= now ||
			d->stats.cache_entries >= DNS_CACHE_MAX))
		cache_remove(d, e);
	e = malloc(sizeof(*e) + len + 1);
	if (!e)
		return;
	memcpy(e->name, name, len + 1);
	e->expires_ms = now + ttl_ms;
	e->res = *rs;
	head = &d->buckets[name_hash(e->name)];
	e->hnext = *head;
	*head = e;
	list_push_back(&d->ages, &e->age);
	d->stats.cache_entries++;
}

static void cache_clear(struct dns *d)
{
	struct dns_entry *e;

	while ((e = cache_oldest(d)))
		cache_remove(d, e);
}

/* --- results ----------------------------------------------------------- */

static void addrs_fill(struct dns_addrs *out, const struct dns_result *rs,
		       uint16_t port)
{
	const struct dns_ip *ip = rs->ip;

	memset(out, 0, sizeof(*out));
	for (unsigned i = 0; i < rs->n; i++) {
		struct sockaddr_storage *ss = &out->addr[i];

		if (ip[i].family == AF_INET) {
			struct sockaddr_in *sin = (struct sockaddr_in *)ss;

			sin->sin_family = AF_INET;
			sin->sin_port = htons(port);
			memcpy(&sin->sin_addr, ip[i].a, 4);
		} else {
			struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

			sin6->sin6_family = AF_INET6;
			sin6->sin6_port = htons(port);
			memcpy(&sin6->sin6_addr, ip[i].a, 16);
		}
	}
	out->n = rs->n;
}

/* Keep c-ares' order, drop duplicates. Returns the smallest ttl in ms. */
static uint64_t result_collect(struct dns_result *rs,
			       const struct ares_addrinfo *res)
{
	int ttl = -1;

	rs->n = 0;
	for (const struct ares_addrinfo_node *nd = res ? res->nodes : NULL;
	     nd && rs->n < DNS_MAX_ADDRS; nd = nd->ai_next) {
		struct dns_ip ip = { 0 };
		bool dup = false;

		const struct sockaddr_in *s4 = (const void *)nd->ai_addr;
		const struct sockaddr_in6 *s6 = (const void *)nd->ai_addr;

		if (nd->ai_family == AF_INET) {
			ip.family = AF_INET;
			memcpy(ip.a, &s4->sin_addr, 4);
		} else if (nd->ai_family == AF_INET6) {
			ip.family = AF_INET6;
			memcpy(ip.a, &s6->sin6_addr, 16);
		} else {
			continue;
		}
		for (unsigned i = 0; i < rs->n && !dup; i++)
			dup = memcmp(&rs->ip[i], &ip, sizeof(ip)) == 0;
		if (dup)
			continue;
		rs->ip[rs->n++] = ip;
		if (ttl < 0 || nd->ai_ttl < ttl)
			ttl = nd->ai_ttl;
	}
	return ttl > 0 ? (uint64_t)ttl * 1000 : 0;
}

/* c-ares status to dns_cb error and the start of its sentence; the last row
 * catches the rest. Timeouts and refusals are not cached: they pass. */
static const struct {
	int status, err;
	const char *what;
} dns_errs[] = {
	{ ARES_ENOTFOUND, -ENOENT, "no such host" },
	{ ARES_EBADNAME, -ENOENT, "no such host" },
	{ ARES_ENODATA, -ENODATA, "no address for" },
	{ ARES_ETIMEOUT, -ETIMEDOUT, "DNS timeout for" },
	{ ARES_ECONNREFUSED, -ECONNREFUSED, "DNS servers unreachable for" },
	{ ARES_ESERVFAIL, -ECONNREFUSED, "DNS server failure for" },
	{ ARES_EREFUSED, -ECONNREFUSED, "DNS servers refused" },
	{ ARES_ENOMEM, -ENOMEM, "out of memory resolving" },
	{ -1, -EMFILE, "no descriptor for a DNS socket resolving" },
	{ ARES_SUCCESS, -EIO, "DNS lookup failed for" },
};
#define DNS_NERRS (sizeof(dns_errs) / sizeof(*dns_errs))

static int status_to_err(int status)
{
	size_t i = 0;

	while (i < DNS_NERRS - 1 && dns_errs[i].status != status)
		i++;
	return dns_errs[i].err;
}

static void err_detail(char *buf, size_t len, int err, const char *name)
{
	size_t i = 0;

	while (i < DNS_NERRS - 1 && dns_errs[i].err != err)
		i++;
	snprintf(buf, len, "%s '%s'", dns_errs[i].what, name);
}

static void query_maybe_free(struct dns_query *q)
{
	if (!q->pprev && !q->in_ares && !q->waiters)
		free(q);
}

/* q->res is final: hand it to the delivery timer. */
static void query_finish(struct dns_query *q)
{
	struct dns *d = q->d;

	q->finished = true;
	loop_timer_cancel(d->l, &q->deadline);
	query_unlink(q);
	query_link(&d->done, q);
	loop_timer_arm(d->l, &d->deliver_timer, loop_now_ms(d->l), on_deliver);
}

static void on_deliver(struct timer *t)
{
	struct dns *d = container_of(t, struct dns, deliver_timer);
	struct dns_query *q;

	/* A callback may add to d->done; the loop picks those up too. */
	while ((q = d->done)) {
		char detail[192] = "";
		struct dns_addrs a;
		struct dns_req *r;

		query_unlink(q);
		if (q->res.err)
			err_detail(detail, sizeof(detail), q->res.err, q->name);
		while ((r = q->waiters)) {
			uint16_t port = r->port;

			req_unlink(r);
			if (q->res.err) {
				r->cb(r, q->res.err, detail, NULL);
				continue;
			}
			addrs_fill(&a, &q->res, port);
			r->cb(r, 0, "", &a);
		}
		query_maybe_free(q);
	}
}

static void on_answer(void *arg, int status, int timeouts,
		      struct ares_addrinfo *res)
{
	struct dns_query *q = arg;
	struct dns *d = q->d;
	struct dns_result rs = { 0 };
	uint64_t ttl_ms = 0;

	(void)timeouts;
	q->in_ares = false;
	if (status == ARES_SUCCESS) {
		ttl_ms = result_collect(&rs, res);
		rs.err = rs.n ? 0 : -ENODATA;
	} else {
		rs.err = status_to_err(status);
	}
	/* c-ares says only "servers unreachable" when it could not open a
	 * socket; ours tell it was for want of a descriptor here. */
	if (rs.err && rs.err != -ENOENT && rs.err != -ENODATA &&
	    d->fd_short_seq != q->fd_short_seq)
		rs.err = -EMFILE;
	if (res)
		ares_freeaddrinfo(res);
	if (status == ARES_EDESTRUCTION || d->closing) {
		query_maybe_free(q);
		return;
	}
	/* Past our deadline the waiters had their answer: only cache. */
	if (!q->finished) {
		q->res = rs;
		if (rs.err && rs.err != -EMFILE)
			d->stats.failures++;
		query_finish(q);
	}
	if (rs.err == 0 || rs.err == -ENOENT || rs.err == -ENODATA) {
		if (ttl_ms < d->min_ttl_ms || rs.err)
			ttl_ms = d->min_ttl_ms;
		if (ttl_ms > d->max_ttl_ms)
			ttl_ms = d->max_ttl_ms;
		cache_store(d, q->name, &rs, ttl_ms);
	}
	query_maybe_free(q);
}

/* Our own bound on a query; c-ares may go on and still fill the cache. */
static void on_deadline(struct timer *t)
{
	struct dns_query *q = container_of(t, struct dns_query, deadline);

	q->res.err = -ETIMEDOUT;
	q->res.n = 0;
	q->d->stats.failures++;
	query_finish(q);
}

/* --- c-ares sockets and timer ------------------------------------------ */

static void sock_arm(struct dns_sock *s)
{
	struct io_uring_sqe *sqe = loop_sqe(s->d->l, &s->op);

	io_uring_prep_poll_add(sqe, s->fd, s->want);
	s->armed = s->want;
	s->polling = true;
	s->removing = false;
}

static void sock_unpoll(struct dns_sock *s)
{
	struct io_uring_sqe *sqe;

	if (!s->polling || s->removing)
		return;
	sqe = loop_sqe_noop(s->d->l);
	io_uring_prep_poll_remove(sqe, (__u64)(uintptr_t)&s->op);
	s->removing = true;
}

static void sock_free(struct dns_sock *s)
{
	struct dns_sock **pp = &s->d->socks;

	while (*pp != s)
		pp = &(*pp)->next;
	*pp = s->next;
	s->d->nsocks--;
	free(s);
}

static pthread_mutex_t lib_lock = PTHREAD_MUTEX_INITIALIZER;

static void dns_destroy(struct dns *d)
{
	free(d);
	pthread_mutex_lock(&lib_lock);
	ares_library_cleanup();
	pthread_mutex_unlock(&lib_lock);
}

static void on_sock_state(void *data, ares_socket_t fd, int readable,
			  int writable)
{
	struct dns *d = data;
	unsigned want = (readable ? POLLIN : 0) | (writable ? POLLOUT : 0);
	struct dns_sock *s = d->socks;

	/* The fd of a dead entry may already be reused by a new socket. */
	while (s && (s->fd != fd || s->dead))
		s = s->next;
	if (!s && !want)
		return;
	if (!s) {
		s = calloc(1, sizeof(*s));
		if (!s) {
			/* c-ares' own deadline will fail the query. */
			log_error("dns: cannot watch fd %d: out of memory", fd);
			return;
		}
		s->d = d;
		s->fd = fd;
		s->op.done = on_sock_ready;
		s->next = d->socks;
		d->socks = s;
		d->nsocks++;
	}
	s->want = want;
	if (!want) {
		/* c-ares closes fd as soon as we return. */
		s->dead = true;
		sock_unpoll(s);
		if (!s->polling && !s->in_process)
			sock_free(s);
		return;
	}
	if (s->in_process)
		return;			/* its completion re-arms */
	if (!s->polling)
		sock_arm(s);
	else if (s->armed != want)
		sock_unpoll(s);		/* the -ECANCELED re-arms */
}

static void on_sock_ready(struct io_op *op, int res, unsigned flags)
{
	struct dns_sock *s = container_of(op, struct dns_sock, op);
	struct dns *d = s->d;

	(void)flags;
	s->polling = false;
	s->removing = false;
	if (!s->dead && !d->closing && res != -ECANCELED) {
		/* An odd poll error: let c-ares find out on recv/send. */
		unsigned ev = res < 0 ? POLLERR : (unsigned)res;
		unsigned rmask = POLLIN | POLLERR | POLLHUP;
		unsigned wmask = POLLOUT | POLLERR | POLLHUP;
		ares_socket_t rfd = ARES_SOCKET_BAD, wfd = ARES_SOCKET_BAD;

		if ((ev & rmask) && (s->want & POLLIN))
			rfd = s->fd;
		if ((ev & wmask) && (s->want & POLLOUT))
			wfd = s->fd;
		s->in_process = true;
		ares_process_fd(d->ch, rfd, wfd);
		s->in_process = false;
		ares_timer_update(d);
	}
	if (s->dead || d->closing) {
		sock_free(s);
		if (d->closing && !d->nsocks)
			dns_destroy(d);
		return;
	}
	if (s->want)
		sock_arm(s);
}

static void on_ares_timer(struct timer *t)
{
	struct dns *d = container_of(t, struct dns, ares_timer);

	ares_process_fd(d->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	ares_timer_update(d);
}

/* Call after every call into c-ares. */
static void ares_timer_update(struct dns *d)
{
	struct timeval tv;
	uint64_t ms;

	if (!ares_timeout(d->ch, NULL, &tv)) {
		loop_timer_cancel(d->l, &d->ares_timer);
		return;
	}
	/* Round up: firing early only costs a no-op turn, but one per ms. */
	ms = (uint64_t)tv.tv_sec * 1000 + ((uint64_t)tv.tv_usec + 999) / 1000;
	loop_timer_arm(d->l, &d->ares_timer, loop_now_ms(d->l) + ms,
		       on_ares_timer);
}

/* --- c-ares' socket calls ---------------------------------------------- */

/* c-ares 1.18 turns a socket() that fails into "servers unreachable"
 * (ARES_ECONNREFUSED) and keeps errno to itself, so a process out of
 * descriptors would read as a DNS failure of every name. Its socket calls
 * go through these to see EMFILE/ENFILE; the rest are the plain calls
 * c-ares makes without them. */
static ares_socket_t sock_open(int af, int type, int protocol, void *data)
{
	struct dns *d = data;
	/* c-ares leaves sockets it did not open as they are: blocking, its
	 * read loop (which reads until EAGAIN) would stop the whole loop */
	int fd = socket(af, type | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);

	if (fd < 0 && (errno == EMFILE || errno == ENFILE))
		d->fd_short_seq++;
	return fd;
}

static int sock_close(ares_socket_t fd, void *data)
{
	(void)data;
	return close(fd);
}

static int sock_connect(ares_socket_t fd, const struct sockaddr *sa,
			ares_socklen_t len, void *data)
{
	(void)data;
	return connect(fd, sa, len);
}

static ares_ssize_t sock_recvfrom(ares_socket_t fd, void *p, size_t n,
				  int flags, struct sockaddr *from,
				  ares_socklen_t *from_len, void *data)
{
	(void)data;
	return recvfrom(fd, p, n, flags, from, from_len);
}

static ares_ssize_t sock_sendv(ares_socket_t fd, const struct iovec *iov,
			       int n, void *data)
{
	/* as c-ares' own send: a TCP server gone is an error, not SIGPIPE */
	struct msghdr m = { .msg_iov = (struct iovec *)iov,
			    .msg_iovlen = (size_t)n };

	(void)data;
	return sendmsg(fd, &m, MSG_NOSIGNAL);
}

static const struct ares_socket_functions sock_funcs = {
	.asocket = sock_open,
	.aclose = sock_close,
	.aconnect = sock_connect,
	.arecvfrom = sock_recvfrom,
	.asendv = sock_sendv,
};

/* --- setup ------------------------------------------------------------- */

/* "IP", "IP:port", "[v6]:port" or a bare v6 into c-ares 1.18's csv form,
 * checked here so that nothing but an address ever reaches c-ares. */
static int server_csv_add(char *csv, size_t cap, const char *s)
{
	char host[INET6_ADDRSTRLEN];
	unsigned char buf[16];
	uint16_t port = 53;
	size_t used = strlen(csv);
	bool v6;
	int n;

	if (addr_split_hostport(s, host, sizeof(host), &port, true) < 0 ||
	    port == 0)
		return -EINVAL;
	v6 = strchr(host, ':') != NULL;
	if (inet_pton(v6 ? AF_INET6 : AF_INET, host, buf) != 1)
		return -EINVAL;
	n = snprintf(csv + used, cap - used, v6 ? "%s[%s]:%u" : "%s%s:%u",
		     used ? "," : "", host, port);
	return n < 0 || (size_t)n >= cap - used ? -ENOSPC : 0;
}

static int servers_set(struct dns *d, const struct config_strv *sv,
		       char *err, size_t errlen)
{
	size_t cap = sv->n * 64 + 1;
	char *csv = calloc(1, cap);
	int rc = 0;

	if (!csv) {
		snprintf(err, errlen, "dns: out of memory");
		return -ENOMEM;
	}
	for (size_t i = 0; i < sv->n && !rc; i++) {
		rc = server_csv_add(csv, cap, sv->v[i]);
		if (rc)
			snprintf(err, errlen, "dns.servers: '%s' is not an IP, "
				 "IP:port or [IPv6]:port", sv->v[i]);
	}
	if (!rc) {
		rc = ares_set_servers_ports_csv(d->ch, csv);
		if (rc != ARES_SUCCESS) {
			snprintf(err, errlen, "dns.servers: c-ares refused "
				 "'%s': %s", csv, ares_strerror(rc));
			rc = -EINVAL;
		}
	}
	free(csv);
	return rc;
}

static int channel_open(struct dns *d, const struct config *cfg, char *err,
			size_t errlen)
{
	/* hosts file, then DNS. Shared by every thread's channel, and only
	 * read: ares_init_options() takes a copy (ares_strdup). */
	static char lookups[] = "fb";
	struct ares_options o;
	int mask, rc;

	memset(&o, 0, sizeof(o));
	o.sock_state_cb = on_sock_state;
	o.sock_state_cb_data = d;
	o.timeout = (int)(cfg->dns.timeout_ms ? cfg->dns.timeout_ms :
			  DNS_DEFAULT_TIMEOUT_MS);
	o.tries = (int)(cfg->dns.attempts ? cfg->dns.attempts :
			DNS_DEFAULT_ATTEMPTS);
	o.lookups = lookups;
	mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES |
	       ARES_OPT_LOOKUPS;
	/* Our own resolvers mean names are taken as given: no search list
	 * from resolv.conf turning "nx.test" into "nx.test.corp". */
	if (cfg->dns.servers.n) {
		o.ndomains = 0;
		mask |= ARES_OPT_DOMAINS;
	}
	d->query_deadline_ms = (uint64_t)o.timeout * (uint64_t)o.tries;
	rc = ares_init_options(&d->ch, &o, mask);
	if (rc != ARES_SUCCESS) {
		snprintf(err, errlen, "dns: c-ares init: %s",
			 ares_strerror(rc));
		return rc == ARES_ENOMEM ? -ENOMEM : -EINVAL;
	}
	ares_set_socket_functions(d->ch, &sock_funcs, d);
	/* Before any query, so resolv.conf's servers are never asked. */
	if (cfg->dns.servers.n) {
		rc = servers_set(d, &cfg->dns.servers, err, errlen);
		if (rc) {
			ares_destroy(d->ch);
			return rc;
		}
	}
	return 0;
}

struct dns *dns_new(struct loop *l, const struct config *cfg, char *err,
		    size_t errlen)
{
	const char *hosts = getenv("RINGFETCH_HOSTS_FILE");
	struct dns *d;
	int rc;

	pthread_mutex_lock(&lib_lock);
	rc = ares_library_init(ARES_LIB_INIT_ALL);
	pthread_mutex_unlock(&lib_lock);
	if (rc != ARES_SUCCESS) {
		snprintf(err, errlen, "dns: c-ares: %s", ares_strerror(rc));
		return NULL;
	}
	d = calloc(1, sizeof(*d));
	if (!d) {
		snprintf(err, errlen, "dns: out of memory");
		goto out_cleanup;
	}
	d->l = l;
	list_init(&d->ages);
	d->min_ttl_ms = cfg->dns.cache_min_ttl_ms;
	d->max_ttl_ms = cfg->dns.cache_max_ttl_ms;
	if (d->max_ttl_ms < d->min_ttl_ms)
		d->max_ttl_ms = d->min_ttl_ms;
	/* c-ares reads CARES_HOSTS only with ARES_AI_ENVHOSTS (deps.md 5).
	 * Set only when it differs: then the second resolver (another
	 * worker's) writes nothing while the first one's lookups read it. */
	if (hosts && *hosts) {
		const char *now;

		pthread_mutex_lock(&lib_lock);
		now = getenv("CARES_HOSTS");
		rc = now && strcmp(now, hosts) == 0 ? 0 :
		     setenv("CARES_HOSTS", hosts, 1) < 0 ? -errno : 0;
		pthread_mutex_unlock(&lib_lock);
		if (rc < 0) {
			snprintf(err, errlen, "dns: setenv: %s",
				 rf_strerror(-rc));
			goto out_free;
		}
		d->ai_flags |= ARES_AI_ENVHOSTS;
	}
	if (channel_open(d, cfg, err, errlen) < 0)
		goto out_free;
	return d;

out_free:
	free(d);
out_cleanup:
	pthread_mutex_lock(&lib_lock);
	ares_library_cleanup();
	pthread_mutex_unlock(&lib_lock);
	return NULL;
}

void dns_free(struct dns *d)
{
	struct dns_query *q;

	if (!d)
		return;
	d->closing = true;
	loop_timer_cancel(d->l, &d->ares_timer);
	loop_timer_cancel(d->l, &d->deliver_timer);
	/* Pending queries come back as ARES_EDESTRUCTION; sockets as 0,0. */
	while ((q = d->pending)) {
		loop_timer_cancel(d->l, &q->deadline);
		while (q->waiters)
			req_unlink(q->waiters);
		query_unlink(q);
		query_maybe_free(q);
	}
	while ((q = d->done)) {
		while (q->waiters)
			req_unlink(q->waiters);
		query_unlink(q);
		query_maybe_free(q);
	}
	ares_destroy(d->ch);
	cache_clear(d);
	for (struct dns_sock *s = d->socks, *next; s; s = next) {
		next = s->next;
		s->dead = true;
		sock_unpoll(s);
		if (!s->polling)
			sock_free(s);
	}
	if (!d->nsocks)
		dns_destroy(d);
}

/* --- lookups ----------------------------------------------------------- */

static bool literal_parse(const char *host, uint16_t port,
			  struct dns_addrs *out)
{
	struct dns_result rs = { .n = 1 };
	char buf[INET6_ADDRSTRLEN];
	size_t len = strlen(host);

	if (inet_pton(AF_INET, host, rs.ip[0].a) == 1) {
		rs.ip[0].family = AF_INET;
		addrs_fill(out, &rs, port);
		return true;
	}
	if (host[0] == '[' && len >= 2 && host[len - 1] == ']' &&
	    len - 2 < sizeof(buf)) {
		memcpy(buf, host + 1, len - 2);
		buf[len - 2] = '\0';
		host = buf;
	}
	if (inet_pton(AF_INET6, host, rs.ip[0].a) == 1) {
		rs.ip[0].family = AF_INET6;
		addrs_fill(out, &rs, port);
		return true;
	}
	return false;
}

static struct dns_query *query_new(struct dns *d, const char *name)
{
	size_t len = strlen(name);
	struct dns_query *q = calloc(1, sizeof(*q) + len + 1);

	if (!q)
		return NULL;
	q->d = d;
	memcpy(q->name, name, len + 1);
	return q;
}

/* A cached failure still goes through the callback, which carries the
 * sentence; it just skips c-ares. */
static int lookup_cached_failure(struct dns *d, struct dns_req *r,
				 const struct dns_entry *e, uint16_t port)
{
	struct dns_query *q = query_new(d, e->name);

	if (!q)
		return -ENOMEM;
	q->res = e->res;
	req_attach(q, r, port);
	query_finish(q);
	return -EINPROGRESS;
}

static int lookup_start(struct dns *d, struct dns_req *r, const char *name,
			uint16_t port)
{
	struct ares_addrinfo_hints hints;
	struct dns_query *q = d->pending;

	while (q && strcmp(q->name, name) != 0)
		q = q->next;
	if (q) {
		req_attach(q, r, port);
		return -EINPROGRESS;
	}
	q = query_new(d, name);
	if (!q)
		return -ENOMEM;
	query_link(&d->pending, q);
	req_attach(q, r, port);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_flags = d->ai_flags;
	d->stats.queries++;
	q->in_ares = true;
	q->fd_short_seq = d->fd_short_seq;
	/* May answer at once (hosts file); on_answer then queues delivery. */
	ares_getaddrinfo(d->ch, name, NULL, &hints, on_answer, q);
	if (!q->finished)
		loop_timer_arm(d->l, &q->deadline,
			       loop_now_ms(d->l) + d->query_deadline_ms,
			       on_deadline);
	ares_timer_update(d);
	return -EINPROGRESS;
}

int dns_lookup(struct dns *d, struct dns_req *r, const char *host,
	       uint16_t port, struct dns_addrs *out)
{
	char name[DNS_NAME_MAX + 1];
	struct dns_entry *e;
	size_t len;

	if (!host || !*host || r->q)
		return -EINVAL;
	if (literal_parse(host, port, out)) {
		d->stats.literals++;
		return 0;
	}
	len = strlen(host);
	if (len > DNS_NAME_MAX)
		return -EINVAL;
	for (size_t i = 0; i <= len; i++)
		name[i] = (char)(host[i] >= 'A' && host[i] <= 'Z' ?
				 host[i] - 'A' + 'a' : host[i]);
	d->stats.lookups++;
	e = cache_find(d, name);
	if (e) {
		d->stats.cache_hits++;
		if (e->res.err)
			return lookup_cached_failure(d, r, e, port);
		addrs_fill(out, &e->res, port);
		return 0;
	}
	return lookup_start(d, r, name, port);
}

void dns_cancel(struct dns *d, struct dns_req *r)
{
	(void)d;
	/* The query lives on: c-ares holds it, or on_deliver frees it. */
	if (r->q)
		req_unlink(r);
}

const struct dns_stats *dns_stats(const struct dns *d)
{
	return &d->stats;
}
