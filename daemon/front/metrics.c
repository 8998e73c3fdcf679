/* Prometheus metrics: render the page, serve it through the ring, write the
 * textfile. A scrape is one request and one answer on its own connection:
 * accept, receive the head, send the page, close. Each scraper holds one of
 * METRICS_CLIENTS_MAX fixed slots and at most one ring operation, so the
 * listener's memory is bounded and it can never slow the fetches down by
 * more than rendering a few kilobytes. */
#include "front/metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "config/config.h"
#include "net/dns.h"
#include "net/listener.h"
#include "net/workers.h"
#include "base/addr.h"
#include "base/err.h"
#include "base/fsutil.h"
#include "engine/job.h"
#include "base/log.h"
#include "event/loop.h"
#include "engine/sched.h"
#include "version.h"	/* generated: RF_VERSION */

#define METRICS_ACCEPT_RETRY_MS 1000	/* after EMFILE and the like */
#define METRICS_HEAD_MAX 256		/* status line and headers we send */

/* Upper bounds of the histogram buckets; +Inf follows. The text is what
 * the le label says, in seconds, so no float is ever formatted. */
static const uint32_t bucket_ms[] = {
	1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000,
};
static const char *const bucket_le[] = {
	"0.001", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5",
	"1", "2.5", "5", "10",
};
#define N_BUCKETS (sizeof(bucket_ms) / sizeof(bucket_ms[0]))

static const char *const phase_name[MP_COUNT] = {
	[MP_DNS] = "dns",
	[MP_CONNECT] = "connect",
	[MP_TLS] = "tls",
	[MP_TTFB] = "ttfb",
	[MP_TOTAL] = "total",
};

struct metrics_client {
	struct io_op op;		/* the one recv or send, while busy */
	struct timer deadline;		/* armed while the slot is in use */
	struct metrics *m;
	int fd;				/* -1 = free slot */
	bool busy;			/* op is in the ring */
	bool expired;			/* deadline passed: close when done */
	size_t req_len;			/* < METRICS_REQUEST_MAX */
	size_t sent;			/* of resp.len */
	struct buf resp;		/* the answer; empty while reading */
	char req[METRICS_REQUEST_MAX];	/* NUL-terminated request head */
};

struct histogram {
	uint64_t bucket[N_BUCKETS + 1];	/* not cumulative; last is > 10 s */
	uint64_t sum_ms, count;
};

struct metrics {
	struct loop *loop;
	struct sched *sched;		/* borrowed, outlives m */
	uint64_t t_start_ms;		/* loop clock at metrics_new() */
	struct listener ls;		/* ls.fd -1 = off */
	uint16_t port;
	unsigned inflight;		/* scraper ops in the ring; free at 0
					 * with ls idle */
	bool closing;			/* metrics_free() was called */
	char *textfile;			/* owned path, NULL = off */
	char *textfile_tmp;		/* owned "PATH.tmp.PID" */
	struct timer textfile_timer;
	bool textfile_failing;		/* warned; quiet until a success */
	struct buf page;		/* scratch for one rendering */
	struct histogram phase[MP_COUNT];
	uint64_t tls_resumptions;
	struct {
		int (*fn)(const void *arg, struct buf *out);
		const void *arg;
	} extra[METRICS_EXTRA_MAX];	/* producers' own families */
	unsigned n_extra;
	struct metrics_client clients[METRICS_CLIENTS_MAX];
};

/* ---- the page ---- */

/* A buffer that remembers its first error, so rendering reads as a list. */
struct page {
	struct buf *b;
	int err;
};

static void __attribute__((format(printf, 2, 3)))
pf(struct page *p, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;

	if (p->err)
		return;
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line)) {
		p->err = -EINVAL;	/* our bug: a line is never this long */
		return;
	}
	p->err = buf_append(p->b, line, (size_t)n);
}

