/* Host table: hash of hosts, per-host FIFO of waiting jobs and the ready ring
 * that host_next_job() walks round-robin. */
#include "engine/host.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <assert.h>

#include "engine/job.h"
#include "engine/robots_cache.h"
#include "base/hash.h"
#include "base/log.h"
#include "net/conn.h"
#include "net/tls.h"

static uint32_t host_hash(const char *name, uint16_t port, bool https)
{
	uint32_t h = hash_fnv1a_str(name);

	h = hash_fnv1a_mix(h, port);
	return hash_fnv1a_mix(h, (uint32_t)https);
}

int host_table_init(struct host_table *t, struct loop *l, uint32_t per_host,
		    double rate)
{
	memset(t, 0, sizeof(*t));
	t->loop = l;
	t->rate = rate;
	t->nbuckets = 1024;
	t->buckets = calloc(t->nbuckets, sizeof(*t->buckets));
	t->per_host = per_host;
	list_init(&t->ready);
	return t->buckets ? 0 : -ENOMEM;
}

void host_table_fini(struct host_table *t)
{
	for (uint32_t i = 0; i < t->nbuckets; i++) {
		struct host *h = t->buckets[i];

		while (h) {
			struct host *n = h->hnext;

			loop_timer_cancel(t->loop, &h->rate_timer);
			if (h->robots)
				robots_entry_put(h->robots);
			free(h);
			h = n;
		}
	}
	free(t->buckets);
	memset(t, 0, sizeof(*t));
}

static void grow(struct host_table *t)
{
	uint32_t n = t->nbuckets * 2;
	struct host **b = calloc(n, sizeof(*b));

	if (!b)
		return;		/* longer chains, still correct */
	for (uint32_t i = 0; i < t->nbuckets; i++) {
		struct host *h = t->buckets[i];

		while (h) {
			struct host *next = h->hnext;
			uint32_t k = host_hash(h->name, h->port, h->https) & (n - 1);

			h->hnext = b[k];
			b[k] = h;
			h = next;
		}
	}
	free(t->buckets);
	t->buckets = b;
	t->nbuckets = n;
}

struct host *host_find(const struct host_table *t, const struct url *u)
{
	uint32_t k = host_hash(u->host, u->port, u->https) & (t->nbuckets - 1);

	for (struct host *h = t->buckets[k]; h; h = h->hnext)
		if (h->port == u->port && h->https == u->https &&
		    strcmp(h->name, u->host) == 0)
			return h;
	return NULL;
}

struct host *host_get(struct host_table *t, const struct url *u)
{
	uint32_t k = host_hash(u->host, u->port, u->https) & (t->nbuckets - 1);
	struct host *h;

	for (h = t->buckets[k]; h; h = h->hnext) {
		if (h->port == u->port && h->https == u->https &&
		    strcmp(h->name, u->host) == 0) {
			h->refs++;
			return h;
		}
	}
	h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	memcpy(h->name, u->host, sizeof(h->name));
	h->port = u->port;
	h->https = u->https;
	h->refs = 1;
	h->table = t;
	list_init(&h->queue);
	list_init(&h->idle);
	adapt_init(&h->adapt, t->per_host);
	h->tokens = 1;		/* the first request goes at once */
	h->tokens_ms = loop_now_ms(t->loop);
	h->hnext = t->buckets[k];
	t->buckets[k] = h;
	if (++t->count > t->nbuckets)
		grow(t);
	return h;
}

static void ready_remove(struct host *h)
{
	if (list_linked(&h->rnode))
		list_remove(&h->rnode);
}

/* Join the ring at its tail: served after every host already in it. */
static void ready_add(struct host_table *t, struct host *h)
{
	if (!list_linked(&h->rnode))
		list_push_back(&t->ready, &h->rnode);
}

uint32_t host_cap(const struct host_table *t, const struct host *h)
{
	return t->adaptive ? adapt_limit(&h->adapt, t->per_host) : t->per_host;
}

