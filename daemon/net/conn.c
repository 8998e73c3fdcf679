/* One connection's state machine. Every socket operation is an SQE; every
 * timeout is the conn's single timer, re-armed on each state change, so a
 * timeout enters through conn_on_timer() rather than through each handler.
 * A conn is never freed with an SQE in flight: teardown cancels them and
 * frees on the last completion. Bytes leave through flush_out() and arrive
 * in on_recv(), TLS or not; for https, tls.c turns them into the plain
 * bytes the HTTP codec sees. */
#include "net/conn.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "http/proxy.h"
#include "net/tls.h"

/* What a lookup of a proxied conn is for. */
enum { DNS_DIRECT = 0, DNS_TARGET, DNS_PROXY };

static const char *const cs_name[CS_COUNT] = {
	"resolve", "connect", "proxy", "tls", "send", "recv", "idle",
	"closing",
};

static void conn_on_timer(struct timer *t);
static void on_connect(struct io_op *op, int res, unsigned flags);
static void on_send(struct io_op *op, int res, unsigned flags);
static void on_recv(struct io_op *op, int res, unsigned flags);
static void on_dns(struct dns_req *r, int err, const char *detail,
		   const struct dns_addrs *a);
static void teardown(struct conn *c);

static uint32_t ms_since(const struct conn *c, uint64_t t)
{
	uint64_t now = loop_now_ms(c->env->loop);

	return now > t ? (uint32_t)(now - t) : 0;
}

/* Arm the phase timer: phase_ms from now, or the request's deadline if
 * sooner. */
static void arm_phase(struct conn *c, uint64_t phase_ms)
{
	uint64_t at = loop_now_ms(c->env->loop) + phase_ms;
	uint64_t deadline = c->req.owner ? c->req.deadline_ms : 0;

	c->deadline_bound = false;
	if (deadline && deadline <= at) {
		at = deadline;
		c->deadline_bound = true;
	}
	loop_timer_arm(c->env->loop, &c->timer, at, conn_on_timer);
}

/* The only writer of c->state; it also counts the idle conns. */
static void conn_enter(struct conn *c, enum conn_state to)
{
	const struct config *cfg = c->env->cfg;

	log_debug("conn fd=%d ip=%s %s -> %s", c->fd, c->ip,
		  cs_name[c->state], cs_name[to]);
	if (c->state == CS_IDLE)
		c->env->counters->idle--;
	if (to == CS_IDLE)
		c->env->counters->idle++;
	c->state = to;
	c->t_phase_ms = loop_now_ms(c->env->loop);
	switch (to) {
	case CS_RESOLVE:
		arm_phase(c, UINT32_MAX);
		break;
	case CS_CONNECT:
	case CS_PROXY:
		arm_phase(c, cfg->timeouts.connect_ms);
		break;
	case CS_TLS:
		arm_phase(c, cfg->timeouts.tls_ms);
		break;
	case CS_SEND:
	case CS_RECV:
		arm_phase(c, cfg->timeouts.first_byte_ms);
		break;
	case CS_IDLE:
		c->deadline_bound = false;
		loop_timer_arm(c->env->loop, &c->timer,
			       c->t_phase_ms + cfg->http.keepalive_idle_ms,
			       conn_on_timer);
		break;
	default:
		loop_timer_cancel(c->env->loop, &c->timer);
		break;
	}
}

static void peer_text(const struct sockaddr_storage *ss, char *out, size_t n)
{
	const void *a;

	if (ss->ss_family == AF_INET6)
		a = &((const struct sockaddr_in6 *)ss)->sin6_addr;
	else
		a = &((const struct sockaddr_in *)ss)->sin_addr;
	if (!inet_ntop(ss->ss_family, a, out, (socklen_t)n))
		out[0] = '\0';
}

static void report_tls(const struct conn *c, struct conn_result *r)
{
	r->tls_used = c->tls && c->tls->handshake_done;
	r->tls_resumed = r->tls_used && tls_resumed(c->tls);
	r->tls_version = r->tls_used ? tls_version(c->tls) : "";
	r->tls_cipher = r->tls_used ? tls_cipher(c->tls) : "";
}

/* The owner's body sink for the response to the n request bytes at req:
 * decoded pieces go through resp.on_body, raw bytes through resp_feed(). */
static void sink_start(struct conn *c, const char *req, size_t n)
{
	memset(&c->sink, 0, sizeof(c->sink));
	if (c->env->sink_start)
		c->env->sink_start(c->env, c->req.owner, req, n, &c->sink);
	if (c->sink.arg && c->sink.body) {
		c->resp->on_body = c->sink.body;
		c->resp->body_arg = c->sink.arg;
	}
}

/* Hand the attempt's outcome (err, and res.detail) to the owner; the
 * request leaves this conn, with the slot when give_slot. Returns the
 * owner's answer: whether it pooled c. */