static void head(struct page *p, const char *name, const char *type,
		 const char *help)
{
	pf(p, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void counter(struct page *p, const char *name, const char *help,
		    uint64_t v)
{
	head(p, name, "counter", help);
	pf(p, "%s %llu\n", name, (unsigned long long)v);
}

static void gauge(struct page *p, const char *name, const char *help,
		  uint64_t v)
{
	head(p, name, "gauge", help);
	pf(p, "%s %llu\n", name, (unsigned long long)v);
}

/* Milliseconds as seconds, exactly. */
static void put_seconds(struct page *p, uint64_t ms)
{
	pf(p, "%llu.%03llu\n", (unsigned long long)(ms / 1000),
	   (unsigned long long)(ms % 1000));
}

static void render_requests(struct page *p, const struct sched_stats *st)
{
	static const char name[] = "ringfetch_requests_total";

	head(p, name, "counter",
	     "Jobs finished, by result: ok or the record's error class.");
	pf(p, "%s{result=\"ok\"} %llu\n", name, (unsigned long long)st->ok);
	for (int e = RF_OK + 1; e < RF_ERR_COUNT; e++)
		pf(p, "%s{result=\"%s\"} %llu\n", name,
		   rf_err_name((enum rf_err)e),
		   (unsigned long long)st->failed_by[e]);
}

static void render_phases(struct page *p, const struct metrics *m)
{
	static const char name[] = "ringfetch_phase_duration_seconds";

	head(p, name, "histogram",
	     "Time spent in each phase of a job's final attempt.");
	for (int ph = 0; ph < MP_COUNT; ph++) {
		const struct histogram *h = &m->phase[ph];
		uint64_t cum = 0;

		for (size_t i = 0; i < N_BUCKETS; i++) {
			cum += h->bucket[i];
			pf(p, "%s_bucket{phase=\"%s\",le=\"%s\"} %llu\n", name,
			   phase_name[ph], bucket_le[i],
			   (unsigned long long)cum);
		}
		pf(p, "%s_bucket{phase=\"%s\",le=\"+Inf\"} %llu\n", name,
		   phase_name[ph], (unsigned long long)h->count);
		pf(p, "%s_sum{phase=\"%s\"} ", name, phase_name[ph]);
		put_seconds(p, h->sum_ms);
		pf(p, "%s_count{phase=\"%s\"} %llu\n", name, phase_name[ph],
		   (unsigned long long)h->count);
	}
}

static void render_dns(struct page *p, const struct sched *s)
{
	static const struct dns_stats none;
	struct dns_stats sum;
	const struct dns_stats *ds = s->dns ? dns_stats(s->dns) : &none;

	if (s->env.workers) {
		workers_dns_stats(s->env.workers, &sum);
		ds = &sum;
	}

	counter(p, "ringfetch_dns_lookups_total",
		"Name lookups asked of the resolver.", ds->lookups);
	counter(p, "ringfetch_dns_cache_hits_total",
		"Lookups answered from the cache.", ds->cache_hits);
	counter(p, "ringfetch_dns_queries_total",
		"Resolutions sent to DNS servers.", ds->queries);
	counter(p, "ringfetch_dns_failures_total",
		"Resolutions that ended in an error.", ds->failures);
	gauge(p, "ringfetch_dns_cache_entries", "Names in the DNS cache.",
	      ds->cache_entries);
}

int metrics_render(struct metrics *m, struct buf *out)
{
	struct sched_snapshot snap;
	const struct sched_stats *st = &snap.st;
	struct page p = { .b = out };

	sched_snapshot(m->sched, &snap);
	render_requests(&p, st);
	counter(&p, "ringfetch_jobs_accepted_total",
		"Jobs accepted into the queue.", st->accepted);
	counter(&p, "ringfetch_bytes_total",
		"Body bytes received by finished jobs.", st->bytes);
	counter(&p, "ringfetch_retries_total",
		"Attempts beyond each job's first.", st->retries);
	counter(&p, "ringfetch_jobs_retried_total",
		"Jobs that needed more than one attempt.", st->retried);
	counter(&p, "ringfetch_redirects_total", "Redirects followed.",
		st->redirects);
	gauge(&p, "ringfetch_in_flight", "Jobs holding a slot now.",
	      snap.in_flight);
	gauge(&p, "ringfetch_queued",
	      "Jobs waiting in the bounded queue, retries included.",
	      snap.queued + snap.retry_waiting);
	gauge(&p, "ringfetch_parked_jobs",
	      "Lines a batch crawl parked on disk (their host over its "
	      "share, or the queue full).", snap.parked);
	gauge(&p, "ringfetch_hosts_at_share",
	      "Hosts holding queue.host_share of the queue.",
	      snap.hosts_at_share);
	gauge(&p, "ringfetch_backoff",
	      "Of the queued jobs, those waiting to retry.",
	      snap.retry_waiting);
	counter(&p, "ringfetch_recv_pool_empty_total",
		"Receives that found the ring's buffer pool empty and were "
		"re-armed (0 on the per-connection fallback).",
		m->sched->env.workers ? workers_enobufs(m->sched->env.workers) :
		m->loop->bufs_on ? m->loop->bufs.enobufs : 0);
	gauge(&p, "ringfetch_workers",
	      "Worker rings (threads with an io_uring ring each) running "
	      "the connections (limits.workers); 1: the main thread's.",
	      workers_count(m->sched->env.workers));
	gauge(&p, "ringfetch_connections_open", "Connections open now.",
	      snap.conns.open);
	gauge(&p, "ringfetch_connections_idle",
	      "Open connections idle in the keep-alive pool.", snap.conns.idle);
	counter(&p, "ringfetch_connections_opened_total",
		"Connections opened.", snap.conns.opened);
	counter(&p, "ringfetch_connections_reused_total",
		"Requests sent on a pooled connection.", snap.conns.reused);
	counter(&p, "ringfetch_adaptive_cuts_total",
		"Times limits.adaptive cut a host's requests at once (429/503, "
		"slow answers).", snap.adaptive_cuts);
	counter(&p, "ringfetch_robots_fetches_total",
		"robots.txt fetches started (robots.obey), not jobs; the jobs "
		"robots.txt ended are requests_total with result robots.",
		snap.robots_fetches);
	gauge(&p, "ringfetch_robots_hosts_cached",
	      "Hosts whose robots.txt outcome is cached.", snap.robots_cached);
	counter(&p, "ringfetch_tls_resumptions_total",
		"Finished jobs whose final attempt resumed a TLS session.",
		m->tls_resumptions);
	render_dns(&p, m->sched);
	render_phases(&p, m);
	head(&p, "ringfetch_uptime_seconds", "gauge",
	     "Seconds since the metrics started.");
	pf(&p, "ringfetch_uptime_seconds ");
	put_seconds(&p, loop_now_ms(m->loop) - m->t_start_ms);
	head(&p, "ringfetch_build_info", "gauge",
	     "Always 1; the version and the commit are in the labels.");
	pf(&p, "ringfetch_build_info{version=\"%s\",commit=\"%s\"} 1\n",
	   RF_VERSION, RF_COMMIT);
	for (unsigned i = 0; i < m->n_extra && !p.err; i++)
		if (m->extra[i].fn(m->extra[i].arg, out) < 0)
			p.err = -ENOBUFS;
	return p.err;
}

int metrics_add_extra(struct metrics *m,
		      int (*fn)(const void *arg, struct buf *out),
		      const void *arg)
{
	if (m->n_extra == METRICS_EXTRA_MAX)
		return -ENOSPC;
	m->extra[m->n_extra].fn = fn;
	m->extra[m->n_extra++].arg = arg;
	return 0;
}

void metrics_observe(struct metrics *m, const struct job *j)
{
	const uint32_t ms[MP_COUNT] = {
		[MP_DNS] = j->ms_dns,
		[MP_CONNECT] = j->ms_connect,
		[MP_TLS] = j->ms_tls,
		[MP_TTFB] = j->ms_ttfb,
		[MP_TOTAL] = j->ms_total,
	};

	if (!m)
		return;
	for (int ph = 0; ph < MP_COUNT; ph++) {
		struct histogram *h = &m->phase[ph];
		size_t i = 0;

		if (ph != MP_TOTAL && ms[ph] == 0)
			continue;
		while (i < N_BUCKETS && ms[ph] > bucket_ms[i])
			i++;
		h->bucket[i]++;
		h->sum_ms += ms[ph];
		h->count++;
	}
	if (j->tls_resumed)
		m->tls_resumptions++;
}

/* ---- the textfile ---- */

/* A plain write(): a few kilobytes every few seconds to a local file, off
 * the fetch path, costs less than the ring plumbing it would take. No
 * fsync either: after a crash a stale or missing file is harmless, the
 * next rewrite replaces it. */
int metrics_write_textfile(struct metrics *m)
{
	int fd, rc;

	if (!m->textfile)
		return 0;
	buf_reset(&m->page);
	rc = metrics_render(m, &m->page);
	if (rc < 0)
		return rc;
	fd = open(m->textfile_tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		  0644);
	if (fd < 0)
		return -errno;
	rc = fs_write_all(fd, m->page.p, m->page.len, NULL);
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(m->textfile_tmp, m->textfile) < 0)
		rc = -errno;
	if (rc < 0)
		unlink(m->textfile_tmp);
	return rc;
}

static void on_textfile_timer(struct timer *t)
{
	struct metrics *m = container_of(t, struct metrics, textfile_timer);
	int rc = metrics_write_textfile(m);

	if (rc < 0 && !m->textfile_failing)
		log_warn("metrics.textfile %s: cannot write: %s", m->textfile,
			 strerror(-rc));
	else if (rc == 0 && m->textfile_failing)
		log_info("metrics.textfile %s: written again", m->textfile);
	m->textfile_failing = rc < 0;
	loop_timer_arm(m->loop, t,
		       loop_now_ms(m->loop) + METRICS_TEXTFILE_PERIOD_MS,
		       on_textfile_timer);
}

/* ---- scrapers ---- */

static void free_now(struct metrics *m)
{
	listener_fini(&m->ls);
	buf_fini(&m->page);
	free(m->textfile);
	free(m->textfile_tmp);
	free(m);
}

/* After a completion while closing: the last one frees m. */
static void maybe_free(struct metrics *m)
{
	if (m->closing && m->inflight == 0 && listener_idle(&m->ls))
		free_now(m);
}

static void client_close(struct metrics_client *c)
{
	struct loop *l = c->m->loop;

	loop_timer_cancel(l, &c->deadline);
	if (c->fd >= 0)
		io_uring_prep_close(loop_sqe_noop(l), c->fd);
	c->fd = -1;
	c->expired = false;
	buf_fini(&c->resp);
}

/* Take the client's operation back from the ring: its completion comes
 * with -ECANCELED (or its result, if it won the race). */
static void client_cancel(struct metrics_client *c)
{
	io_uring_prep_cancel(loop_sqe_noop(c->m->loop), &c->op, 0);
}

static void on_deadline(struct timer *t)
{
	struct metrics_client *c =
		container_of(t, struct metrics_client, deadline);

	if (c->busy) {
		c->expired = true;
		client_cancel(c);
	} else {
		client_close(c);
	}
}

static void on_recv(struct io_op *op, int res, unsigned flags);
static void on_send(struct io_op *op, int res, unsigned flags);

static void client_submit(struct metrics_client *c, io_done_fn done)
{
	struct io_uring_sqe *sqe;

	c->op.done = done;
	sqe = loop_sqe(c->m->loop, &c->op);
	if (done == on_recv)
		io_uring_prep_recv(sqe, c->fd, c->req + c->req_len,
				   sizeof(c->req) - 1 - c->req_len, 0);
	else
		io_uring_prep_send(sqe, c->fd, c->resp.p + c->sent,
				   c->resp.len - c->sent, MSG_NOSIGNAL);
	c->busy = true;
	c->m->inflight++;
}

/* Bookkeeping common to both completions. Returns whether the client goes
 * on; when not, it is closed and m may be gone. */
static bool client_done(struct metrics_client *c, int res)
{
	struct metrics *m = c->m;

	c->busy = false;
	m->inflight--;
	if (m->closing || c->expired || res <= 0) {
		client_close(c);
		maybe_free(m);
		return false;
	}
	return true;
}

static const char *reason(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 431:
		return "Request Header Fields Too Large";
	default:
		return "Internal Server Error";
	}
}

