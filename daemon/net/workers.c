/* Worker rings: stand-in conns on the owner's thread, real ones on
 * workers. See workers.h for the contract.
 *
 * Each stand-in (struct wconn) carries the messages of its connection
 * embedded in it: at most one request to the worker (open, reuse, close)
 * and one result and one close notice back are ever outstanding, because
 * the owner sends the next request only after the result of the last came
 * back. So sending costs no allocation. Fields are split by thread: those
 * marked [W] are the worker's, the rest the owner's; a message handed over
 * through a queue orders everything written before it. */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "base/log.h"
#include "config/config.h"
#include "event/loop.h"
#include "net/dns.h"
#include "net/tls.h"
#include "net/workers.h"

#define WORKER_RING_ENTRIES 4096

enum wmsg_kind {
	/* owner → worker */
	WM_OPEN, WM_REUSE, WM_CLOSE, WM_CALL, WM_STOP,
	/* worker → owner */
	WM_DONE, WM_CLOSED, WM_CLOSE_ACK,
};

struct wmsg {
	struct wmsg *next;
	uint8_t kind;
	bool after_close;		/* WM_CLOSED: the worker had our
					 * WM_CLOSE by then */
	struct wconn *wc;		/* NULL for WM_CALL and WM_STOP */
};

/* A result crossing back: conn_result's borrowed strings copied. */
struct wres {
	struct conn_result r;
	bool slot_given;		/* the slot came back with it */
	char content_type[128], content_encoding[24], etag[128];
	char last_modified[40], ip[48], retry_after[64];
	char tls_version[24], tls_cipher[96];
	char *location;			/* malloc'd copy, or NULL */
};

enum wc_state {
	WC_BUSY,	/* a request is out at the worker */
	WC_IDLE,	/* in the owner's pool */
	WC_CLOSING,	/* waiting for the worker's WM_CLOSED */
};

struct wconn {
	struct workers *ws;
	struct worker *w;
	enum wc_state state;
	bool closed_seen;		/* WM_CLOSED came, but a message of
					 * ours is still to be answered */
	bool close_sent;		/* WM_CLOSE is out */
	void *owner;			/* the request's owner while WC_BUSY */
	struct conn_req req;		/* what the worker runs; owner = this */
	struct wmsg m_req, m_done, m_closed, m_ack;
	struct wres res;
	struct conn *real;		/* [W] the worker's conn, NULL once it
					 * closes or has no request to carry */
	bool w_busy;			/* [W] a request runs on real */
	bool w_close_got;		/* [W] our WM_CLOSE reached it */
	struct conn c;			/* the owner's view: no resp */
};

/* A call that the owner waits for: an abort or a detach, or a pause. */
enum wcall_kind { CALL_ABORT, CALL_DETACH, CALL_PAUSE };

struct wcall {
	struct wmsg m;
	enum wcall_kind kind;
	struct wconn *wc;
	int err;
	const char *detail;
	void *sink;			/* CALL_DETACH: the sink taken back */
	bool detached;			/* CALL_DETACH: the worker had it */
	sem_t done;
};

struct worker {
	struct workers *ws;
	unsigned id;
	pthread_t thread;
	bool started;
	struct loop loop;
	struct dns *dns;
	struct conn_env env;
	struct conn_counters counters;
	int efd;			/* rung by the owner */
	uint64_t bell;			/* the eventfd read's target */
	struct io_op op_bell;
	_Atomic(struct wmsg *) inbox;	/* newest first */
	struct wmsg *out;		/* [W] this turn's results, newest
					 * first, pushed at the turn's end */
	struct wmsg *out_last;		/* [W] oldest of out */
	struct loop_hook hook;		/* [W] */
	uint32_t busy;			/* [W] requests running */
	_Atomic uint64_t enobufs;	/* copy of loop.bufs.enobufs */
	_Atomic uint64_t dns_pub[6];	/* copy of dns_stats(dns), in order */
	/* the owner's */
	struct wmsg *pend, *pend_last;	/* to send at the turn's end */
	uint32_t n_conns;		/* stand-ins placed here */
	sem_t ready;
	int init_rc;
	char init_err[256];
};

