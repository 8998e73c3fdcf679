/* Worker rings, the owner's side: stand-in conns on the owner's thread
 * for real ones on workers (workers_ring.c). See workers.h for the
 * contract and workers_impl.h for the messages. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>

#include "base/log.h"
#include "net/dns.h"
#include "net/workers_impl.h"

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

static void o_send(struct worker *w, struct wmsg *m)
{
	wbatch_add(&w->pend, m);
}

static void o_flush_one(struct worker *w)
{
	wbatch_send(&w->pend, &w->inbox, w->efd);
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
		rc = -pthread_create(&w->thread, NULL, worker_main, w);
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