/* The HTTP status for the request head in c->req (full: it ended within
 * METRICS_REQUEST_MAX); for 200 the page is left in m->page. */
static int request_status(struct metrics_client *c, bool full)
{
	char method[16], target[256], version[16];
	bool get, head_only;

	if (!full)
		return 431;
	if (sscanf(c->req, "%15s %255s %15s", method, target, version) != 3 ||
	    strncmp(version, "HTTP/", 5) != 0)
		return 400;
	target[strcspn(target, "?")] = '\0';
	get = strcmp(method, "GET") == 0;
	head_only = strcmp(method, "HEAD") == 0;
	if (strcmp(target, "/metrics") != 0)
		return 404;
	if (!get && !head_only)
		return 405;
	buf_reset(&c->m->page);
	return metrics_render(c->m, &c->m->page) < 0 ? 500 : 200;
}

/* Fill c->resp for status; the body (the page, or the reason) follows
 * unless the request was HEAD. */
static int respond(struct metrics_client *c, int status)
{
	const struct buf *page = &c->m->page;
	const char *body = status == 200 ? page->p : reason(status);
	size_t len = status == 200 ? page->len : strlen(body);
	int rc;

	buf_init(&c->resp, METRICS_HEAD_MAX + len);
	rc = buf_printf(&c->resp, "HTTP/1.1 %d %s\r\n"
			"Content-Type: text/plain; %scharset=utf-8\r\n"
			"Content-Length: %zu\r\n%s"
			"Connection: close\r\n\r\n", status, reason(status),
			status == 200 ? "version=0.0.4; " : "", len,
			status == 405 ? "Allow: GET, HEAD\r\n" : "");
	if (rc == 0 && strncmp(c->req, "HEAD ", 5) != 0)
		rc = buf_append(&c->resp, body, len);
	return rc;
}

