/* Unit tests for conn.c: a real conn on a real loop against a tiny HTTP
 * responder on 127.0.0.1 (a thread), owned by a fake env owner that records
 * every callback: a response with its body and hash, connect refused, a
 * first-byte timeout, reuse of a pooled conn, a peer closing an idle conn,
 * an abort that keeps the slot until the socket has closed, a detach.
 * Every case runs on the ring's buffers, on per-connection buffers, and
 * through two worker rings (net/workers.h), whose stand-ins must keep
 * conn.h's promises to the owner. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config/config.h"
#include "event/loop.h"
#include "net/cidr.h"
#include "net/conn.h"
#include "net/dns.h"
#include "net/workers.h"
#include "tap.h"

/* sha256("hello") */
#define HELLO_SHA \
	"2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"

/* ---- the responder: one connection at a time, on its own thread ---- */

enum mode {
	ANSWER,			/* 200 "hello", keep-alive */
	ANSWER_CLOSE,		/* 200 "hello", then close the connection */
	SILENT,			/* read the request, never answer */
};

static struct {
	int lfd;
	uint16_t port;
	int mode;			/* set while the responder waits */
	int accepted, requests;		/* written by the responder */
} srv;

#define BUMP(x) __atomic_fetch_add(&(x), 1, __ATOMIC_SEQ_CST)
#define READ(x) __atomic_load_n(&(x), __ATOMIC_SEQ_CST)
#define SET(x, v) __atomic_store_n(&(x), (v), __ATOMIC_SEQ_CST)

/* Read one request head from fd. Returns false when the peer closed. */
static bool read_request(int fd)
{
	char buf[4096];
	size_t len = 0;

	while (len < sizeof(buf) - 1) {
		ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);

		if (n <= 0)
			return false;
		len += (size_t)n;
		buf[len] = '\0';
		if (strstr(buf, "\r\n\r\n"))
			return true;
	}
	return false;
}

static void serve(int fd)
{
	static const char resp[] = "HTTP/1.1 200 OK\r\n"
				   "Content-Type: text/plain\r\n"
				   "Content-Length: 5\r\n\r\nhello";
	char sink[256];

	while (read_request(fd)) {
		BUMP(srv.requests);
		if (READ(srv.mode) == SILENT) {
			while (read(fd, sink, sizeof(sink)) > 0)
				;
			return;
		}
		if (write(fd, resp, sizeof(resp) - 1) < 0)
			return;
		if (READ(srv.mode) == ANSWER_CLOSE)
			return;
	}
}

static void *serve_thread(void *arg)
{
	int fd = (int)(intptr_t)arg;

	serve(fd);
	close(fd);
	return NULL;
}

/* A thread per connection: one a test left closing never holds up the
 * next test's. */
static void *responder(void *arg)
{
	pthread_t t;

	(void)arg;
	for (;;) {
		int fd = accept(srv.lfd, NULL, NULL);

		if (fd < 0)
			return NULL;
		BUMP(srv.accepted);
		if (pthread_create(&t, NULL, serve_thread,
				   (void *)(intptr_t)fd) != 0) {
			close(fd);
			continue;
		}
		pthread_detach(t);
	}
}

/* A listening socket on 127.0.0.1 and an ephemeral port; *port gets it. */
static int listen_local(uint16_t *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(fd, 16) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) < 0)
		return -1;
	*port = ntohs(a.sin_port);
	return fd;
}

/* ---- the fake owner ---- */

static struct loop L;
static struct config cfg;
static struct dns *dns;
static struct netguard guard;
static struct conn_counters counters;
static struct conn_env env;
static int home;			/* what our slots and conns belong to */
static struct workers *ws;		/* set: the cases run through it */

/* conn.h's calls, or the worker rings' stand-ins for them */
static struct {
	int (*open)(struct conn_env *env, const struct conn_req *req,
		    struct slot slot, void *home, struct conn **cp);
	void (*reuse)(struct conn *c, const struct conn_req *req,
		      struct slot slot);
	void (*abort)(struct conn *c, int err, const char *detail);
	void (*detach)(struct conn *c, struct slot *slot, void **sink);
	void (*close_idle)(struct conn *c);
} ops = { conn_open, conn_reuse, conn_abort, conn_detach, conn_close_idle };

