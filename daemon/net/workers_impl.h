/* Worker rings' insides, shared by the owner's side (workers.c) and the
 * worker threads' (workers_ring.c); not for other modules: their contract
 * is workers.h.
 *
 * Each stand-in (struct wconn) carries the messages of its connection
 * embedded in it: at most one request to the worker (open, reuse, close)
 * and one result and one close notice back are ever outstanding, because
 * the owner sends the next request only after the result of the last came
 * back. So sending costs no allocation. Fields are split by thread: those
 * marked [W] are the worker's, the rest the owner's; a message handed over
 * through a queue orders everything written before it. */
#ifndef RF_WORKERS_IMPL_H
#define RF_WORKERS_IMPL_H

#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <unistd.h>

#include "event/loop.h"
#include "net/conn.h"
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

/* One side's messages of a turn for one queue, newest first: they leave
 * together at the turn's end (wbatch_send). */
struct wbatch {
	struct wmsg *first, *last;	/* last: the oldest */
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
	struct wbatch out;		/* [W] this turn's results */
	struct loop_hook hook;		/* [W] */
	uint32_t busy;			/* [W] requests running */
	_Atomic uint64_t enobufs;	/* copy of loop.bufs.enobufs */
	_Atomic uint64_t dns_pub[6];	/* copy of dns_stats(dns), in order */
	/* the owner's */
	struct wbatch pend;		/* this turn's requests */
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

/* ---- queues ---- */

/* Push the chain first..last (newest first, linked through next) onto
 * q. Returns whether q was empty: the consumer must then be rung. */
static inline bool push_chain(_Atomic(struct wmsg *) *q, struct wmsg *first,
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
static inline struct wmsg *take_all(_Atomic(struct wmsg *) *q)
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
static inline void ring_now(int efd)
{
	ssize_t n;

	do
		n = write(efd, &(const uint64_t){ 1 }, sizeof(uint64_t));
	while (n < 0 && errno == EINTR);
}

static inline void wbatch_add(struct wbatch *b, struct wmsg *m)
{
	m->next = b->first;
	b->first = m;
	if (!b->last)
		b->last = m;
}

/* Push b onto q, ringing efd when q was empty. */
static inline void wbatch_send(struct wbatch *b, _Atomic(struct wmsg *) *q,
			       int efd)
{
	if (!b->first)
		return;
	if (push_chain(q, b->first, b->last))
		ring_now(efd);
	b->first = b->last = NULL;
}

/* workers_ring.c: a worker thread's body (pthread_create's start). */
void *worker_main(void *arg);

#endif