static bool report(struct conn *c, enum rf_err err, bool give_slot)
{
	struct conn_result *r = &c->res;
	void *owner = c->req.owner;

	if (!owner)
		return false;
	r->err = err;
	r->status = c->resp->status;
	r->bytes = c->resp->body_bytes;
	r->content_type = c->resp->content_type;
	r->wire_bytes = c->resp->wire_bytes;
	r->content_encoding = c->resp->content_encoding;
	r->etag = c->resp->etag;
	r->last_modified = c->resp->last_modified;
	r->ip = c->ip;
	r->ms_total = ms_since(c, c->t_attempt_ms);
	report_tls(c, r);
	if (c->resp->rx_bytes == 0)
		r->ms_ttfb = 0;
	r->location = c->resp->location;
	r->retry_after = c->resp->retry_after;
	/* A pooled conn that died before answering was closed by the peer
	 * while idle: that try does not count as an attempt. */
	r->retry_free = err == RF_RESET && c->reused && c->resp->rx_bytes == 0;
	r->sink = c->sink.arg;
	memset(&c->sink, 0, sizeof(c->sink));
	c->resp->on_body = NULL;
	c->resp->body_arg = NULL;
	r->slot.home = NULL;
	if (give_slot) {
		r->slot = c->slot;
		c->slot.home = NULL;
	}
	r->conn = c;
	c->req.owner = NULL;
	return c->env->done(c->env, owner, r);
}

static void fail(struct conn *c, enum rf_err err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void fail(struct conn *c, enum rf_err err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->res.detail, sizeof(c->res.detail), fmt, ap);
	va_end(ap);
	report(c, err, false);
	teardown(c);
}

void conn_abort(struct conn *c, int err, const char *detail)
{
	fail(c, (enum rf_err)err, "%s", detail);
}

void conn_detach(struct conn *c, struct slot *slot, void **sink)
{
	*slot = c->slot;
	*sink = c->sink.arg;
	c->slot.home = NULL;
	memset(&c->sink, 0, sizeof(c->sink));
	c->resp->on_body = NULL;
	c->resp->body_arg = NULL;
	c->req.owner = NULL;
	teardown(c);
}

static struct conn *conn_new(struct conn_env *env, void *home)
{
	struct conn *c = env->spare;

	if (c) {
		env->spare = c->spare_next;
		env->n_spare--;
	} else if (!(c = malloc(sizeof(*c) + sizeof(struct http_resp)))) {
		return NULL;
	}
	/* resp lives right after c and keeps header values that need no
	 * clearing (8 KiB of them). */
	memset(c, 0, sizeof(*c));
	c->resp = (struct http_resp *)(c + 1);
	http_resp_init(c->resp, 0, false);
	c->fd = -1;
	c->env = env;
	c->home = home;
	c->op_connect.done = on_connect;
	c->op_send.done = on_send;
	c->op_recv.done = on_recv;
	c->dns.cb = on_dns;
	env->counters->open++;
	env->counters->opened++;
	return c;
}

static void conn_free(struct conn *c)
{
	struct conn_env *env = c->env;

	assert(!c->req.owner && !c->sink.arg);
	if (c->fd >= 0)
		io_uring_prep_close(loop_sqe_noop(env->loop), c->fd);
	env->counters->open--;
	env->closed(env, c);
	http_resp_fini(c->resp);
	tls_free(c->tls);
	free(c->wbuf);
	free(c->rbuf);
	c->wbuf = c->rbuf = NULL;
	/* Keep it: a conn freed at every close leaves holes that the heap
	 * splits for other objects, and the next conn lands on pages never
	 * touched before, so RSS creeps up for as long as the daemon runs
	 * (docs/soak.csv). Kept conns are the same pages each time. */
	if (env->n_spare < (env->spare_cap ? env->spare_cap :
			    env->cfg->limits.concurrency)) {
		c->spare_next = env->spare;
		env->spare = c;
		env->n_spare++;
		return;
	}
	free(c);
}

void conn_env_fini(struct conn_env *env)
{
	struct conn *c;

	while ((c = env->spare)) {
		env->spare = c->spare_next;
		free(c);
	}
	env->n_spare = 0;
}

/* Bytes waiting to leave: TLS records, or the rest of the plain request. */
static const char *out_pending(struct conn *c, size_t *len)
{
	if (c->tls)
		return tls_out(c->tls, len);
	*len = c->wlen - c->woff;
	return *len ? c->wbuf + c->woff : NULL;
}

/* Make the n bytes at p the plain output (a request or a proxy message),
 * in a buffer held only until they are sent. Returns 0 or -ENOMEM. */
static int wbuf_set(struct conn *c, const char *p, size_t n)
{
	char *w = malloc(n);

	if (!w)
		return -ENOMEM;
	memcpy(w, p, n);
	free(c->wbuf);
	c->wbuf = w;
	c->wlen = n;
	c->woff = 0;
	return 0;
}