static struct {
	int done, idle_closing, closed;
	int slots_out;			/* given to conns, not back yet */
	bool pool;			/* done() pools reusable conns */
	struct conn *pooled;
	enum rf_err err;
	char detail[192];
	int status;
	uint64_t bytes;
	char sha256[65], content_type[128];
	bool reusable, slot_with_result, slot_at_close, retry_free;
	char body[64];
	size_t body_len;
	int sinks_open;
} rec;

static bool fake_done(struct conn_env *e, void *owner, struct conn_result *r)
{
	(void)e;
	rec.done++;
	rec.err = r->err;
	snprintf(rec.detail, sizeof(rec.detail), "%s", r->detail);
	rec.status = r->status;
	rec.bytes = r->bytes;
	snprintf(rec.sha256, sizeof(rec.sha256), "%s", r->sha256);
	snprintf(rec.content_type, sizeof(rec.content_type), "%s",
		 r->content_type);
	rec.reusable = r->reusable;
	rec.retry_free = r->retry_free;
	rec.slot_with_result = r->slot.home != NULL;
	if (r->slot.home) {
		TAP_CHECK(r->slot.home == &home && owner == &rec);
		rec.slots_out--;
	}
	if (r->sink)
		rec.sinks_open--;
	if (r->reusable && rec.pool) {
		rec.pooled = r->conn;
		return true;
	}
	return false;
}

static void fake_idle_closing(struct conn_env *e, struct conn *c)
{
	(void)e;
	rec.idle_closing++;
	if (rec.pooled == c)
		rec.pooled = NULL;
}

static void fake_closed(struct conn_env *e, struct conn *c)
{
	(void)e;
	rec.closed++;
	rec.slot_at_close = c->slot.home != NULL;
	if (c->slot.home)
		rec.slots_out--;
	TAP_CHECK(c->home == &home);
}

static void sink_body(void *arg, const char *p, size_t n)
{
	TAP_CHECK(arg == &rec);
	if (rec.body_len + n < sizeof(rec.body)) {
		memcpy(rec.body + rec.body_len, p, n);
		rec.body_len += n;
	}
}

static void fake_sink_start(struct conn_env *e, void *owner, const char *req,
			    size_t len, struct conn_sink *out)
{
	(void)e;
	(void)owner;
	TAP_CHECK(len > 4 && memcmp(req, "GET ", 4) == 0);
	rec.sinks_open++;
	out->arg = &rec;
	out->body = sink_body;
}

static void reset_rec(void)
{
	memset(&rec, 0, sizeof(rec));
	SET(srv.mode, ANSWER);
	SET(srv.accepted, 0);
	SET(srv.requests, 0);
}

static void tick(struct timer *t)
{
	(void)t;
}

/* Turn the loop until *flag is nonzero or ms pass. A flag the responder
 * sets makes no completion, so a tick wakes the loop to look at it. */
static bool run_until(int *flag, uint64_t ms)
{
	static struct timer t;
	uint64_t end = loop_update_clock(&L) + ms;

	while (!READ(*flag) && loop_now_ms(&L) < end) {
		loop_timer_arm(&L, &t, loop_now_ms(&L) + 5, tick);
		if (loop_run_once(&L) < 0)
			return false;
	}
	loop_timer_cancel(&L, &t);
	return READ(*flag) != 0;
}

static struct url url_of(uint16_t port)
{
	struct url u;
	char text[64];
	char err[128];
	int n = snprintf(text, sizeof(text), "http://127.0.0.1:%u/x", port);

	memset(&u, 0, sizeof(u));
	url_parse(&u, text, (size_t)n, err, sizeof(err));
	return u;
}

static struct conn_req req_of(const struct url *u)
{
	return (struct conn_req){ .url = u, .owner = &rec };
}

static struct slot take_slot(void)
{
	rec.slots_out++;
	return (struct slot){ .home = &home };
}