struct workers {
	unsigned n;
	struct worker *w;
	struct conn_env *owner;
	struct loop *loop;		/* the owner's */
	int efd;			/* rung by workers */
	uint64_t bell;
	struct io_op op_bell;
	bool bell_armed;
	_Atomic(struct wmsg *) inbox;	/* results, newest first */
	struct wmsg *backlog;		/* taken, not yet handled, oldest
					 * first */
	struct wmsg *backlog_last;
	struct loop_hook hook;
	pthread_mutex_t sink_lock;	/* around owner->sink_start() */
	pthread_mutex_t pause_lock;
	pthread_cond_t pause_cond;
	unsigned paused;
	bool pausing;
	uint64_t pause_gen;		/* bumped by each resume: a worker
					 * slow to wake from one pause is not
					 * caught by the next */
};

static const uint64_t one = 1;

unsigned workers_wanted(unsigned configured)
{
	const char *forced = getenv("RINGFETCH_WORKERS");
	long n = configured;

	/* tests run each path on any machine: one ring, or several */
	if (forced && *forced)
		n = strtol(forced, NULL, 10);

	if (n == 0)
		n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1)
		n = 1;
	return n > WORKERS_MAX ? WORKERS_MAX : (unsigned)n;
}

/* ---- queues ---- */

/* Push the chain first..last (newest first, linked through next) onto
 * q. Returns whether q was empty: the consumer must then be rung. */
static bool push_chain(_Atomic(struct wmsg *) *q, struct wmsg *first,
		       struct wmsg *last)
{
	struct wmsg *top = atomic_load_explicit(q, memory_order_relaxed);

	do
		last->next = top;
	while (!atomic_compare_exchange_weak_explicit(q, &top, first,
						      memory_order_release,
						      memory_order_relaxed));
	return top == NULL;
}

/* Everything on q, oldest first. */
static struct wmsg *take_all(_Atomic(struct wmsg *) *q)
{
	struct wmsg *m = atomic_exchange_explicit(q, NULL,
						  memory_order_acquire);
	struct wmsg *fifo = NULL;

	while (m) {
		struct wmsg *next = m->next;

		m->next = fifo;
		fifo = m;
		m = next;
	}
	return fifo;
}

/* A plain write(2), not a write SQE: eventfd has no write_iter, so the
 * ring hands such a write to an io-wq thread, a wakeup of its own; and
 * with those, wakes were lost under load (a worker slept with messages
 * waiting). The write is only needed when the queue was empty. */
static void ring_now(int efd)
{
	ssize_t n;

	do
		n = write(efd, &one, sizeof(one));
	while (n < 0 && errno == EINTR);
}

/* ---- the worker's side ---- */

static void w_send(struct worker *w, struct wmsg *m)
{
	m->next = w->out;
	w->out = m;
	if (!w->out_last)
		w->out_last = m;
}

/* Hand this turn's results to the owner. */
static void w_flush(struct worker *w)
{
	struct wmsg *first = w->out, *last = w->out_last;

	if (!first)
		return;
	w->out = w->out_last = NULL;
	if (push_chain(&w->ws->inbox, first, last))
		ring_now(w->ws->efd);
}

static void copy_str(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src ? src : "");
}