static void on_recv(struct io_op *op, int res, unsigned flags)
{
	struct metrics_client *c = container_of(op, struct metrics_client, op);
	bool full;

	(void)flags;
	if (!client_done(c, res))
		return;
	c->req_len += (size_t)res;
	c->req[c->req_len] = '\0';
	full = strstr(c->req, "\r\n\r\n") || strstr(c->req, "\n\n");
	if (!full && c->req_len < sizeof(c->req) - 1) {
		client_submit(c, on_recv);
		return;
	}
	if (respond(c, request_status(c, full)) < 0) {
		client_close(c);
		return;
	}
	c->sent = 0;
	client_submit(c, on_send);
}

static void on_send(struct io_op *op, int res, unsigned flags)
{
	struct metrics_client *c = container_of(op, struct metrics_client, op);

	(void)flags;
	if (!client_done(c, res))
		return;
	c->sent += (size_t)res;
	if (c->sent < c->resp.len)
		client_submit(c, on_send);	/* short send: the rest */
	else
		client_close(c);		/* one answer per connection */
}

/* A new scraper on fd: a free slot, or closed at once when there is none. */
static void client_open(struct metrics *m, int fd)
{
	struct metrics_client *c = NULL;

	for (size_t i = 0; i < METRICS_CLIENTS_MAX && !c; i++)
		if (m->clients[i].fd < 0)
			c = &m->clients[i];
	if (!c) {
		io_uring_prep_close(loop_sqe_noop(m->loop), fd);
		return;
	}
	/* Without its deadline a silent scraper would keep the slot. */
	loop_timer_arm(m->loop, &c->deadline,
		       loop_now_ms(m->loop) + METRICS_CLIENT_TIMEOUT_MS,
		       on_deadline);
	c->fd = fd;
	c->req_len = 0;
	c->req[0] = '\0';
	buf_init(&c->resp, 0);
	client_submit(c, on_recv);
}