/* Every conn closed, every slot back, every sink ended. */
static int all_back(void)
{
	int ok = 1;

	ok &= TAP_CHECK(run_until(&rec.closed, 2000));
	ok &= TAP_CHECK(counters.open == 0 && counters.idle == 0);
	ok &= TAP_CHECK(rec.slots_out == 0 && rec.sinks_open == 0);
	return ok;
}

/* ---- cases ---- */

static int test_ok_body(void)
{
	struct url u = url_of(srv.port);
	struct conn_req rq = req_of(&u);
	struct conn *c = NULL;
	int ok = 1;

	reset_rec();
	ok &= TAP_CHECK(ops.open(&env, &rq, take_slot(), &home, &c) == 0);
	ok &= TAP_CHECK(c != NULL);
	ok &= TAP_CHECK(run_until(&rec.done, 2000));
	ok &= TAP_CHECK(rec.err == RF_OK && rec.status == 200);
	ok &= TAP_CHECK(rec.bytes == 5 && STREQ(rec.sha256, HELLO_SHA));
	ok &= TAP_CHECK(STREQ(rec.content_type, "text/plain"));
	ok &= TAP_CHECK(rec.body_len == 5 && memcmp(rec.body, "hello", 5) == 0);
	ok &= TAP_CHECK(rec.reusable && rec.slot_with_result);
	/* not pooled: it closes, holding no slot */
	ok &= all_back();
	ok &= TAP_CHECK(!rec.slot_at_close && rec.idle_closing == 0);
	url_fini(&u);
	return ok;
}

static int test_connect_refused(void)
{
	uint16_t port;
	int fd = listen_local(&port);
	struct url u;
	struct conn_req rq;
	struct conn *c = NULL;
	int ok = 1;

	close(fd);		/* nobody listens on port now */
	u = url_of(port);
	rq = req_of(&u);
	reset_rec();
	ok &= TAP_CHECK(ops.open(&env, &rq, take_slot(), &home, &c) == 0);
	ok &= TAP_CHECK(run_until(&rec.done, 2000));
	ok &= TAP_CHECK(rec.err == RF_CONNECT);
	ok &= TAP_CHECK(strstr(rec.detail, "127.0.0.1") != NULL);
	/* a failed conn keeps its slot until its socket has closed */
	ok &= TAP_CHECK(!rec.slot_with_result && rec.sinks_open == 0);
	ok &= all_back();
	ok &= TAP_CHECK(rec.slot_at_close);
	url_fini(&u);
	return ok;
}

static int test_first_byte_timeout(void)
{
	struct url u = url_of(srv.port);
	struct conn_req rq = req_of(&u);
	struct conn *c = NULL;
	uint64_t was = cfg.timeouts.first_byte_ms;
	int ok = 1;

	reset_rec();
	SET(srv.mode, SILENT);
	cfg.timeouts.first_byte_ms = 150;
	ok &= TAP_CHECK(ops.open(&env, &rq, take_slot(), &home, &c) == 0);
	ok &= TAP_CHECK(run_until(&rec.done, 3000));
	ok &= TAP_CHECK(rec.err == RF_TIMEOUT && rec.status == 0);
	ok &= TAP_CHECK(strstr(rec.detail, "first_byte") != NULL);
	ok &= all_back();
	ok &= TAP_CHECK(rec.slot_at_close);
	cfg.timeouts.first_byte_ms = was;
	url_fini(&u);
	return ok;
}