/* env.done on the worker: copy the result for the owner. */
static bool w_done(struct conn_env *env, void *owner, struct conn_result *r)
{
	struct worker *w = container_of(env, struct worker, env);
	struct wconn *wc = owner;
	struct wres *x = &wc->res;

	x->r = *r;
	x->slot_given = r->slot.home != NULL;
	copy_str(x->content_type, sizeof(x->content_type), r->content_type);
	copy_str(x->content_encoding, sizeof(x->content_encoding),
		 r->content_encoding);
	copy_str(x->etag, sizeof(x->etag), r->etag);
	copy_str(x->last_modified, sizeof(x->last_modified),
		 r->last_modified);
	copy_str(x->ip, sizeof(x->ip), r->ip);
	copy_str(x->retry_after, sizeof(x->retry_after), r->retry_after);
	copy_str(x->tls_version, sizeof(x->tls_version), r->tls_version);
	copy_str(x->tls_cipher, sizeof(x->tls_cipher), r->tls_cipher);
	x->location = r->location && r->location[0] ?
		      strdup(r->location) : NULL;
	x->r.content_type = x->content_type;
	x->r.content_encoding = x->content_encoding;
	x->r.etag = x->etag;
	x->r.last_modified = x->last_modified;
	x->r.ip = x->ip;
	x->r.retry_after = x->retry_after;
	x->r.tls_version = x->tls_version;
	x->r.tls_cipher = x->tls_cipher;
	x->r.location = x->location ? x->location : "";
	x->r.conn = NULL;
	x->r.slot.home = NULL;
	wc->w_busy = false;
	w->busy--;
	if (!r->reusable)
		wc->real = NULL;
	wc->m_done.kind = WM_DONE;
	w_send(w, &wc->m_done);
	/* kept idle here until the owner says whether it pooled it */
	return r->reusable;
}

static void w_idle_closing(struct conn_env *env, struct conn *c)
{
	struct wconn *wc = c->home;

	(void)env;
	wc->real = NULL;
}

static void w_closed(struct conn_env *env, struct conn *c)
{
	struct worker *w = container_of(env, struct worker, env);
	struct wconn *wc = c->home;

	wc->real = NULL;
	c->slot.home = NULL;	/* the owner holds the real one */
	wc->m_closed.kind = WM_CLOSED;
	wc->m_closed.after_close = wc->w_close_got;
	w_send(w, &wc->m_closed);
}

static void w_sink_start(struct conn_env *env, void *owner, const char *req,
			 size_t len, struct conn_sink *out)
{
	struct worker *w = container_of(env, struct worker, env);
	struct workers *ws = w->ws;
	struct wconn *wc = owner;

	if (!ws->owner->sink_start)
		return;
	pthread_mutex_lock(&ws->sink_lock);
	ws->owner->sink_start(ws->owner, wc->owner, req, len, out);
	pthread_mutex_unlock(&ws->sink_lock);
}

/* A result for a request that never reached a conn. */
static void w_refuse(struct worker *w, struct wconn *wc, enum rf_err err,
		     bool retry_free, const char *detail)
{
	struct conn_result r = {
		.err = err,
		.retry_free = retry_free,
		.slot = { .home = wc },
		.ip = "",
	};

	snprintf(r.detail, sizeof(r.detail), "%s", detail);
	wc->w_busy = true;
	w->busy++;
	w_done(&w->env, wc, &r);
}

static void w_pause(struct workers *ws)
{
	uint64_t gen;

	pthread_mutex_lock(&ws->pause_lock);
	gen = ws->pause_gen;
	ws->paused++;
	pthread_cond_broadcast(&ws->pause_cond);
	while (ws->pausing && ws->pause_gen == gen)
		pthread_cond_wait(&ws->pause_cond, &ws->pause_lock);
	pthread_mutex_unlock(&ws->pause_lock);
}

static void w_call(struct worker *w, struct wcall *k)
{
	struct wconn *wc = k->wc;

	switch (k->kind) {
	case CALL_ABORT:
		if (wc->w_busy && wc->real)
			conn_abort(wc->real, k->err, k->detail);
		break;
	case CALL_DETACH:
		if (wc->w_busy && wc->real) {
			struct slot sl;

			wc->w_busy = false;
			w->busy--;
			k->detached = true;
			conn_detach(wc->real, &sl, &k->sink);
		}
		break;
	case CALL_PAUSE:
		break;
	}
	/* what the call produced (a result) goes before the answer */
	w_flush(w);
	if (k->kind == CALL_PAUSE) {
		sem_post(&k->done);
		w_pause(w->ws);
		return;
	}
	sem_post(&k->done);
}