static void on_conn(struct listener *ls, int fd)
{
	client_open(container_of(ls, struct metrics, ls), fd);
}

static void on_listener_idle(struct listener *ls)
{
	maybe_free(container_of(ls, struct metrics, ls));
}

/* ---- life cycle ---- */

static int bind_one(const struct addrinfo *ai, int *fd_out)
{
	int one = 1;
	int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
			ai->ai_protocol);

	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 ||
	    listen(fd, METRICS_CLIENTS_MAX * 4) < 0) {
		int rc = -errno;

		close(fd);
		return rc;
	}
	*fd_out = fd;
	return 0;
}

static int open_listener(struct metrics *m, const char *text, char *err,
			 size_t errlen)
{
	struct addrinfo hints = {
		.ai_family = AF_UNSPEC,
		.ai_socktype = SOCK_STREAM,
		.ai_flags = AI_PASSIVE | AI_NUMERICSERV,
	};
	struct addrinfo *res, *ai;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[320], port[8];
	uint16_t portnum;
	int rc = -EINVAL, gai, fd = -1;

	if (addr_split_hostport(text, host, sizeof(host), &portnum,
				false) < 0) {
		snprintf(err, errlen, "metrics.listen '%s': expected HOST:PORT",
			 text);
		return -EINVAL;
	}
	snprintf(port, sizeof(port), "%u", portnum);
	/* "*" means every address */
	gai = getaddrinfo(strcmp(host, "*") ? host : NULL, port, &hints, &res);
	if (gai) {
		snprintf(err, errlen, "metrics.listen '%s': %s", text,
			 gai_strerror(gai));
		return -EINVAL;
	}
	for (ai = res; ai && fd < 0; ai = ai->ai_next)
		rc = bind_one(ai, &fd);
	freeaddrinfo(res);
	if (fd < 0) {
		snprintf(err, errlen, "metrics.listen '%s': %s", text,
			 strerror(-rc));
		return rc;
	}
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
		m->port = ntohs(ss.ss_family == AF_INET6 ?
				((struct sockaddr_in6 *)&ss)->sin6_port :
				((struct sockaddr_in *)&ss)->sin_port);
	listener_init(&m->ls, m->loop, fd, "metrics.listen",
		      METRICS_ACCEPT_RETRY_MS, on_conn);
	m->ls.on_idle = on_listener_idle;
	return 0;
}