/* Every plain byte left: an idle or waiting conn keeps no send buffer. */
static void wbuf_sent(struct conn *c, size_t n)
{
	c->woff += n;
	if (c->woff < c->wlen)
		return;
	free(c->wbuf);
	c->wbuf = NULL;
	c->wlen = c->woff = 0;
}

/* Send what is pending. One send at a time: its completion sends the
 * rest, and TLS output only grows while a send points into it. */
static void flush_out(struct conn *c)
{
	struct io_uring_sqe *sqe;
	const char *p;
	size_t len;

	if (c->send_armed)
		return;
	p = out_pending(c, &len);
	if (len == 0)
		return;
	sqe = loop_sqe(c->env->loop, &c->op_send);
	io_uring_prep_send(sqe, c->fd, p, len, MSG_NOSIGNAL);
	c->inflight++;
	c->send_armed = true;
}

/* Cancel what is in flight; the last completion frees c. A TLS conn closed
 * while idle says close_notify first: nobody waits on it then. */
static void teardown_notify(struct conn *c, bool notify)
{
	struct io_op *const ops[] = { &c->op_connect, &c->op_send,
				      &c->op_recv };

	if (c->state == CS_CLOSING)
		return;
	if (c->state == CS_RESOLVE)
		dns_cancel(c->env->dns, &c->dns);
	if (notify && c->tls && c->state == CS_IDLE && !c->send_armed) {
		tls_close_notify(c->tls);
		flush_out(c);	/* issued before the cancel below */
	}
	conn_enter(c, CS_CLOSING);
	if (c->inflight == 0) {
		conn_free(c);
		return;
	}
	loop_cancel_fd(c->env->loop, c->fd, ops, 3);
}

static void teardown(struct conn *c)
{
	teardown_notify(c, false);
}

/* A completion arrived during teardown: free on the last one. */
static bool closing(struct conn *c)
{
	if (c->state != CS_CLOSING)
		return false;
	if (c->inflight == 0)
		conn_free(c);
	return true;
}

/* The start of every send and receive completion: one SQE fewer in
 * flight, the op no longer armed. Returns false when c is closing (and
 * maybe freed): the completion then does nothing more. */
static bool op_landed(struct conn *c, bool *armed)
{
	c->inflight--;
	*armed = false;
	return !closing(c);
}

static void close_idle(struct conn *c, bool notify)
{
	assert(c->state == CS_IDLE);
	c->env->idle_closing(c->env, c);
	teardown_notify(c, notify);
}

void conn_close_idle(struct conn *c)
{
	close_idle(c, true);
}

static void conn_on_timer(struct timer *t)
{
	struct conn *c = container_of(t, struct conn, timer);
	const struct config *cfg = c->env->cfg;

	if (c->state == CS_IDLE) {
		conn_close_idle(c);
		return;
	}
	if (c->deadline_bound) {
		fail(c, RF_DEADLINE, "timeouts.total (%llu ms) passed while in %s",
		     (unsigned long long)cfg->timeouts.total_ms,
		     cs_name[c->state]);
		return;
	}
	switch (c->state) {
	case CS_CONNECT:
		fail(c, c->proxied ? RF_PROXY : RF_CONNECT_TIMEOUT,
		     "connect to %s%s timed out after %llu ms",
		     c->proxied ? "the proxy " : "", c->ip,
		     (unsigned long long)cfg->timeouts.connect_ms);
		break;
	case CS_PROXY:
		fail(c, RF_PROXY, "proxy %s did not finish its handshake "
		     "within timeouts.connect (%llu ms)", c->ip,
		     (unsigned long long)cfg->timeouts.connect_ms);
		break;
	case CS_TLS:
		fail(c, RF_TLS_HANDSHAKE, "TLS handshake not finished within timeouts.tls (%llu ms)",
		     (unsigned long long)cfg->timeouts.tls_ms);
		break;
	case CS_SEND:
	case CS_RECV:
		if (c->resp->rx_bytes == 0)
			fail(c, RF_TIMEOUT, "no response within timeouts.first_byte (%llu ms)",
			     (unsigned long long)cfg->timeouts.first_byte_ms);
		else
			fail(c, RF_TIMEOUT, "no data for timeouts.idle (%llu ms) after %llu bytes",
			     (unsigned long long)cfg->timeouts.idle_ms,
			     (unsigned long long)c->resp->rx_bytes);
		break;
	default:
		fail(c, RF_DEADLINE, "timed out in state %s", cs_name[c->state]);
		break;
	}
}

/* Per-conn buffers: a single-shot recv into rbuf, which must be there. A
 * proxy's answer may come in pieces: they are kept together. */
static void arm_recv_rbuf(struct conn *c)
{
	struct io_uring_sqe *sqe = loop_sqe(c->env->loop, &c->op_recv);

	io_uring_prep_recv(sqe, c->fd, c->rbuf + c->pin, CONN_RBUF - c->pin, 0);
	c->inflight++;
	c->recv_armed = true;
}