static void w_handle(struct worker *w, struct wmsg *m)
{
	struct wconn *wc = m->wc;
	struct slot token = { .home = wc };

	switch (m->kind) {
	case WM_OPEN:
		wc->w_busy = true;
		w->busy++;
		if (conn_open(&w->env, &wc->req, token, wc, &wc->real) < 0) {
			wc->w_busy = false;
			w->busy--;
			wc->real = NULL;
			w_refuse(w, wc, RF_CONNECT, false, "out of memory");
			wc->m_closed.kind = WM_CLOSED;
			wc->m_closed.after_close = false;
			w_send(w, &wc->m_closed);
		}
		break;
	case WM_REUSE:
		if (!wc->real) {
			/* closed by the peer while the owner took it */
			w_refuse(w, wc, RF_RESET, true,
				 "the pooled connection was closed");
			break;
		}
		wc->w_busy = true;
		w->busy++;
		conn_reuse(wc->real, &wc->req, token);
		break;
	case WM_CLOSE:
		wc->w_close_got = true;
		if (wc->real && !wc->w_busy) {
			conn_close_idle(wc->real);	/* WM_CLOSED answers */
		} else {
			wc->m_ack.kind = WM_CLOSE_ACK;
			w_send(w, &wc->m_ack);
		}
		break;
	case WM_CALL:
		w_call(w, container_of(m, struct wcall, m));
		break;
	case WM_STOP:
		w->loop.stop = true;
		break;
	default:
		break;
	}
}

static void w_arm(struct worker *w);

static void w_on_bell(struct io_op *op, int res, unsigned flags)
{
	struct worker *w = container_of(op, struct worker, op_bell);
	struct wmsg *m, *next;

	(void)res;
	(void)flags;
	for (m = take_all(&w->inbox); m; m = next) {
		next = m->next;		/* m may be reused once handled */
		w_handle(w, m);
	}
	if (!w->loop.stop)
		w_arm(w);
}

static void w_arm(struct worker *w)
{
	io_uring_prep_read(loop_sqe(&w->loop, &w->op_bell), w->efd,
			   &w->bell, sizeof(w->bell), 0);
}

/* The resolver's counters, for the owner's metrics. */
static void publish_dns(struct worker *w)
{
	const struct dns_stats *d = dns_stats(w->dns);
	const uint64_t v[6] = { d->lookups, d->literals, d->cache_hits,
				d->queries, d->failures, d->cache_entries };

	for (int i = 0; i < 6; i++)
		atomic_store_explicit(&w->dns_pub[i], v[i], memory_order_relaxed);
}

static void w_hook(struct loop_hook *h)
{
	struct worker *w = container_of(h, struct worker, hook);

	w->loop.batch_nr = w->busy >= 16 ? w->busy / 4 : 1;
	if (w->loop.batch_nr > 32)
		w->loop.batch_nr = 32;
	if (w->loop.bufs_on)
		atomic_store_explicit(&w->enobufs, w->loop.bufs.enobufs,
				      memory_order_relaxed);
	publish_dns(w);
	w_flush(w);
}

static void *w_main(void *arg)
{
	struct worker *w = arg;
	struct workers *ws = w->ws;
	int rc;

	/* The ring is made here: its submitter must be this thread. */
	rc = loop_init(&w->loop, WORKER_RING_ENTRIES, w->init_err,
		       sizeof(w->init_err));
	if (rc < 0)
		goto fail;
	loop_bufs_init(&w->loop, CONN_RBUF, CONN_POOL_BYTES);
	w->dns = dns_new(&w->loop, ws->owner->cfg, w->init_err,
			 sizeof(w->init_err));
	if (!w->dns) {
		rc = -EINVAL;
		loop_fini(&w->loop);
		goto fail;
	}
	w->env = (struct conn_env){
		.loop = &w->loop,
		.cfg = ws->owner->cfg,
		.dns = w->dns,
		.guard = ws->owner->guard,
		.counters = &w->counters,
		.proxy = ws->owner->proxy,
		/* the conns kept for reuse, shared out */
		.spare_cap = ws->owner->cfg->limits.concurrency / ws->n + 1,
		.done = w_done,
		.idle_closing = w_idle_closing,
		.closed = w_closed,
		.sink_start = w_sink_start,
	};
	w->hook.fn = w_hook;
	loop_add_flusher(&w->loop, &w->hook);
	w->op_bell.done = w_on_bell;
	w_arm(w);
	w->init_rc = 0;
	sem_post(&w->ready);
	rc = loop_run(&w->loop);
	if (rc < 0)
		log_error("worker %u: event loop failed: %s", w->id,
			  rf_strerror(-rc));
	w_flush(w);
	conn_env_fini(&w->env);
	dns_free(w->dns);
	loop_remove_flusher(&w->loop, &w->hook);
	/* what dns_free() cancelled (its poll) completes before the ring
	 * goes, as the engine's own settle() does */
	for (int i = 0; i < 4; i++)
		loop_run_once(&w->loop);
	loop_fini(&w->loop);
	tls_thread_fini();
	return NULL;
fail:
	w->init_rc = rc;
	sem_post(&w->ready);
	return NULL;
}