void host_observe(struct host_table *t, struct host *h, int status,
		  uint64_t ttfb_ms)
{
	uint32_t was, now;

	if (!t->adaptive)
		return;
	was = adapt_limit(&h->adapt, t->per_host);
	switch (adapt_observe(&h->adapt, t->per_host, status, ttfb_ms,
			      loop_now_ms(t->loop))) {
	case ADAPT_CUT:
		t->adapt_cuts++;
		now = adapt_limit(&h->adapt, t->per_host);
		if (status == 429 || status == 503)
			log_info("%s:%u answered %d: now up to %u request%s "
				 "at once (limits.adaptive)", h->name, h->port,
				 status, now, now == 1 ? "" : "s");
		else
			log_info("%s:%u slows down (first byte after %.0f ms, "
				 "was %.0f ms): now up to %u request%s at once "
				 "(limits.adaptive)", h->name, h->port,
				 h->adapt.lat_ms, h->adapt.base_ms, now,
				 now == 1 ? "" : "s");
		host_update_ready(t, h);
		break;
	case ADAPT_GREW:
		if (adapt_limit(&h->adapt, t->per_host) != was)
			host_update_ready(t, h);
		break;
	case ADAPT_SAME:
		break;
	}
}

void host_update_ready(struct host_table *t, struct host *h)
{
	if (host_has_queued(h) && h->active < host_cap(t, h) &&
	    !h->rate_wait && !h->tls_probe &&
	    (!h->robots_wait || h->robots_job))
		ready_add(t, h);
	else
		ready_remove(h);
}

void host_put(struct host_table *t, struct host *h)
{
	uint32_t k;
	struct host **pp;

	assert(h->refs > 0);
	if (--h->refs || h->n_conns || host_has_queued(h))
		return;
	assert(h->active == 0 && list_empty(&h->idle));
	ready_remove(h);
	loop_timer_cancel(t->loop, &h->rate_timer);
	if (h->robots)
		robots_entry_put(h->robots);
	k = host_hash(h->name, h->port, h->https) & (t->nbuckets - 1);
	for (pp = &t->buckets[k]; *pp; pp = &(*pp)->hnext) {
		if (*pp == h) {
			*pp = h->hnext;
			break;
		}
	}
	t->count--;
	free(h);
}

void host_enqueue(struct host_table *t, struct host *h, struct job *j,
		  bool front)
{
	if (front)
		list_push_front(&h->queue, &j->qnode);
	else
		list_push_back(&h->queue, &j->qnode);
	h->q_len++;
	host_update_ready(t, h);
}

void host_unqueue(struct host_table *t, struct host *h, struct job *j)
{
	assert(list_linked(&j->qnode));
	list_remove(&j->qnode);
	h->q_len--;
	if (h->robots_job == j)
		h->robots_job = NULL;
	host_update_ready(t, h);
}

static void on_token(struct timer *tm)
{
	struct host *h = container_of(tm, struct host, rate_timer);

	h->rate_wait = false;
	host_update_ready(h->table, h);
}

/* When h may start again under its Crawl-delay (0: now). One ms more
 * than the delay: the cached clock is truncated to ms and lags the real
 * start a little, and the site asked for at least the delay. */
static uint64_t delay_until(const struct host *h)
{
	return h->delay_ms && h->last_start_ms ?
	       h->last_start_ms + h->delay_ms + 1 : 0;
}

/* Keep h out of the ready ring until at_ms, when on_token() lets it in. */
static void wait_until(struct host_table *t, struct host *h, uint64_t at_ms)
{
	h->rate_wait = true;
	loop_timer_arm(t->loop, &h->rate_timer, at_ms, on_token);
	host_update_ready(t, h);
}

/* Take one start token from h's bucket (capacity 1: starts are spaced
 * 1/rate apart, the politest reading of a rate), once h's Crawl-delay
 * since its last start has passed: the slower of the two wins. False when
 * h must wait; it then waits out of the ready ring until on_token(). */