/* Arm the receive unless one is armed; it stays armed while the conn is
 * open, idle too, to notice the peer's close. With the ring's buffers it
 * is one multishot recv for the conn's life (re-armed only when the
 * kernel ends it). Without them, an idle conn, or one whose buffer cannot
 * be had now, waits in a poll holding no buffer. For TLS, call it only
 * once every fed byte is consumed: per-conn buffers are written over. */
static void arm_recv(struct conn *c)
{
	struct loop *l = c->env->loop;
	struct io_uring_sqe *sqe;

	if (c->recv_armed)
		return;
	if (l->bufs_on) {
		sqe = loop_sqe(l, &c->op_recv);
		bufpool_prep_recv(&l->bufs, sqe, c->fd);
	} else if (c->state != CS_IDLE &&
		   (c->rbuf || (c->rbuf = malloc(CONN_RBUF)))) {
		arm_recv_rbuf(c);
		return;
	} else {
		free(c->rbuf);
		c->rbuf = NULL;
		sqe = loop_sqe(l, &c->op_recv);
		io_uring_prep_poll_add(sqe, c->fd, POLLIN);
		c->recv_poll = true;
	}
	c->inflight++;
	c->recv_armed = true;
}

/* Build the request and send it (for TLS, as records after the
 * handshake's last flight). Returns 0, or -1 when c failed. */
static int start_request(struct conn *c)
{
	const struct conn_req *rq = &c->req;
	const struct config *cfg = c->env->cfg;
	char req[CONN_WBUF];	/* only plain output outlives the call */
	int n;

	struct http_req_opts o = {
		.user_agent = cfg->http.user_agent,
		.accept_encoding = cfg->http.decode ? DECODE_ACCEPT : NULL,
		.cfg_headers = cfg->http.headers,
		.n_cfg = cfg->http.n_headers,
		.job_headers = rq->headers,
		.n_job = rq->n_headers,
	};

	if (c->proxied && c->env->proxy->kind == PROXY_HTTP &&
	    !rq->url->https) {
		o.absolute_form = true;
		if (c->env->proxy->auth_b64[0])
			o.proxy_auth_b64 = c->env->proxy->auth_b64;
	}
	n = http_build_request(req, sizeof(req), rq->url, &o);
	if (n < 0) {
		fail(c, RF_INVALID_URL, n == -ENOSPC ?
		     "request does not fit in %zu bytes" :
		     "a request header holds CR or LF (request of %zu bytes max)",
		     sizeof(req));
		return -1;
	}
	if (!c->tls && wbuf_set(c, req, (size_t)n) < 0) {
		fail(c, RF_CONNECT, "out of memory for the request");
		return -1;
	}
	if (c->tls) {
		if (tls_write(c->tls, req, (size_t)n) < 0) {
			fail(c, RF_TLS_HANDSHAKE,
			     "cannot encrypt the request: %s",
			     c->tls->detail[0] ? c->tls->detail :
			     "it does not fit the TLS output");
			return -1;
		}
	}
	http_resp_init(c->resp, cfg->http.max_body, false);
	c->resp->decode = cfg->http.decode;
	c->resp->no_hash = cfg->output.hash == HASH_NONE;
	sink_start(c, req, (size_t)n);
	flush_out(c);
	conn_enter(c, CS_SEND);
	return 0;
}

static void try_connect(struct conn *c)
{
	struct sockaddr_storage *ss = &c->addrs.addr[c->addr_i];
	struct io_uring_sqe *sqe;
	socklen_t len = ss->ss_family == AF_INET6 ?
		sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
	int one = 1;

	peer_text(ss, c->ip, sizeof(c->ip));
	c->fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		       0);
	if (c->fd < 0) {
		c->res.local_shortage = errno == EMFILE || errno == ENFILE;
		fail(c, RF_CONNECT, "socket: %s", rf_strerror(errno));
		return;
	}
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	sqe = loop_sqe(c->env->loop, &c->op_connect);
	io_uring_prep_connect(sqe, c->fd, (struct sockaddr *)ss, len);
	c->inflight++;
	conn_enter(c, CS_CONNECT);
}

/* Drop the addresses network.deny forbids (checked on every resolution,
 * so every redirect hop too). Returns false when none is left: c failed. */
static bool guard_addrs(struct conn *c)
{
	char first[48] = "";
	unsigned n = 0;

	for (unsigned i = 0; i < c->addrs.n; i++) {
		struct sockaddr_storage *ss = &c->addrs.addr[i];

		if (netguard_blocks(c->env->guard, (struct sockaddr *)ss)) {
			if (!first[0])
				peer_text(ss, first, sizeof(first));
			continue;
		}
		c->addrs.addr[n++] = *ss;
	}
	c->addrs.n = n;
	if (n == 0) {
		fail(c, RF_BLOCKED_ADDRESS, "address %s of '%s' is in "
		     "network.deny", first, c->dns_phase == DNS_PROXY ?
		     c->env->proxy->host : c->req.url->host);
		return false;
	}
	return true;
}