/* ---- the owner's side ---- */

static void o_send(struct worker *w, struct wmsg *m)
{
	m->next = w->pend;
	w->pend = m;
	if (!w->pend_last)
		w->pend_last = m;
}

static void o_flush_one(struct worker *w)
{
	struct wmsg *first = w->pend, *last = w->pend_last;

	if (!first)
		return;
	w->pend = w->pend_last = NULL;
	if (push_chain(&w->inbox, first, last))
		ring_now(w->efd);
}

static void o_hook(struct loop_hook *h)
{
	struct workers *ws = container_of(h, struct workers, hook);

	for (unsigned i = 0; i < ws->n; i++)
		o_flush_one(&ws->w[i]);
	/* an abort or detach took results out of turn: what it left in
	 * the backlog is handled on the next turn's bell */
	if (ws->backlog)
		ring_now(ws->efd);
}

/* Call k on worker w and wait for its answer. */
static void o_call(struct worker *w, struct wcall *k)
{
	sem_init(&k->done, 0, 0);
	k->m.kind = WM_CALL;
	k->m.wc = NULL;
	o_send(w, &k->m);
	o_flush_one(w);
	while (sem_wait(&k->done) < 0 && errno == EINTR)
		;
	sem_destroy(&k->done);
}

static void o_close(struct wconn *wc)
{
	wc->close_sent = true;
	wc->m_req.kind = WM_CLOSE;
	o_send(wc->w, &wc->m_req);
}

static void o_free(struct wconn *wc)
{
	struct workers *ws = wc->ws;

	ws->owner->counters->open--;
	wc->w->n_conns--;
	ws->owner->closed(ws->owner, &wc->c);
	free(wc);
}

/* Hand wc's close, which came while a reply of ours was due, back to the
 * backlog: it is handled after what runs now, as conn.c's own closes
 * come after the call that caused them (the owner may free what c's
 * home is once it hears of the close). */
static void o_closed_later(struct workers *ws, struct wconn *wc)
{
	struct wmsg *m = &wc->m_closed;

	wc->closed_seen = false;
	wc->close_sent = false;
	m->kind = WM_CLOSED;
	m->after_close = true;
	m->next = NULL;
	if (ws->backlog_last)
		ws->backlog_last->next = m;
	else
		ws->backlog = m;
	ws->backlog_last = m;
}

static void o_done(struct workers *ws, struct wconn *wc)
{
	struct conn_env *env = ws->owner;
	struct conn_result *r = &wc->res.r;
	void *owner = wc->owner;
	bool pooled;

	r->conn = &wc->c;
	r->slot.home = NULL;
	if (wc->res.slot_given) {
		r->slot = wc->c.slot;
		wc->c.slot.home = NULL;
	}
	wc->owner = NULL;
	wc->state = WC_CLOSING;
	wc->c.state = CS_CLOSING;
	pooled = env->done(env, owner, r);
	free(wc->res.location);
	wc->res.location = NULL;
	if (wc->closed_seen) {
		o_closed_later(ws, wc);
		return;
	}
	if (!r->reusable)
		return;		/* WM_CLOSED follows */
	if (pooled) {
		wc->state = WC_IDLE;
		wc->c.state = CS_IDLE;
		env->counters->idle++;
		return;
	}
	o_close(wc);
}