static int test_reuse_idle(void)
{
	struct url u = url_of(srv.port);
	struct conn_req rq = req_of(&u);
	struct conn *c = NULL, *first;
	uint64_t reused = counters.reused;
	int ok = 1;

	reset_rec();
	rec.pool = true;
	ok &= TAP_CHECK(ops.open(&env, &rq, take_slot(), &home, &c) == 0);
	ok &= TAP_CHECK(run_until(&rec.done, 2000));
	ok &= TAP_CHECK(rec.pooled == c && c->state == CS_IDLE);
	ok &= TAP_CHECK(counters.open == 1 && counters.idle == 1);
	/* idle, it holds no buffer on either receive path (a worker's
	 * stand-in has none to hold) */
	if (!ws)
		ok &= TAP_CHECK(!c->rbuf && !c->wbuf && c->recv_armed);
	first = c;
	rec.done = 0;
	rec.body_len = 0;
	ops.reuse(first, &rq, take_slot());
	ok &= TAP_CHECK(counters.idle == 0);
	ok &= TAP_CHECK(run_until(&rec.done, 2000));
	ok &= TAP_CHECK(rec.err == RF_OK && STREQ(rec.sha256, HELLO_SHA));
	ok &= TAP_CHECK(rec.body_len == 5);
	ok &= TAP_CHECK(READ(srv.accepted) == 1 && READ(srv.requests) == 2);
	ok &= TAP_CHECK(counters.reused == reused + 1);
	ok &= TAP_CHECK(rec.pooled == first && counters.idle == 1);
	/* shutdown: the owner closes its pool */
	ops.close_idle(first);
	ok &= TAP_CHECK(rec.idle_closing == 1 && rec.pooled == NULL);
	ok &= all_back();
	url_fini(&u);
	return ok;
}

static int test_peer_closes_idle(void)
{
	struct url u = url_of(srv.port);
	struct conn_req rq = req_of(&u);
	struct conn *c = NULL;
	int ok = 1;

	reset_rec();
	rec.pool = true;
	SET(srv.mode, ANSWER_CLOSE);
	ok &= TAP_CHECK(ops.open(&env, &rq, take_slot(), &home, &c) == 0);
	ok &= TAP_CHECK(run_until(&rec.done, 2000));
	/* Content-Length framed, no Connection: close: it is pooled, then
	 * the peer's FIN arrives while idle (with a multishot recv that may
	 * be in the same turn as the response) */
	ok &= TAP_CHECK(rec.err == RF_OK && rec.reusable);
	ok &= TAP_CHECK(run_until(&rec.idle_closing, 2000));
	ok &= TAP_CHECK(rec.pooled == NULL);
	ok &= all_back();
	url_fini(&u);
	return ok;
}

/* The owner sends on a pooled conn whose peer has closed it, before it
 * hears of the close (through worker rings the close and the request
 * cross between threads): the try fails as one that does not count. */
static int test_reuse_crosses_close(void)
{
	struct url u = url_of(srv.port);
	struct conn_req rq = req_of(&u);
	struct conn *c = NULL;
	int ok = 1;

	reset_rec();
	rec.pool = true;
	SET(srv.mode, ANSWER_CLOSE);
	ok &= TAP_CHECK(ops.open(&env, &rq, take_slot(), &home, &c) == 0);
	ok &= TAP_CHECK(run_until(&rec.done, 2000));
	ok &= TAP_CHECK(rec.err == RF_OK);
	/* the FIN is on its way or in; ask again at once if still pooled */
	usleep(20 * 1000);
	if (rec.pooled == c) {
		rec.done = 0;
		rec.pool = false;
		ops.reuse(c, &rq, take_slot());
		ok &= TAP_CHECK(run_until(&rec.done, 2000));
		ok &= TAP_CHECK(rec.err == RF_RESET && rec.retry_free);
	}
	ok &= all_back();
	url_fini(&u);
	return ok;
}

static int test_abort_keeps_slot(void)
{
	struct url u = url_of(srv.port);
	struct conn_req rq = req_of(&u);
	struct conn *c = NULL;
	int ok = 1;

	reset_rec();
	SET(srv.mode, SILENT);
	ok &= TAP_CHECK(ops.open(&env, &rq, take_slot(), &home, &c) == 0);
	ok &= TAP_CHECK(run_until(&srv.requests, 2000));
	ops.abort(c, RF_CANCELLED, "stopping");
	/* the result comes at once, the slot only with the close */
	ok &= TAP_CHECK(rec.done == 1 && rec.err == RF_CANCELLED);
	ok &= TAP_CHECK(STREQ(rec.detail, "stopping"));
	ok &= TAP_CHECK(!rec.slot_with_result && rec.slots_out == 1);
	ok &= TAP_CHECK(rec.closed == 0);
	ok &= all_back();
	ok &= TAP_CHECK(rec.slot_at_close && rec.done == 1);
	url_fini(&u);
	return ok;
}