/* Connect to the first address left. Under socks5 the target's addresses
 * passed network.deny already and the proxy's own is not checked; through
 * an http:// or socks5h proxy, the proxy's address is what deny sees. */
static void start_connect(struct conn *c)
{
	bool guard = !c->proxied || c->env->proxy->kind != PROXY_SOCKS5;

	if (guard && !guard_addrs(c))
		return;
	c->addr_i = 0;
	c->t_start_ms = loop_now_ms(c->env->loop);
	try_connect(c);
}

static void resolved(struct conn *c);

/* Look up what comes next: the URL's host directly; through a proxy, the
 * target here first when socks5 sends its address (or the host is an IP
 * literal, which network.deny checks), then the proxy. */
static void start_resolve(struct conn *c)
{
	const struct url *u = c->req.url;
	const struct proxy *p = c->env->proxy;
	const char *host = u->host;
	uint16_t port = u->port;
	int rc;

	if (!c->proxied) {
		c->dns_phase = DNS_DIRECT;
	} else if (c->dns_phase == DNS_DIRECT &&
		   (p->kind == PROXY_SOCKS5 || u->ip_literal)) {
		c->dns_phase = DNS_TARGET;
	} else {
		c->dns_phase = DNS_PROXY;
		host = p->host;
		port = p->port;
	}
	rc = dns_lookup(c->env->dns, &c->dns, host, port, &c->addrs);
	if (rc == -EINPROGRESS)
		return;
	if (rc < 0) {
		fail(c, c->dns_phase == DNS_PROXY ? RF_PROXY : RF_DNS,
		     "cannot resolve %s'%s': %s", c->dns_phase == DNS_PROXY ?
		     "the proxy " : "", host, rf_strerror(-rc));
		return;
	}
	resolved(c);
}

static void resolved(struct conn *c)
{
	if (c->dns_phase != DNS_TARGET) {
		start_connect(c);
		return;
	}
	if (!guard_addrs(c))
		return;
	c->target = c->addrs.addr[0];
	start_resolve(c);
}

static void on_dns(struct dns_req *r, int err, const char *detail,
		   const struct dns_addrs *a)
{
	struct conn *c = container_of(r, struct conn, dns);

	c->res.ms_dns = ms_since(c, c->t_attempt_ms);
	if (err) {
		/* no descriptor to ask with: ours, not the name's */
		c->res.local_shortage = err == -EMFILE;
		if (c->dns_phase == DNS_PROXY)
			fail(c, RF_PROXY, "cannot resolve the proxy '%s': %s",
			     c->env->proxy->host,
			     detail ? detail : "name resolution failed");
		else
			fail(c, RF_DNS, "%s", detail ? detail :
			     "name resolution failed");
		return;
	}
	c->addrs = *a;
	resolved(c);
}

/* Attach req to c with slot: a new attempt with an empty result. */
static void attach(struct conn *c, const struct conn_req *req,
		   struct slot slot)
{
	assert(req->owner && !c->req.owner && !c->slot.home);
	c->req = *req;
	c->slot = slot;
	c->t_attempt_ms = loop_now_ms(c->env->loop);
	memset(&c->res, 0, sizeof(c->res));
}

int conn_open(struct conn_env *env, const struct conn_req *req,
	      struct slot slot, void *home, struct conn **cp)
{
	const struct url *u = req->url;
	struct conn *c = conn_new(env, home);

	if (!c)
		return -ENOMEM;
	*cp = c;
	attach(c, req, slot);
	conn_enter(c, CS_RESOLVE);
	c->proxied = env->proxy && proxy_applies(env->proxy, u);
	start_resolve(c);
	return 0;
}

void conn_reuse(struct conn *c, const struct conn_req *req, struct slot slot)
{
	attach(c, req, slot);
	c->reused = true;
	c->env->counters->reused++;
	if (start_request(c) == 0)
		arm_recv(c);
}

/* Connected to an https host: start the handshake. */
static void start_tls(struct conn *c)
{
	const struct url *u = c->req.url;
	char err[256];

	if (tls_global_init(c->env->cfg, err, sizeof(err)) < 0) {
		fail(c, RF_TLS_VERIFY, "%s", err);
		return;
	}
	c->tls = tls_new(u->host, u->port, u->ip_literal, u->ipv6);
	if (!c->tls) {
		fail(c, RF_TLS_HANDSHAKE, "cannot set up TLS for '%s'",
		     u->host);
		return;
	}
	conn_enter(c, CS_TLS);
	if (tls_handshake(c->tls) != TLS_WANT) {
		fail(c, c->tls->err ? c->tls->err : RF_TLS_HANDSHAKE, "%s",
		     c->tls->detail);
		return;
	}
	flush_out(c);
	arm_recv(c);
	/* A ClientHello costs a key generation: when many conns start in
	 * one turn, each leaves now, so the server works through them while
	 * the rest are made, instead of after the last one. */
	loop_submit_now(c->env->loop);
}