static void o_closed(struct workers *ws, struct wconn *wc, bool after_close)
{
	struct conn_env *env = ws->owner;

	if (wc->state == WC_BUSY) {
		/* a reuse crossed the close: its refusal comes next */
		wc->closed_seen = true;
		return;
	}
	if (wc->close_sent && !after_close) {
		/* closed before our WM_CLOSE reached it: wc must outlive
		 * that message, until the worker acknowledges it */
		wc->closed_seen = true;
		return;
	}
	if (wc->state == WC_IDLE) {
		env->counters->idle--;
		env->idle_closing(env, &wc->c);
	}
	o_free(wc);
}

static void o_handle(struct workers *ws, struct wmsg *m)
{
	if (m->kind == WM_DONE)
		o_done(ws, m->wc);
	else if (m->kind == WM_CLOSED)
		o_closed(ws, m->wc, m->after_close);
	else if (m->kind == WM_CLOSE_ACK && m->wc->closed_seen)
		o_free(m->wc);
}

/* Move what the workers sent to the end of the backlog. */
static void o_collect(struct workers *ws)
{
	struct wmsg *m = take_all(&ws->inbox);

	if (!m)
		return;
	if (ws->backlog_last)
		ws->backlog_last->next = m;
	else
		ws->backlog = m;
	while (m->next)
		m = m->next;
	ws->backlog_last = m;
}

static void o_drain(struct workers *ws)
{
	struct wmsg *m;

	o_collect(ws);
	while ((m = ws->backlog) != NULL) {
		ws->backlog = m->next;
		if (!ws->backlog)
			ws->backlog_last = NULL;
		o_handle(ws, m);
	}
}

/* Take wc's result out of the backlog, if it is there. */
static bool o_take_done(struct workers *ws, struct wconn *wc)
{
	struct wmsg **pp, *prev = NULL;

	o_collect(ws);
	for (pp = &ws->backlog; *pp; prev = *pp, pp = &(*pp)->next) {
		if (*pp != &wc->m_done)
			continue;
		*pp = wc->m_done.next;
		if (ws->backlog_last == &wc->m_done)
			ws->backlog_last = prev;
		return true;
	}
	return false;
}

static void o_arm(struct workers *ws);

static void o_on_bell(struct io_op *op, int res, unsigned flags)
{
	struct workers *ws = container_of(op, struct workers, op_bell);

	(void)flags;
	ws->bell_armed = false;
	if (res == -ECANCELED)
		return;
	o_drain(ws);
	o_arm(ws);
}

static void o_arm(struct workers *ws)
{
	io_uring_prep_read(loop_sqe(ws->loop, &ws->op_bell), ws->efd,
			   &ws->bell, sizeof(ws->bell), 0);
	ws->bell_armed = true;
}

static struct worker *o_pick(struct workers *ws)
{
	struct worker *best = &ws->w[0];

	for (unsigned i = 1; i < ws->n; i++)
		if (ws->w[i].n_conns < best->n_conns)
			best = &ws->w[i];
	return best;
}

int workers_open(struct conn_env *env, const struct conn_req *req,
		 struct slot slot, void *home, struct conn **cp)
{
	struct workers *ws = env->workers;
	struct wconn *wc = calloc(1, sizeof(*wc));

	if (!wc)
		return -ENOMEM;
	wc->ws = ws;
	wc->w = o_pick(ws);
	wc->w->n_conns++;
	wc->state = WC_BUSY;
	wc->owner = req->owner;
	wc->req = *req;
	wc->req.owner = wc;
	wc->m_req.wc = wc->m_done.wc = wc->m_closed.wc = wc->m_ack.wc = wc;
	wc->c.fd = -1;
	wc->c.env = env;
	wc->c.home = home;
	wc->c.slot = slot;
	wc->c.state = CS_CONNECT;
	env->counters->open++;
	env->counters->opened++;
	*cp = &wc->c;
	wc->m_req.kind = WM_OPEN;
	o_send(wc->w, &wc->m_req);
	return 0;
}

