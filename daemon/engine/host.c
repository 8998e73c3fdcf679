/* Host table: hash of hosts, per-host FIFO of waiting jobs and the ready ring
 * that host_next_job() walks round-robin. */
#include "engine/host.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "engine/job.h"
#include "base/log.h"

static uint32_t host_hash(const char *name, uint16_t port, bool https)
{
	uint32_t h = 2166136261u;	/* FNV-1a */

	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = (h ^ *p) * 16777619u;
	h = (h ^ port) * 16777619u;
	return (h ^ (uint32_t)https) * 16777619u;
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
	return t->buckets ? 0 : -ENOMEM;
}

void host_table_fini(struct host_table *t)
{
	for (uint32_t i = 0; i < t->nbuckets; i++) {
		struct host *h = t->buckets[i];

		while (h) {
			struct host *n = h->hnext;

			loop_timer_cancel(t->loop, &h->rate_timer);
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
	adapt_init(&h->adapt, t->per_host);
	h->tokens = 1;		/* the first request goes at once */
	h->tokens_ms = loop_now_ms(t->loop);
	h->hnext = t->buckets[k];
	t->buckets[k] = h;
	if (++t->count > t->nbuckets)
		grow(t);
	return h;
}

static void ready_remove(struct host_table *t, struct host *h)
{
	if (!h->rnext)
		return;
	if (h->rnext == h) {
		t->ready = NULL;
	} else {
		h->rprev->rnext = h->rnext;
		h->rnext->rprev = h->rprev;
		if (t->ready == h)
			t->ready = h->rnext;
	}
	h->rnext = h->rprev = NULL;
}

/* Insert at the tail of the ring, i.e. just before the head. */
static void ready_add(struct host_table *t, struct host *h)
{
	if (h->rnext)
		return;
	if (!t->ready) {
		h->rnext = h->rprev = h;
		t->ready = h;
		return;
	}
	h->rnext = t->ready;
	h->rprev = t->ready->rprev;
	t->ready->rprev->rnext = h;
	t->ready->rprev = h;
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
	if (h->q_head && h->active < host_cap(t, h) && !h->rate_wait &&
	    !h->tls_probe)
		ready_add(t, h);
	else
		ready_remove(t, h);
}

void host_put(struct host_table *t, struct host *h)
{
	uint32_t k;
	struct host **pp;

	if (--h->refs || h->n_conns || h->q_head)
		return;
	ready_remove(t, h);
	loop_timer_cancel(t->loop, &h->rate_timer);
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
	j->next = NULL;
	if (!h->q_head) {
		h->q_head = h->q_tail = j;
	} else if (front) {
		j->next = h->q_head;
		h->q_head = j;
	} else {
		h->q_tail->next = j;
		h->q_tail = j;
	}
	h->q_len++;
	host_update_ready(t, h);
}

void host_unqueue(struct host_table *t, struct host *h, struct job *j)
{
	struct job **pp, *prev = NULL;

	for (pp = &h->q_head; *pp; prev = *pp, pp = &(*pp)->next) {
		if (*pp != j)
			continue;
		*pp = j->next;
		if (h->q_tail == j)
			h->q_tail = prev;
		h->q_len--;
		j->next = NULL;
		break;
	}
	host_update_ready(t, h);
}

static void on_token(struct timer *tm)
{
	struct host *h = container_of(tm, struct host, rate_timer);

	h->rate_wait = false;
	host_update_ready(h->table, h);
}

/* Take one start token from h's bucket (capacity 1: starts are spaced
 * 1/rate apart, the politest reading of a rate). False when none is left;
 * h then waits out of the ready ring until on_token(). */
static bool take_token(struct host_table *t, struct host *h)
{
	uint64_t now = loop_now_ms(t->loop);
	double wait_ms;

	if (t->rate <= 0)
		return true;
	h->tokens += (double)(now - h->tokens_ms) * t->rate / 1000.0;
	if (h->tokens > 1)
		h->tokens = 1;
	h->tokens_ms = now;
	if (h->tokens >= 1) {
		h->tokens -= 1;
		return true;
	}
	wait_ms = (1 - h->tokens) * 1000.0 / t->rate;
	h->rate_wait = true;
	loop_timer_arm(t->loop, &h->rate_timer, now + (uint64_t)wait_ms + 1,
		       on_token);
	host_update_ready(t, h);
	return false;
}

struct job *host_next_job(struct host_table *t)
{
	struct host *h;
	struct job *j;

	for (;;) {
		h = t->ready;
		if (!h)
			return NULL;
		if (take_token(t, h))
			break;
	}
	j = h->q_head;
	h->q_head = j->next;
	if (!h->q_head)
		h->q_tail = NULL;
	h->q_len--;
	j->next = NULL;
	h->active++;
	/* Advance the ring so the next pick comes from another host. */
	t->ready = h->rnext;
	host_update_ready(t, h);
	return j;
}

void host_release(struct host_table *t, struct host *h)
{
	h->active--;
	host_update_ready(t, h);
}