/* The proxy's tunnel stands: on with TLS or the request, as direct. */
static void tunnel_up(struct conn *c)
{
	c->pin = 0;
	if (c->env->loop->bufs_on) {
		free(c->rbuf);	/* the reply's spill is done with */
		c->rbuf = NULL;
	}
	c->res.ms_connect = ms_since(c, c->t_start_ms);
	if (c->req.url->https)
		start_tls(c);
	else if (start_request(c) == 0)
		arm_recv(c);
}

/* Send the handshake's next message, len bytes at msg. */
static void proxy_send(struct conn *c, const void *msg, size_t len)
{
	if (wbuf_set(c, msg, len) < 0) {
		fail(c, RF_PROXY, "out of memory for the proxy handshake");
		return;
	}
	flush_out(c);
	arm_recv(c);
}

/* Connected to the proxy: CONNECT for https through an http:// proxy, the
 * SOCKS5 greeting, or nothing (plain http through an http:// proxy asks
 * in absolute-form). Returns whether a handshake took over c. */
static bool proxy_handshake(struct conn *c)
{
	const struct proxy *p = c->env->proxy;
	char msg[CONN_WBUF];
	int n;

	if (p->kind == PROXY_HTTP && !c->req.url->https)
		return false;
	c->pin = 0;
	conn_enter(c, CS_PROXY);
	if (p->kind == PROXY_HTTP) {
		n = proxy_connect_request(p, c->req.url, msg, sizeof(msg));
		if (n < 0) {
			fail(c, RF_PROXY, "CONNECT request does not fit in "
			     "%zu bytes", sizeof(msg));
			return true;
		}
		proxy_send(c, msg, (size_t)n);
		return true;
	}
	c->socks_step = SOCKS_GREETING;
	proxy_send(c, msg, socks_greeting(p, (unsigned char *)msg));
	return true;
}

/* The SOCKS5 step after a reply that moved us on to next. */
static void socks_next(struct conn *c, enum socks_step next)
{
	const struct proxy *p = c->env->proxy;
	unsigned char w[CONN_WBUF];
	size_t n;

	c->socks_step = (uint8_t)next;
	if (next == SOCKS_DONE) {
		tunnel_up(c);
		return;
	}
	n = next == SOCKS_AUTH ? socks_auth(p, w) :
	    socks_request(p, c->req.url, &c->target, w);
	if (!n) {
		fail(c, RF_PROXY, "host name '%s' is too long for SOCKS5",
		     c->req.url->host);
		return;
	}
	proxy_send(c, w, n);
}

/* res bytes of the proxy's answer arrived at data, after c->pin kept
 * ones. A ring buffer goes back after this call, so with those the answer
 * is gathered in rbuf (per-conn buffers received it there already). */
static void proxy_input(struct conn *c, const char *data, int res)
{
	const struct proxy *p = c->env->proxy;
	enum socks_step next = SOCKS_DONE;
	size_t used = 0, room = CONN_RBUF - c->pin;
	char why[160];
	int rc;

	if (res <= 0) {
		fail(c, RF_PROXY, "proxy %s %s during its handshake", c->ip,
		     res ? rf_strerror(-res) : "closed the connection");
		return;
	}
	if (c->env->loop->bufs_on) {
		if (!c->rbuf && !(c->rbuf = malloc(CONN_RBUF))) {
			fail(c, RF_PROXY, "out of memory for the proxy's "
			     "answer");
			return;
		}
		/* more than fits fails below as an answer too long */
		res = (size_t)res < room ? res : (int)room;
		memcpy(c->rbuf + c->pin, data, (size_t)res);
	}
	c->pin += (size_t)res;
	if (p->kind == PROXY_HTTP)
		rc = proxy_connect_reply(c->rbuf, c->pin, &used, why,
					 sizeof(why));
	else
		rc = socks_reply(p, (enum socks_step)c->socks_step,
				 (const unsigned char *)c->rbuf, c->pin, &used,
				 &next, why, sizeof(why));
	/* the server speaks only once we do: bytes beyond the answer are
	 * the proxy's confusion */
	if (rc == 0 && used != c->pin) {
		rc = -1;
		snprintf(why, sizeof(why), "proxy %s sent bytes after its "
			 "answer", c->ip);
	}
	if (rc < 0) {
		fail(c, RF_PROXY, "%s", why);
	} else if (rc == 0) {
		c->pin = 0;
		if (p->kind == PROXY_HTTP)
			tunnel_up(c);
		else
			socks_next(c, next);
	} else if (c->pin == CONN_RBUF) {
		fail(c, RF_PROXY, "proxy %s answered with over %zu bytes",
		     c->ip, (size_t)CONN_RBUF);
	} else {
		arm_recv(c);
	}
}

