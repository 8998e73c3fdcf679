/* A worker ring's thread: it runs the conns the owner opens on it with
 * conn.c's calls on its own loop, and hands each result back copied, so
 * nothing of the worker's is read by the owner afterwards. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "config/config.h"
#include "net/dns.h"
#include "net/tls.h"
#include "net/workers_impl.h"

static void w_send(struct worker *w, struct wmsg *m)
{
	wbatch_add(&w->out, m);
}

/* Hand this turn's results to the owner. */
static void w_flush(struct worker *w)
{
	wbatch_send(&w->out, &w->ws->inbox, w->ws->efd);
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

void *worker_main(void *arg)
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