static int test_detach(void)
{
	struct url u = url_of(srv.port);
	struct conn_req rq = req_of(&u);
	struct conn *c = NULL;
	struct slot sl;
	void *sink;
	int ok = 1;

	reset_rec();
	SET(srv.mode, SILENT);
	ok &= TAP_CHECK(ops.open(&env, &rq, take_slot(), &home, &c) == 0);
	ok &= TAP_CHECK(run_until(&srv.requests, 2000));
	ops.detach(c, &sl, &sink);
	/* no result; the owner has the slot and the sink back */
	ok &= TAP_CHECK(rec.done == 0 && sl.home == &home && sink == &rec);
	rec.slots_out--;
	rec.sinks_open--;
	ok &= all_back();
	ok &= TAP_CHECK(!rec.slot_at_close && rec.done == 0);
	url_fini(&u);
	return ok;
}

static bool setup(char *err, size_t errlen)
{
	pthread_t t;

	if (loop_init(&L, 64, err, errlen) < 0)
		return false;
	/* the ring's buffers where the kernel has them, as the daemon does */
	loop_bufs_init(&L, CONN_RBUF, CONN_POOL_BYTES);
	config_init(&cfg);
	cfg.timeouts.connect_ms = 2000;
	cfg.timeouts.first_byte_ms = 2000;
	cfg.timeouts.idle_ms = 2000;
	dns = dns_new(&L, &cfg, err, errlen);
	if (!dns || netguard_init(&guard, &cfg, err, errlen) < 0)
		return false;
	env = (struct conn_env){
		.loop = &L,
		.cfg = &cfg,
		.dns = dns,
		.guard = &guard,
		.counters = &counters,
		.done = fake_done,
		.idle_closing = fake_idle_closing,
		.closed = fake_closed,
		.sink_start = fake_sink_start,
	};
	srv.lfd = listen_local(&srv.port);
	if (srv.lfd < 0) {
		snprintf(err, errlen, "cannot listen on 127.0.0.1");
		return false;
	}
	if (pthread_create(&t, NULL, responder, NULL) != 0) {
		snprintf(err, errlen, "cannot start the responder");
		return false;
	}
	pthread_detach(t);
	return true;
}

static void run_all(void)
{
	TAP_RUN(test_ok_body);
	TAP_RUN(test_connect_refused);
	TAP_RUN(test_first_byte_timeout);
	TAP_RUN(test_reuse_idle);
	TAP_RUN(test_peer_closes_idle);
	TAP_RUN(test_reuse_crosses_close);
	TAP_RUN(test_abort_keeps_slot);
	TAP_RUN(test_detach);
}

int main(void)
{
	char err[256];

	if (!setup(err, sizeof(err))) {
		printf("1..0 # SKIP %s\n", err);
		return 77;
	}
	run_all();
	if (L.bufs_on) {
		/* Again on the per-conn buffers of kernels before 6.0: conns
		 * read bufs_on per receive, and none is open between cases. */
		printf("# again with per-connection receive buffers\n");
		L.bufs_on = false;
		run_all();
	}
	if (workers_start(&ws, 2, &env, err, sizeof(err)) == 0) {
		printf("# again through two worker rings\n");
		ops.open = workers_open;
		ops.reuse = workers_reuse;
		ops.abort = workers_abort;
		ops.detach = workers_detach;
		ops.close_idle = workers_close_idle;
		run_all();
		workers_stop(ws);
	} else {
		TAP_CHECK(!"workers_start failed");
		printf("# %s\n", err);
	}
	conn_env_fini(&env);
	netguard_fini(&guard);
	dns_free(dns);
	/* dns_free() may leave a cancelled poll: drain without blocking */
	L.stop = true;
	for (int i = 0; i < 4; i++)
		loop_run_once(&L);
	config_fini(&cfg);
	loop_fini(&L);
	workers_free(ws);
	return tap_done();
}