static void on_connect(struct io_op *op, int res, unsigned flags)
{
	struct conn *c = container_of(op, struct conn, op_connect);

	(void)flags;
	c->inflight--;
	if (closing(c))
		return;
	if (res < 0) {
		/* Next address of the same name, within the same attempt. */
		io_uring_prep_close(loop_sqe_noop(c->env->loop), c->fd);
		c->fd = -1;
		if (c->addr_i + 1 < c->addrs.n) {
			c->addr_i++;
			try_connect(c);
			return;
		}
		if (c->proxied)
			fail(c, RF_PROXY, "cannot reach the proxy %s port %u: "
			     "%s", c->ip, c->env->proxy->port, rf_strerror(-res));
		else
			fail(c, RF_CONNECT, "connect to %s port %u: %s", c->ip,
			     c->req.url->port, rf_strerror(-res));
		return;
	}
	c->res.ms_connect = ms_since(c, c->t_start_ms);
	if (c->proxied && proxy_handshake(c))
		return;
	if (c->req.url->https) {
		start_tls(c);
		return;
	}
	if (start_request(c) == 0)
		arm_recv(c);
}

static void on_send(struct io_op *op, int res, unsigned flags)
{
	struct conn *c = container_of(op, struct conn, op_send);

	(void)flags;
	if (!op_landed(c, &c->send_armed))
		return;
	if (res < 0) {
		if (c->state == CS_IDLE)
			close_idle(c, false);
		else
			fail(c, c->state == CS_TLS ? RF_TLS_HANDSHAKE :
			     c->state == CS_PROXY ? RF_PROXY : RF_RESET,
			     "send failed%s: %s", c->state == CS_TLS ?
			     " during the TLS handshake" : c->state == CS_PROXY ?
			     " to the proxy" : "", rf_strerror(-res));
		return;
	}
	if (c->tls)
		tls_out_sent(c->tls, (size_t)res);
	else
		wbuf_sent(c, (size_t)res);
	flush_out(c);		/* a short send's rest, or newer records */
	if (c->state == CS_SEND && !c->send_armed)
		conn_enter(c, CS_RECV);
}

/* The response is complete: report it, then go idle in the owner's pool
 * or close. */
static void complete(struct conn *c, bool reusable)
{
	const struct conn_env *env = c->env;
	uint8_t digest[32];
	bool pooled;

	if (c->resp->no_hash) {
		c->res.sha256[0] = '\0';
	} else {
		sha256_final(&c->resp->sha, digest);
		sha256_hex(digest, c->res.sha256);
	}
	c->res.detail[0] = '\0';
	c->res.reusable = reusable && c->resp->keep_alive &&
			  c->state == CS_RECV && !c->send_armed &&
			  env->counters->idle < env->cfg->limits.concurrency;
	pooled = report(c, RF_OK, true);
	if (!c->res.reusable) {
		teardown(c);
		return;
	}
	c->reused = false;
	conn_enter(c, CS_IDLE);
	/* Not pooled (nothing could use it any more): close now, while other
	 * responses are still coming, rather than all at exit. */
	if (!pooled) {
		teardown_notify(c, true);
		return;
	}
	arm_recv(c);
}

static void on_recv_eof(struct conn *c)
{
	if (http_resp_eof(c->resp) == HTTP_DONE) {
		complete(c, false);
		return;
	}
	if (c->resp->no_bytes)
		fail(c, RF_RESET, "connection closed before any response byte");
	else
		fail(c, RF_RESET, "%s after %llu bytes", c->resp->detail,
		     (unsigned long long)c->resp->rx_bytes);
}

/* n response bytes at p for the codec. Returns true when the request
 * ended (completed or failed); more is whether bytes follow these. */
static bool resp_feed(struct conn *c, const char *p, size_t n, bool more)
{
	struct conn_result *r = &c->res;
	size_t used = 0;
	int rc;

	if (c->resp->rx_bytes == 0)
		r->ms_ttfb = ms_since(c, c->t_attempt_ms) - r->ms_dns -
			     r->ms_connect - r->ms_tls;
	rc = http_resp_feed(c->resp, p, n, &used);
	if (rc != HTTP_ERROR && used && c->sink.raw)
		c->sink.raw(c->sink.arg, p, used);
	if (rc == HTTP_DONE) {
		complete(c, used == n && !more);
		return true;
	}
	if (rc == HTTP_ERROR) {
		fail(c, c->resp->err == HTTP_E_TOO_LARGE ? RF_BODY_TOO_LARGE :
		     RF_PROTOCOL, "%s", c->resp->detail);
		return true;
	}
	return false;
}

/* Keep receiving: the response is not complete yet. */
static void recv_more(struct conn *c)
{
	arm_recv(c);
	if (c->state == CS_RECV)
		arm_phase(c, c->env->cfg->timeouts.idle_ms);
}

/* Decrypt what was fed and hand it to the codec, until every byte is
 * consumed or the request ended. The plaintext lives on the stack: the
 * codec keeps what it needs of it, so no conn holds a buffer for it. */