void workers_reuse(struct conn *c, const struct conn_req *req,
		   struct slot slot)
{
	struct wconn *wc = container_of(c, struct wconn, c);
	struct conn_env *env = wc->ws->owner;

	env->counters->idle--;
	env->counters->reused++;
	wc->state = WC_BUSY;
	wc->c.state = CS_SEND;
	wc->owner = req->owner;
	wc->req = *req;
	wc->req.owner = wc;
	c->slot = slot;
	wc->m_req.kind = WM_REUSE;
	o_send(wc->w, &wc->m_req);
}

void workers_abort(struct conn *c, int err, const char *detail)
{
	struct wconn *wc = container_of(c, struct wconn, c);
	struct workers *ws = wc->ws;
	struct wcall k = {
		.kind = CALL_ABORT, .wc = wc, .err = err, .detail = detail,
	};

	if (wc->state != WC_BUSY)
		return;
	o_call(wc->w, &k);
	/* conn_abort() reports before it returns: so does this */
	if (o_take_done(ws, wc))
		o_done(ws, wc);
}

void workers_detach(struct conn *c, struct slot *slot, void **sink)
{
	struct wconn *wc = container_of(c, struct wconn, c);
	struct workers *ws = wc->ws;
	struct wcall k = { .kind = CALL_DETACH, .wc = wc };

	*slot = (struct slot){ 0 };
	*sink = NULL;
	if (wc->state != WC_BUSY)
		return;
	o_call(wc->w, &k);
	*slot = wc->c.slot;
	wc->c.slot.home = NULL;
	wc->owner = NULL;
	wc->state = WC_CLOSING;
	if (k.detached) {
		*sink = k.sink;
		return;
	}
	/* The result was on its way: it is dropped, as detached. */
	if (!o_take_done(ws, wc))
		return;
	*sink = wc->res.r.sink;
	free(wc->res.location);
	wc->res.location = NULL;
	if (wc->closed_seen) {
		o_closed_later(ws, wc);
		return;
	}
	if (wc->res.r.reusable) {
		o_close(wc);
	}
}

void workers_close_idle(struct conn *c)
{
	struct wconn *wc = container_of(c, struct wconn, c);
	struct conn_env *env = wc->ws->owner;

	if (wc->state != WC_IDLE)
		return;
	/* As conn_close_idle(): out of the pool now, closed when the
	 * worker says so. */
	env->counters->idle--;
	wc->state = WC_CLOSING;
	c->state = CS_CLOSING;
	env->idle_closing(env, c);
	o_close(wc);
}

void workers_pause(struct workers *ws)
{
	pthread_mutex_lock(&ws->pause_lock);
	ws->pausing = true;
	pthread_mutex_unlock(&ws->pause_lock);
	for (unsigned i = 0; i < ws->n; i++) {
		struct wcall k = { .kind = CALL_PAUSE };

		o_call(&ws->w[i], &k);
	}
	pthread_mutex_lock(&ws->pause_lock);
	while (ws->paused < ws->n)
		pthread_cond_wait(&ws->pause_cond, &ws->pause_lock);
	pthread_mutex_unlock(&ws->pause_lock);
}

void workers_resume(struct workers *ws)
{
	pthread_mutex_lock(&ws->pause_lock);
	ws->pausing = false;
	ws->paused = 0;
	ws->pause_gen++;
	pthread_cond_broadcast(&ws->pause_cond);
	pthread_mutex_unlock(&ws->pause_lock);
}

unsigned workers_count(const struct workers *ws)
{
	return ws ? ws->n : 1;
}

uint64_t workers_enobufs(const struct workers *ws)
{
	uint64_t sum = 0;

	for (unsigned i = 0; ws && i < ws->n; i++)
		sum += atomic_load_explicit(&ws->w[i].enobufs,
					    memory_order_relaxed);
	return sum;
}

void workers_dns_stats(const struct workers *ws, struct dns_stats *sum)
{
	uint64_t v[6] = { 0 };

	for (unsigned i = 0; i < ws->n; i++)
		for (int k = 0; k < 6; k++)
			v[k] += atomic_load_explicit(&ws->w[i].dns_pub[k],
						     memory_order_relaxed);
	*sum = (struct dns_stats){
		.lookups = v[0], .literals = v[1], .cache_hits = v[2],
		.queries = v[3], .failures = v[4], .cache_entries = v[5],
	};
}