static bool take_token(struct host_table *t, struct host *h)
{
	uint64_t now = loop_now_ms(t->loop), until = delay_until(h);

	if (now < until) {
		wait_until(t, h, until);
		return false;
	}
	if (t->rate > 0) {
		h->tokens += (double)(now - h->tokens_ms) * t->rate / 1000.0;
		if (h->tokens > 1)
			h->tokens = 1;
		h->tokens_ms = now;
		if (h->tokens < 1) {
			wait_until(t, h, now + (uint64_t)((1 - h->tokens) *
							  1000.0 / t->rate) + 1);
			return false;
		}
		h->tokens -= 1;
	}
	h->prev_start_ms = h->last_start_ms;
	h->last_start_ms = now;
	return true;
}

struct job *host_next_job(struct host_table *t)
{
	struct list_node *n;
	struct host *h;
	struct job *j;

	for (;;) {
		n = list_first(&t->ready);
		if (!n)
			return NULL;
		h = list_entry(n, struct host, rnode);
		if (take_token(t, h))
			break;
	}
	/* the robots.txt fetch goes first, wherever it queued */
	j = h->robots_job ? h->robots_job :
	    list_entry(list_first(&h->queue), struct job, qnode);
	h->robots_job = NULL;
	list_remove(&j->qnode);
	h->q_len--;
	h->active++;
	/* To the ring's tail, so the next pick comes from another host. */
	ready_remove(h);
	host_update_ready(t, h);
	return j;
}

void host_release(struct host_table *t, struct host *h)
{
	assert(h->active > 0);
	h->active--;
	host_update_ready(t, h);
}

void host_unstart(struct host_table *t, struct host *h)
{
	if (t->rate > 0) {
		h->tokens += 1;
		if (h->tokens > 1)
			h->tokens = 1;
	}
	h->last_start_ms = h->prev_start_ms;
	host_release(t, h);
}

void host_robots_wait(struct host_table *t, struct host *h, struct job *fetch)
{
	assert(list_linked(&fetch->qnode));
	h->robots_wait = true;
	h->robots_job = fetch;
	host_update_ready(t, h);
}

void host_robots_done(struct host_table *t, struct host *h)
{
	h->robots_wait = false;
	h->robots_job = NULL;
	host_update_ready(t, h);
}

void host_conn_opened(struct host *h)
{
	h->refs++;
	h->n_conns++;
}

void host_conn_closed(struct host_table *t, struct host *h)
{
	assert(h->n_conns > 0);
	h->n_conns--;
	host_put(t, h);
}

void host_pool_put(struct host *h, struct conn *c)
{
	assert(!list_linked(&c->pool_node));
	list_push_front(&h->idle, &c->pool_node);
	h->n_idle++;
}

struct conn *host_pool_take(struct host *h)
{
	struct list_node *n = list_first(&h->idle);

	if (!n)
		return NULL;
	list_remove(n);
	h->n_idle--;
	return list_entry(n, struct conn, pool_node);
}

void host_pool_remove(struct host *h, struct conn *c)
{
	if (!list_linked(&c->pool_node))
		return;
	list_remove(&c->pool_node);
	h->n_idle--;
}

void host_probe_start(struct host_table *t, struct host *h)
{
	h->tls_probe = true;
	host_update_ready(t, h);
}

void host_probe_end(struct host_table *t, struct host *h)
{
	h->tls_probe = false;
	/* A server that gave no session will not give the next conn one
	 * either: stop serialising its handshakes. */
	if (!tls_session_known(h->name, h->port))
		h->tls_no_resume = true;
	host_update_ready(t, h);
}

static struct host *first_from(const struct host_table *t, uint32_t i)
{
	for (; i < t->nbuckets; i++)
		if (t->buckets[i])
			return t->buckets[i];
	return NULL;
}

struct host *host_first(const struct host_table *t)
{
	return first_from(t, 0);
}

struct host *host_next(const struct host_table *t, const struct host *h)
{
	if (h->hnext)
		return h->hnext;
	return first_from(t, (host_hash(h->name, h->port, h->https) &
			      (t->nbuckets - 1)) + 1);
}