static void tls_input(struct conn *c)
{
	char plain[TLS_RECORD_MAX];
	int n;

	for (;;) {
		n = tls_read(c->tls, plain, sizeof(plain));
		if (n < 0) {
			fail(c, RF_PROTOCOL, "%s", c->tls->detail);
			return;
		}
		if (n == 0)
			break;
		if (resp_feed(c, plain, (size_t)n, tls_has_input(c->tls)))
			return;
	}
	flush_out(c);		/* e.g. an answer to a key update */
	if (c->tls->eof)
		on_recv_eof(c);	/* close_notify: as a FIN */
	else
		recv_more(c);
}

/* Handshake records arrived. */
static void tls_step(struct conn *c)
{
	int rc = tls_handshake(c->tls);

	if (rc == TLS_WANT) {
		flush_out(c);
		arm_recv(c);
		return;
	}
	if (rc == TLS_FAIL) {
		fail(c, c->tls->err, "%s", c->tls->detail);
		return;
	}
	c->res.ms_tls = ms_since(c, c->t_phase_ms);
	/* The client Finished and the request leave in one send, at once
	 * for the same reason as the ClientHello. */
	if (start_request(c) == 0) {
		loop_submit_now(c->env->loop);
		tls_input(c);	/* records after the server's Finished */
	}
}

/* Bytes arrived on an idle pooled conn: a TLS 1.3 ticket is fine, but
 * anything else (plain bytes, a close, an alert) ends the conn. */
static void on_recv_idle(struct conn *c, const char *data, int res)
{
	char plain[TLS_RECORD_MAX];
	int n;

	if (res > 0 && c->tls) {
		tls_feed(c->tls, data, (size_t)res);
		n = tls_read(c->tls, plain, sizeof(plain));
		if (n == 0 && !c->tls->eof && !tls_has_input(c->tls)) {
			arm_recv(c);
			return;
		}
	}
	close_idle(c, false);
}

/* Per-conn buffers: the poll of an idle or buffer-less conn says the
 * socket has something (bytes, a close, an error): take the buffer now
 * and receive it. */
static void on_readable(struct conn *c)
{
	if (!c->rbuf && !(c->rbuf = malloc(CONN_RBUF))) {
		if (c->state == CS_IDLE)
			close_idle(c, false);
		else
			fail(c, RF_RESET, "out of memory for a receive buffer");
		return;
	}
	arm_recv_rbuf(c);
}

/* A receive completed with res bytes at data (per-conn: rbuf + pin; else
 * a ring buffer, valid during this call only). flags are the CQE's. */
static void recv_input(struct conn *c, const char *data, int res,
		       unsigned flags)
{
	bool polled = c->recv_poll;

	if (flags & IORING_CQE_F_MORE) {
		/* a multishot recv goes on: still armed, still in flight */
		if (closing(c))
			return;
	} else {
		c->recv_poll = false;
		if (!op_landed(c, &c->recv_armed))
			return;
	}
	if (polled) {
		on_readable(c);
		return;
	}
	if (res == -ENOBUFS && c->env->loop->bufs_on) {
		/* The pool ran dry within one turn; the bytes wait in the
		 * socket, and the buffers are back by the next submit. The
		 * phase timer runs on, untouched. */
		c->env->loop->bufs.enobufs++;
		arm_recv(c);
		return;
	}
	if (c->state == CS_IDLE) {
		on_recv_idle(c, data, res);
		return;
	}
	if (c->state == CS_PROXY) {
		proxy_input(c, data, res);
		return;
	}
	if (c->state == CS_TLS && res <= 0) {
		fail(c, RF_TLS_HANDSHAKE, "connection %s during the TLS handshake%s%s",
		     res ? "failed" : "closed by the server",
		     res ? ": " : "", res ? rf_strerror(-res) : "");
		return;
	}
	if (res < 0) {
		fail(c, RF_RESET, "receive failed: %s after %llu bytes",
		     rf_strerror(-res), (unsigned long long)c->resp->rx_bytes);
		return;
	}
	if (res == 0) {
		on_recv_eof(c);
		return;
	}
	/* Both consume every byte unless the request ends: wolfSSL and
	 * llhttp copy what they must keep (a partial record, a header
	 * value), so nothing here points into data after the call. */
	if (c->tls) {
		tls_feed(c->tls, data, (size_t)res);
		if (c->state == CS_TLS)
			tls_step(c);
		else
			tls_input(c);
		return;
	}
	if (!resp_feed(c, data, (size_t)res, false))
		recv_more(c);
}

static void on_recv(struct io_op *op, int res, unsigned flags)
{
	struct conn *c = container_of(op, struct conn, op_recv);
	struct bufpool *bp = &c->env->loop->bufs;	/* c may be freed */
	uint16_t bid;

	if (!(flags & IORING_CQE_F_BUFFER)) {
		recv_input(c, c->rbuf ? c->rbuf + c->pin : NULL, res, flags);
		return;
	}
	/* The buffer goes back whatever became of c, closing or freed. */
	bid = bufpool_id(flags);
	recv_input(c, bufpool_data(bp, bid), res, flags);
	bufpool_put(bp, bid);
}