static int open_textfile(struct metrics *m, const char *path, char *err,
			 size_t errlen)
{
	int rc;

	m->textfile = strdup(path);
	if (m->textfile && asprintf(&m->textfile_tmp, "%s.tmp.%ld", path,
				    (long)getpid()) < 0)
		m->textfile_tmp = NULL;
	if (!m->textfile || !m->textfile_tmp) {
		snprintf(err, errlen, "metrics: out of memory");
		return -ENOMEM;
	}
	rc = metrics_write_textfile(m);
	if (rc < 0) {
		snprintf(err, errlen, "metrics.textfile %s: cannot write: %s",
			 path, strerror(-rc));
		return rc;
	}
	loop_timer_arm(m->loop, &m->textfile_timer,
		       loop_now_ms(m->loop) + METRICS_TEXTFILE_PERIOD_MS,
		       on_textfile_timer);
	return 0;
}

struct metrics *metrics_new(struct loop *l, struct sched *s,
			    const struct config *cfg, char *err,
			    size_t errlen)
{
	struct metrics *m = calloc(1, sizeof(*m));

	if (!m) {
		snprintf(err, errlen, "metrics: out of memory");
		return NULL;
	}
	m->loop = l;
	m->sched = s;
	m->t_start_ms = loop_now_ms(l);
	m->ls.fd = -1;
	buf_init(&m->page, METRICS_PAGE_MAX);
	for (size_t i = 0; i < METRICS_CLIENTS_MAX; i++) {
		m->clients[i].m = m;
		m->clients[i].fd = -1;
	}
	if (cfg->metrics.textfile && cfg->metrics.textfile[0] &&
	    open_textfile(m, cfg->metrics.textfile, err, errlen) < 0)
		goto out_free;
	if (cfg->metrics.listen && cfg->metrics.listen[0] &&
	    open_listener(m, cfg->metrics.listen, err, errlen) < 0)
		goto out_free;
	return m;

out_free:
	loop_timer_cancel(l, &m->textfile_timer);
	free_now(m);
	return NULL;
}

uint16_t metrics_port(const struct metrics *m)
{
	return m->port;
}

void metrics_free(struct metrics *m)
{
	int rc;

	if (!m)
		return;
	rc = metrics_write_textfile(m);
	if (rc < 0)
		log_warn("metrics.textfile %s: cannot write: %s", m->textfile,
			 strerror(-rc));
	m->closing = true;
	loop_timer_cancel(m->loop, &m->textfile_timer);
	if (m->ls.fd >= 0)
		listener_close(&m->ls);
	for (size_t i = 0; i < METRICS_CLIENTS_MAX; i++) {
		struct metrics_client *c = &m->clients[i];

		if (c->busy)
			client_cancel(c);
		else if (c->fd >= 0)
			client_close(c);
	}
	maybe_free(m);
}