int workers_start(struct workers **wsp, unsigned n, struct conn_env *owner,
		  char *err, size_t errlen)
{
	struct workers *ws = calloc(1, sizeof(*ws));
	sigset_t all, mask;
	unsigned i;
	int rc;

	*wsp = NULL;
	if (!ws || !(ws->w = calloc(n, sizeof(*ws->w)))) {
		free(ws);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	ws->n = n;
	ws->owner = owner;
	ws->efd = -1;
	for (i = 0; i < n; i++)
		ws->w[i].efd = -1;
	ws->loop = owner->loop;
	pthread_mutex_init(&ws->sink_lock, NULL);
	pthread_mutex_init(&ws->pause_lock, NULL);
	pthread_cond_init(&ws->pause_cond, NULL);
	ws->efd = eventfd(0, EFD_CLOEXEC);
	if (ws->efd < 0) {
		rc = -errno;
		snprintf(err, errlen, "eventfd: %s", strerror(errno));
		free(ws->w);
		free(ws);
		return rc;
	}
	for (i = 0; i < n; i++) {
		struct worker *w = &ws->w[i];

		w->ws = ws;
		w->id = i;
		w->efd = eventfd(0, EFD_CLOEXEC);
		sem_init(&w->ready, 0, 0);
		if (w->efd < 0) {
			rc = -errno;
			snprintf(err, errlen, "eventfd: %s", strerror(errno));
			goto fail;
		}
		/* Signals are the owner's (its signalfd, its SIGINT): a
		 * worker starts with all of them blocked, so none lands on
		 * a thread that would die of it. */
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &mask);
		rc = -pthread_create(&w->thread, NULL, w_main, w);
		pthread_sigmask(SIG_SETMASK, &mask, NULL);
		if (rc < 0) {
			snprintf(err, errlen, "cannot start worker %u: %s", i,
				 strerror(-rc));
			goto fail;
		}
		w->started = true;
		while (sem_wait(&w->ready) < 0 && errno == EINTR)
			;
		if ((rc = w->init_rc) < 0) {
			snprintf(err, errlen, "worker %u: %s", i, w->init_err);
			pthread_join(w->thread, NULL);
			w->started = false;
			goto fail;
		}
	}
	ws->hook.fn = o_hook;
	loop_add_flusher(ws->loop, &ws->hook);
	ws->op_bell.done = o_on_bell;
	o_arm(ws);
	owner->workers = ws;
	*wsp = ws;
	return 0;
fail:
	workers_stop(ws);
	workers_free(ws);
	return rc;
}

void workers_stop(struct workers *ws)
{
	if (!ws)
		return;
	for (unsigned i = 0; i < ws->n; i++) {
		struct worker *w = &ws->w[i];
		struct wmsg stop = { .kind = WM_STOP };

		if (!w->started)
			continue;
		o_flush_one(w);
		o_send(w, &stop);
		o_flush_one(w);
		pthread_join(w->thread, NULL);
		w->started = false;
	}
	/* the last results, sent as the workers closed their conns */
	if (ws->owner && ws->owner->workers == ws) {
		o_drain(ws);
		loop_remove_flusher(ws->loop, &ws->hook);
	}
}

void workers_free(struct workers *ws)
{
	if (!ws)
		return;
	if (ws->owner && ws->owner->workers == ws)
		ws->owner->workers = NULL;
	for (unsigned i = 0; i < ws->n; i++) {
		if (ws->w[i].efd >= 0)
			close(ws->w[i].efd);
		sem_destroy(&ws->w[i].ready);
	}
	if (ws->efd >= 0)
		close(ws->efd);
	pthread_mutex_destroy(&ws->sink_lock);
	pthread_mutex_destroy(&ws->pause_lock);
	pthread_cond_destroy(&ws->pause_cond);
	free(ws->w);
	free(ws);
}
